"""Reading JSON Lines (and other UTF-8 text) files: errors name the file and line, never a bare codec error."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

__all__ = ["read_jsonl", "read_utf8"]


def read_jsonl(
    path: str | Path, on_torn_tail: Callable[[str], None] | None = None
) -> Iterator[tuple[str, dict[str, Any]]]:
    """``(where, object)`` per non-blank line, ``where`` = ``"<path>:<line>"``; ``ValueError`` names it.

    ``on_torn_tail``: for append-only logs, a last line without its newline that is not JSON (a write interrupted
    by a crash) is passed over and reported to this callback (``where``) instead of raising.
    """
    path = Path(path)
    text = read_utf8(path).removeprefix("\ufeff")  # a byte-order mark is not part of the first line
    lines = text.split("\n")
    for number, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        where = f"{path}:{number}"
        try:
            record = json.loads(line)
        except json.JSONDecodeError as error:
            if on_torn_tail is not None and number == len(lines) and not text.endswith("\n"):
                on_torn_tail(where)
                return
            raise ValueError(f"{where}: not a JSON object ({error.msg})") from None
        if not isinstance(record, dict):
            raise ValueError(f"{where}: expected a JSON object, got {type(record).__name__}")
        yield where, record


def read_utf8(path: str | Path) -> str:
    """The text of a UTF-8 file; ``ValueError`` naming the file, line and byte when it is not UTF-8."""
    path = Path(path)
    data = path.read_bytes()
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as error:
        line_start = data.rfind(b"\n", 0, error.start) + 1
        number = data.count(b"\n", 0, error.start) + 1
        where = f"{path}:{number}"
        raise _not_utf8(where, data[line_start:], error, error.start - line_start) from None


def _not_utf8(where: str, line: bytes, error: UnicodeDecodeError, column: int | None = None) -> ValueError:
    """The one-line error of a line that is not UTF-8 (the bad byte and its column)."""
    column = error.start if column is None else column
    return ValueError(
        f"{where}: not UTF-8 text (byte 0x{line[column]:02x} at column {column + 1}); save it as UTF-8"
    )
