"""Find the mp4 of each rated clip through the dataset readers (``--clips ROOT``), never from a path in a request.

A root is a DFEW or MAFW tree, or a folder holding ``DFEW/`` and ``MAFW/`` (the demo's ``runs/demo/data``). Only
the official test and train lists of the folds the items name are read; the result maps ``(dataset, clip)`` to a
file, and the server serves nothing else.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from ervlight.data.errors import DataError
from ervlight.data.registry import dataset_kinds, get_dataset_kind, read_source
from ervlight.data.sources import DataSource
from ervlight.rating.items import RatingItem

__all__ = ["find_media"]


def _tree_datasets() -> dict[str, str]:
    """``{kind: folder name in a parent root}`` of the registered datasets with official trees (``dfew: DFEW``)."""
    kinds = (get_dataset_kind(name) for name in dataset_kinds())
    return {kind.name: kind.name.upper() for kind in kinds if kind.official_splits}


def _listing_videos(dataset: str, root: Path, folds: set[int]) -> dict[str, Path]:
    """``{clip: mp4}`` of every list of ``folds`` found under one dataset root (a missing list is skipped)."""
    found: dict[str, Path] = {}
    for fold in sorted(folds):
        for split in ("test", "train"):
            try:
                listing = read_source(DataSource(kind=dataset, root=str(root), split=split, fold=fold))
            except (DataError, OSError, ValueError):
                continue
            for record in listing.records:
                if record.video is not None and record.video.is_file():
                    found.setdefault(record.clip_id, record.video.resolve())
    return found


def find_media(items: Sequence[RatingItem], roots: Sequence[str | Path]) -> dict[tuple[str, str], Path]:
    """``{(dataset, clip): mp4}`` for the items' clips found under ``roots``."""
    media: dict[tuple[str, str], Path] = {}
    wanted = {(item.dataset, item.clip) for item in items}
    trees = _tree_datasets()
    for dataset in sorted({item.dataset for item in items} & set(trees)):
        folds = {item.fold for item in items if item.dataset == dataset and item.fold is not None} or {
            1,
            2,
            3,
            4,
            5,
        }
        for root in map(Path, roots):
            for candidate in (root, root / trees[dataset]):
                for clip, path in _listing_videos(dataset, candidate, folds).items():
                    if (dataset, clip) in wanted:
                        media.setdefault((dataset, clip), path)
    return media
