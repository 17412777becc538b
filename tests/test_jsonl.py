"""The JSON Lines reader: objects with their file:line, blank lines skipped, errors naming the line."""

from __future__ import annotations

from pathlib import Path

import pytest

from ervlight.jsonl import read_jsonl


def test_read_jsonl_yields_objects_with_their_line(tmp_path: Path) -> None:
    path = tmp_path / "a.jsonl"
    path.write_text('{"a": 1}\n\n  \n{"b": [2]}\n', encoding="utf-8")
    assert list(read_jsonl(path)) == [(f"{path}:1", {"a": 1}), (f"{path}:4", {"b": [2]})]


@pytest.mark.parametrize(
    ("line", "message"),
    [
        ("{oops", r"b.jsonl:2: not a JSON object \(Expecting property name"),
        ("[1, 2]", "b.jsonl:2: expected a JSON object, got list"),
    ],
)
def test_read_jsonl_errors_name_the_file_and_line(tmp_path: Path, line: str, message: str) -> None:
    path = tmp_path / "b.jsonl"
    path.write_text('{"a": 1}\n' + line + "\n", encoding="utf-8")
    with pytest.raises(ValueError, match=message):
        list(read_jsonl(path))


def test_a_torn_last_line_is_passed_over_only_when_asked(tmp_path: Path) -> None:
    path = tmp_path / "log.jsonl"
    path.write_text('{"a": 1}\n{"b": ', encoding="utf-8")
    torn: list[str] = []
    assert list(read_jsonl(path, on_torn_tail=torn.append)) == [(f"{path}:1", {"a": 1})]
    assert torn == [f"{path}:2"]
    with pytest.raises(ValueError, match=f"^{path}:2: not a JSON object"):
        list(read_jsonl(path))
    path.write_text('{"a": 1}\n{"b": \n', encoding="utf-8")  # terminated: a real error, not a torn write
    with pytest.raises(ValueError, match=f"^{path}:2: not a JSON object"):
        list(read_jsonl(path, on_torn_tail=torn.append))
