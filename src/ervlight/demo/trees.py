"""Writers of the official layouts: folds, DFEW split CSVs, MAFW split lists (with GBK captions), EMER JSON.

Layouts follow ``shared/datasets.md`` exactly:

* DFEW — ``DFEW/Clip/original/<00001>.mp4``; ``DFEW/EmoLabel_DataSplit/{train,test}(single-labeled)/set_K.csv``
  with header ``video_name,label``, the unpadded integer id and the official label id 1..7;
* MAFW — ``MAFW/data/clips/<id>.mp4`` with non-contiguous 5-digit ids; ``MAFW/Train & Test Set/single/no_caption/
  set_K/{train,test}.txt`` lines ``00025.mp4 anger``; ``…/single/with_caption/set_K/{train,test}.txt`` lines
  ``00025.mp4<TAB>anger<TAB><zh><TAB><en>`` encoded in GBK, without neutral clips.

Every clip is in exactly one test fold (stratified by class); a fold's train split is all other clips.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from ervlight.labels import get_label_space

__all__ = [
    "DFEW_SPLIT_DIRS",
    "MAFW_SPLIT_DIR",
    "NUM_FOLDS",
    "assign_folds",
    "clip_path",
    "write_dfew_splits",
    "write_json",
    "write_mafw_splits",
]

NUM_FOLDS = 5
#: DFEW split folders (train, test) as loaders expect them.
DFEW_SPLIT_DIRS = ("train(single-labeled)", "test(single-labeled)")
#: MAFW split root.
MAFW_SPLIT_DIR = "Train & Test Set"


def assign_folds(labels: Sequence[str], order: Sequence[str], rng: np.random.Generator) -> list[int]:
    """Test fold (1..5) of each clip, stratified: each class's clips shuffled and dealt round-robin.

    The dealing continues across classes (in ``order``), so fold sizes differ by at most one clip.
    """
    folds = [0] * len(labels)
    dealt = 0
    for label in order:
        members = [i for i, lab in enumerate(labels) if lab == label]
        for i in rng.permutation(len(members)):
            folds[members[int(i)]] = dealt % NUM_FOLDS + 1
            dealt += 1
    return folds


def clip_path(dataset: str, clip_id: str) -> str:
    """Path of a clip relative to the demo root (``DFEW/Clip/original/00001.mp4``, ``MAFW/data/clips/00025.mp4``)."""
    if dataset == "dfew":
        return f"DFEW/Clip/original/{clip_id}.mp4"
    return f"MAFW/data/clips/{clip_id}.mp4"


def _write_text(path: Path, lines: list[str], encoding: str = "utf-8") -> None:
    """Write lines with ``\\n`` endings (and a final newline)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes("".join(line + "\n" for line in lines).encode(encoding))


def _each_fold(
    ids: Sequence[str], folds: Sequence[int], write: Callable[[int, str, list[int]], None]
) -> None:
    """Call ``write(fold, split, clip indices)`` for the train and test split of every fold, ids ascending."""
    order = sorted(range(len(ids)), key=lambda i: int(ids[i]))
    for fold in range(1, NUM_FOLDS + 1):
        write(fold, "train", [i for i in order if folds[i] != fold])
        write(fold, "test", [i for i in order if folds[i] == fold])


def write_dfew_splits(root: Path, ids: Sequence[str], labels: Sequence[str], folds: Sequence[int]) -> None:
    """Write ``EmoLabel_DataSplit/{train,test}(single-labeled)/set_K.csv`` under the DFEW root."""
    space = get_label_space("dfew")

    def write(fold: int, split: str, members: list[int]) -> None:
        folder = DFEW_SPLIT_DIRS[0] if split == "train" else DFEW_SPLIT_DIRS[1]
        rows = [f"{int(ids[i])},{space.official_id(labels[i])}" for i in members]
        _write_text(root / "EmoLabel_DataSplit" / folder / f"set_{fold}.csv", ["video_name,label", *rows])

    _each_fold(ids, folds, write)


def write_mafw_splits(
    root: Path,
    ids: Sequence[str],
    labels: Sequence[str],
    folds: Sequence[int],
    captions: Sequence[tuple[str, str]],
) -> None:
    """Write ``Train & Test Set/single/{no_caption,with_caption}/set_K/{train,test}.txt`` under the MAFW root.

    ``captions`` holds ``(english, chinese)`` per clip; the caption lists skip neutral clips, as the real ones do.
    """
    base = root / MAFW_SPLIT_DIR / "single"

    def write(fold: int, split: str, members: list[int]) -> None:
        plain = [f"{ids[i]}.mp4 {labels[i]}" for i in members]
        _write_text(base / "no_caption" / f"set_{fold}" / f"{split}.txt", plain)
        rich = [
            f"{ids[i]}.mp4\t{labels[i]}\t{captions[i][1]}\t{captions[i][0]}"
            for i in members
            if labels[i] != "neutral"
        ]
        _write_text(base / "with_caption" / f"set_{fold}" / f"{split}.txt", rich, encoding="gbk")

    _each_fold(ids, folds, write)


def write_json(path: Path, data: Any) -> None:
    """Write JSON deterministically (sorted keys are NOT used: field order is part of the format), UTF-8."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(data, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
