"""Reading JSON Lines (and other UTF-8 text) files: errors name the file and line, never a bare codec error."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

__all__ = ["read_jsonl", "read_utf8"]


def read_jsonl(path: str | Path) -> Iterator[tuple[str, dict[str, Any]]]:
    """``(where, object)`` per non-blank line, ``where`` = ``"<path>:<line>"``; ``ValueError`` names it."""
    path = Path(path)
    with path.open("rb") as handle:
        for number, raw in enumerate(handle, start=1):
            where = f"{path}:{number}"
            try:
                line = raw.decode("utf-8-sig" if number == 1 else "utf-8")
            except UnicodeDecodeError as error:
                raise _not_utf8(where, raw, error) from None
            if not line.strip():
                continue
            try:
                record = json.loads(line)
            except json.JSONDecodeError as error:
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
