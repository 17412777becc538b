"""The GoEmotions release files as verifier text data (the paper's verifier label space, 28 labels).

Two layouts are read:

* the release TSV (``data/train.tsv``, ``dev.tsv``, ``test.tsv``): no header, ``text<TAB>label ids<TAB>id`` with
  the ids comma-separated (``"2,11"``); a folder holding the three files is read per split (``val`` reads
  ``dev.tsv``);
* the raw CSV (``goemotions_1.csv`` …): a header with ``text``, ``id``, ``example_very_unclear`` and one 0/1 column
  per label name; every rater's row is one example, rows marked very unclear or with no label are skipped.

Labels are GoEmotions names (:data:`ervlight.labels.GOEMOTIONS`); another label space receives them through its
normaliser (a dataset space accepts only the names it knows, e.g. ``anger`` for MAFW).
"""

from __future__ import annotations

import csv
from pathlib import Path

from ervlight.data.text_sources import TextExample
from ervlight.labels import GOEMOTIONS, get_label_space

__all__ = ["read_goemotions", "read_goemotions_csv", "read_goemotions_tsv"]

_SPLIT_FILES = {"train": "train.tsv", "val": "dev.tsv", "test": "test.tsv"}
_TRUE = frozenset({"1", "true", "True", "TRUE"})


def _carry(names: list[str], label_space: str, where: str) -> tuple[str, ...]:
    """GoEmotions names in ``label_space`` (itself when it is GoEmotions); ``ValueError`` naming ``where``."""
    space = get_label_space(label_space)
    if space is GOEMOTIONS:
        return tuple(names)
    carried = [space.normalize(name) for name in names]
    missing = [name for name, label in zip(names, carried, strict=True) if label is None]
    if missing:
        raise ValueError(f"{where}: GoEmotions labels {missing} have no counterpart in {space.name}")
    return tuple(dict.fromkeys(c for c in carried if c is not None))


def read_goemotions_tsv(
    path: str | Path, label_space: str = "goemotions", split: str | None = None
) -> list[TextExample]:
    """Rows of one release TSV file (``text<TAB>ids<TAB>id``); ``ValueError`` naming the line on a bad row."""
    path = Path(path)
    examples = []
    with path.open(newline="", encoding="utf-8") as handle:
        for number, row in enumerate(csv.reader(handle, delimiter="\t", quoting=csv.QUOTE_NONE), start=1):
            where = f"{path}:{number}"
            if len(row) != 3:
                raise ValueError(
                    f"{where}: expected text, label ids and id (3 tab-separated fields), got {len(row)}"
                )
            text, ids, _ = row
            try:
                names = [GOEMOTIONS.from_official_id(part) for part in ids.split(",")]
            except (KeyError, ValueError):
                raise ValueError(f"{where}: label ids {ids!r} are not GoEmotions ids 0..27") from None
            if text.strip():
                examples.append(
                    TextExample(text.strip(), _carry(names, label_space, where), where, split=split)
                )
    return examples


def read_goemotions_csv(path: str | Path, label_space: str = "goemotions") -> list[TextExample]:
    """Rater rows of a raw GoEmotions CSV; ``ValueError`` naming the file when a label column is missing."""
    path = Path(path)
    examples = []
    with path.open(newline="", encoding="utf-8") as handle:
        reader = csv.DictReader(handle)
        absent = [name for name in ("text", *GOEMOTIONS.labels) if name not in (reader.fieldnames or [])]
        if absent:
            raise ValueError(f"{path}: not a raw GoEmotions CSV, missing columns {absent}")
        for number, row in enumerate(reader, start=2):
            if row.get("example_very_unclear") in _TRUE:
                continue
            names = [name for name in GOEMOTIONS.labels if row[name] in _TRUE]
            text = (row["text"] or "").strip()
            if names and text:
                where = f"{path}:{number}"
                examples.append(TextExample(text, _carry(names, label_space, where), where))
    return examples


def read_goemotions(
    path: str | Path, label_space: str = "goemotions", split: str | None = None
) -> list[TextExample]:
    """A GoEmotions folder (the split's TSV), TSV file or raw CSV file; ``FileNotFoundError`` names what is missing."""
    path = Path(path)
    if path.is_dir():
        name = _SPLIT_FILES.get(split or "train")
        if name is None:
            raise ValueError(f"GoEmotions splits are train, val (dev.tsv) and test, got {split!r}")
        path = path / name
        if not path.is_file():
            raise FileNotFoundError(f"GoEmotions file {path} does not exist")
        return read_goemotions_tsv(path, label_space, split)
    if not path.is_file():
        raise FileNotFoundError(f"GoEmotions file {path} does not exist")
    if path.suffix.lower() == ".csv":
        return read_goemotions_csv(path, label_space)
    return read_goemotions_tsv(path, label_space, split)
