"""What raters rate: one item per (clip, rationale, answer), read from report CSVs or ``ervlight test`` JSONL.

An item's id is a hash of its dataset, fold, clip, rationale and answer, never of the system that wrote it, so the
page cannot reveal which system an item comes from, the same id comes back on every start (resume), and
``ervlight report --ratings`` finds the rating of a prediction from the prediction alone (:func:`item_key`). Two
systems that wrote the same rationale and answer for a clip share one item: the rater judges that text once.
"""

from __future__ import annotations

import csv
import hashlib
import random
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

from ervlight.labels import get_label_space
from ervlight.parsing import parse_completion

__all__ = ["RatingItem", "item_key", "load_items", "rater_order", "system_name"]

#: Columns a report's ``predictions.csv`` must have to be rated.
CSV_COLUMNS = ("clip", "dataset", "fold", "gold", "answer", "rationale")


@dataclass
class RatingItem:
    """One rationale to rate.

    Attributes:
        id: :func:`item_key` of the fields below (12 hex digits).
        dataset: label-space name.
        fold: the fold (``None`` when the predictions name none).
        clip: the clip id in its dataset.
        gold: canonical gold label (never shown to raters).
        answer: the system's answer text.
        rationale: the ``<think>`` text (empty when the completion had none).
        systems: the systems (prediction files) that wrote this item (never shown to raters).
    """

    id: str
    dataset: str
    fold: int | None
    clip: str
    gold: str
    answer: str
    rationale: str
    systems: list[str] = field(default_factory=list)


def item_key(dataset: str, fold: int | None, clip: str, rationale: str, answer: str) -> str:
    """The blind, stable id of an item: 12 hex digits of a SHA-256 of its content (no system name)."""
    text = "\x1f".join([dataset, "" if fold is None else str(fold), clip, rationale, answer])
    return hashlib.sha256(text.encode("utf-8")).hexdigest()[:12]


def system_name(spec: str) -> tuple[str, Path]:
    """``NAME=PATH`` or ``PATH`` (named after its folder: ``reports/erv/predictions.csv`` is ``erv``)."""
    name, _, target = spec.rpartition("=") if "=" in spec else ("", "", spec)
    path = Path(target)
    return name or path.parent.name or path.stem, path


def _fold(text: object, where: str) -> int | None:
    """A fold cell: empty/None is no fold, else an integer."""
    if text is None or str(text).strip() == "":
        return None
    try:
        return int(str(text))
    except ValueError:
        raise ValueError(f"{where}: fold {text!r} is not an integer") from None


def _dataset(name: object, where: str) -> str:
    """The canonical label-space name, ``ValueError`` naming the place for an unknown one."""
    try:
        return str(get_label_space(str(name)).name)
    except (KeyError, ValueError):
        raise ValueError(f"{where}: unknown dataset {name!r}") from None


def _csv_rows(path: Path) -> list[tuple[str, str, int | None, str, str, str]]:
    """(dataset, clip, fold, gold, answer, rationale) of a report's ``predictions.csv``."""
    with path.open(encoding="utf-8", newline="") as handle:
        reader = csv.DictReader(handle)
        missing = [c for c in CSV_COLUMNS if c not in (reader.fieldnames or [])]
        if missing:
            raise ValueError(f"{path}: not a report predictions.csv (missing column(s) {', '.join(missing)})")
        rows = []
        for line, row in enumerate(reader, start=2):
            where = f"{path}:{line}"
            dataset = _dataset(row["dataset"], where)
            rows.append((dataset, row["clip"], _fold(row["fold"], where), row["gold"], row["answer"],
                         row["rationale"]))  # fmt: skip
    return rows


def _jsonl_rows(path: Path) -> list[tuple[str, str, int | None, str, str, str]]:
    """The same from an ``ervlight test`` predictions JSONL (answer and rationale parsed as the report does; clips
    recorded as unreadable are left out)."""
    from ervlight.evaluation.predictions import read_predictions

    rows = []
    for record in read_predictions([path]):
        if record.status != "ok":  # an unreadable clip: no video to show, no rationale to rate
            continue
        parsed = parse_completion(record.completion)
        answer = parsed.answer_or_text(record.completion).strip()
        rows.append((record.dataset, record.clip_id, record.fold, record.gold, answer, parsed.think or ""))
    return rows


def load_items(specs: Sequence[str]) -> list[RatingItem]:
    """Items of prediction files (``[NAME=]PATH``, ``.csv`` or ``.jsonl``), sorted by id; errors name the file."""
    items: dict[str, RatingItem] = {}
    names: set[str] = set()
    for spec in specs:
        name, path = system_name(spec)
        if name in names:
            raise ValueError(f"two prediction files are named {name!r}: name them with NAME=PATH")
        names.add(name)
        if not path.is_file():
            raise FileNotFoundError(f"predictions file {path} does not exist")
        rows = _csv_rows(path) if path.suffix == ".csv" else _jsonl_rows(path)
        for dataset, clip, fold, gold, answer, rationale in rows:
            key = item_key(dataset, fold, clip, rationale, answer)
            item = items.setdefault(key, RatingItem(key, dataset, fold, clip, gold, answer, rationale))
            if name not in item.systems:
                item.systems.append(name)
    if not items:
        raise ValueError(f"no predictions in {', '.join(specs)}")
    return [items[key] for key in sorted(items)]


def rater_order(items: Sequence[RatingItem], seed: int, rater: str) -> list[str]:
    """The item ids in the order one rater sees them: a shuffle seeded by ``seed`` and the rater id."""
    ids = sorted(item.id for item in items)
    random.Random(f"{seed}:{rater}").shuffle(ids)
    return ids
