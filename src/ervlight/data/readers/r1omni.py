"""R1-Omni / ERV JSON (and EMER-style cold-start JSON): read into records, write any split back out.

A file is a list of records ``{"video": "MAFW/videos/00025.mp4", "conversations": [{"from": "human", "value":
"<video>\\n<audio>\\n…"}, {"from": "gpt", "value": "angry"}]}``. The gold label is read from the answer turn (the
last ``gpt``/``assistant`` turn): a bare word (R1-Omni adjectives or dataset nouns, normalised by the label space)
or an EMER target ``<think>…</think>\\n<answer>anxious</answer>``, which is kept whole as the record's ``target``.
Records rewritten by the reference trainer (``{"video", "problem", "solution": "<answer> angry </answer>"}``) are
read too. The dataset comes from a ``dataset`` field when present, else from the path as the reference decides it
(``"MAFW" in video`` -> ``mafw``, else ``dfew``). Relative video paths are resolved against ``media_root``
(default: the JSON file's folder).
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from ervlight.data.errors import DatasetFormatError
from ervlight.data.records import ClipRecord, InvalidRow, MissingClip, SplitListing
from ervlight.data.registry import DatasetKind, register_dataset
from ervlight.data.sources import DataSource
from ervlight.labels import get_label_space
from ervlight.parsing import extract_answer

__all__ = [
    "R1OMNI_QUESTION",
    "dataset_of_path",
    "read_emer_source",
    "read_r1omni",
    "read_r1omni_source",
    "write_r1omni",
]

#: The fixed human turn of the R1-Omni training files.
R1OMNI_QUESTION = (
    "<video>\n<audio>\nAs an emotional recognition expert; throughout the video, which emotion conveyed by the "
    "characters is the most obvious to you?"
)
_ANSWER_ROLES = ("gpt", "assistant")


def dataset_of_path(video: str) -> str:
    """The reference's dataset rule: ``mafw`` if ``"MAFW"`` is in the video path, else ``dfew``."""
    return "mafw" if "MAFW" in video else "dfew"


def _load(path: Path) -> list[Any]:
    """The JSON list of a file; ``DatasetFormatError`` naming the file (and line) otherwise."""
    try:
        data = json.loads(path.read_bytes())
    except UnicodeDecodeError as error:
        raise DatasetFormatError(path, f"not UTF-8 JSON ({error.reason} at byte {error.start})") from None
    except json.JSONDecodeError as error:
        raise DatasetFormatError(
            f"{path}:{error.lineno}", f"invalid JSON: {error.msg} (column {error.colno})"
        ) from None
    if not isinstance(data, list):
        raise DatasetFormatError(path, f"expected a JSON list of records, got {type(data).__name__}")
    return data


def _answer_text(record: dict[str, Any]) -> str | None:
    """The answer turn's text (last gpt/assistant turn), or the ``solution`` field, or ``None``."""
    turns = record.get("conversations")
    if isinstance(turns, list):
        answers = [t.get("value") for t in turns if isinstance(t, dict) and t.get("from") in _ANSWER_ROLES]
        if answers and isinstance(answers[-1], str):
            return answers[-1]
    solution = record.get("solution")
    return solution if isinstance(solution, str) else None


def _record(item: Any, source: str, media_root: Path, split: str) -> ClipRecord | InvalidRow:
    """One JSON record -> a clip record (media not checked yet) or the reason it is invalid."""
    if not isinstance(item, dict) or not isinstance(item.get("video"), str):
        return InvalidRow(source, "record has no 'video' string")
    video_text: str = item["video"]
    answer_text = _answer_text(item)
    if answer_text is None:
        return InvalidRow(
            source, "record has no answer turn ('conversations' with a gpt turn, or 'solution')"
        )
    target = (
        answer_text.strip()
        if "<answer>" in answer_text.lower() and "<think>" in answer_text.lower()
        else None
    )
    answer = extract_answer(answer_text) if "<answer" in answer_text.lower() else answer_text
    try:
        space = get_label_space(str(item.get("dataset") or dataset_of_path(video_text)))
    except ValueError as error:
        return InvalidRow(source, str(error))
    label = space.normalize(answer)
    if label is None:
        return InvalidRow(source, f"answer {answer!r} is not a {space.name} label")
    video = Path(video_text) if Path(video_text).is_absolute() else media_root / video_text
    audio_text = item.get("audio")
    audio = (media_root / audio_text) if isinstance(audio_text, str) else video
    return ClipRecord(
        clip_id=Path(video_text).stem,
        dataset=str(space.name),
        label=label,
        split=split,
        video=video,
        audio=audio,
        caption=item.get("caption") if isinstance(item.get("caption"), str) else None,
        target=target,
        source=source,
    )


def read_r1omni(
    path: str | Path, media_root: str | Path | None = None, split: str | None = None
) -> SplitListing:
    """Read an R1-Omni or EMER JSON file; ``split`` defaults to the file's stem (``train.json`` -> ``train``)."""
    path = Path(path)
    root = Path(media_root) if media_root is not None else path.parent
    name = split or path.stem
    listing = SplitListing(name=f"r1omni {path.name}")
    for index, item in enumerate(_load(path)):
        entry = _record(item, f"{path}#{index}", root, name)
        if isinstance(entry, InvalidRow):
            listing.invalid.append(entry)
        elif entry.video is not None and not entry.video.is_file():
            listing.missing.append(MissingClip(entry.clip_id, str(entry.video), entry.source, entry))
        else:
            listing.records.append(entry)
    return listing


def _video_field(record: ClipRecord, media_root: Path | None) -> str:
    """The record's mp4 relative to ``media_root`` when it lies below it, else absolute."""
    assert record.video is not None
    video = record.video.resolve()
    if media_root is not None:
        try:
            return video.relative_to(media_root.resolve()).as_posix()
        except ValueError:
            pass
    return str(video)


def write_r1omni(
    records: Iterable[ClipRecord],
    path: str | Path,
    media_root: str | Path | None = None,
    targets: bool = True,
    question: str = R1OMNI_QUESTION,
) -> tuple[int, list[ClipRecord]]:
    """Write records as an R1-Omni JSON list; returns ``(written, skipped)``.

    Labels are written in the R1-Omni vocabulary (``LabelSpace.export(label, "r1omni")``); with ``targets`` a
    record's reasoning target replaces the bare label. Every record carries its ``dataset`` so it reads back
    unambiguously. Video paths are relative to ``media_root`` (default: the output folder) when below it. Records
    without an mp4 (frame folders) or without a label cannot be expressed in the format and are returned as
    skipped.
    """
    path = Path(path)
    root = Path(media_root) if media_root is not None else path.parent
    out: list[dict[str, Any]] = []
    skipped: list[ClipRecord] = []
    for record in records:
        if record.video is None or record.label is None:
            skipped.append(record)
            continue
        answer = get_label_space(record.dataset).export(record.label, "r1omni")
        value = record.target if targets and record.target else answer
        turns = [{"from": "human", "value": question}, {"from": "gpt", "value": value}]
        out.append({"video": _video_field(record, root), "conversations": turns, "dataset": record.dataset})
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_name(f".{path.name}.partial")
    partial.write_text(json.dumps(out, indent=1, ensure_ascii=False) + "\n", encoding="utf-8")
    os.replace(partial, path)
    return len(out), skipped


def read_r1omni_source(source: DataSource, split: str | None, fold: int) -> SplitListing:
    """The registry's reader of ``kind: r1omni`` (``split`` names the records, default the file's stem)."""
    return read_r1omni(source.root, source.media_root, split)


def read_emer_source(source: DataSource, split: str | None, fold: int) -> SplitListing:
    """The registry's reader of ``kind: emer``: R1-Omni JSON whose records must carry reasoning targets."""
    listing = read_r1omni_source(source, split, fold)
    listing.invalid.extend(
        InvalidRow(r.source, "EMER record without a '<think>…</think><answer>…</answer>' target")
        for r in listing.records
        if not r.target
    )
    listing.records = [r for r in listing.records if r.target]
    return listing


_JSON_SPACES = ("dfew", "mafw", "mafw_compound")
register_dataset(DatasetKind("r1omni", read_r1omni_source, _JSON_SPACES, title="R1-Omni"))
register_dataset(DatasetKind("emer", read_emer_source, _JSON_SPACES, title="EMER"))
