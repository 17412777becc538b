"""Reading JSON Lines files: one JSON object per non-blank line, errors naming the file and line."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

__all__ = ["read_jsonl"]


def read_jsonl(
    path: str | Path, on_torn_tail: Callable[[str], None] | None = None
) -> Iterator[tuple[str, dict[str, Any]]]:
    """``(where, object)`` per non-blank line, ``where`` = ``"<path>:<line>"``; ``ValueError`` names it.

    ``on_torn_tail``: for append-only logs, a last line without its newline that is not JSON (a write interrupted
    by a crash) is passed over and reported to this callback (``where``) instead of raising.
    """
    path = Path(path)
    text = path.read_text(encoding="utf-8")
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
