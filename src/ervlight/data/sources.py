"""A data source as configured in YAML (dataset kind, root, split, fold, view, media); read by its kind's reader."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

__all__ = ["DataSource"]


@dataclass
class DataSource:
    """One dataset split to read (its ``kind`` names a reader of :mod:`ervlight.data.registry`).

    Attributes:
        kind: a registered dataset kind: ``dfew`` or ``mafw`` (official trees), ``r1omni`` or ``emer`` (a JSON
            file; ``emer`` records must carry ``<think>…</think><answer>…</answer>`` targets).
        root: the dataset root folder, or the JSON file.
        split: official kinds: ``train`` or ``test`` (default: chosen by the stage, see ``ERVDataModule``); JSON
            kinds: a name for the records (default: the file's stem).
        fold: official fold 1..5 (default: the DataModule's ``fold``).
        view: MAFW ``single`` (11 classes) or ``compound`` (43 classes).
        captions: MAFW: read the ``with_caption`` lists (English captions on the records).
        media: ``video`` (mp4), or frame folders: DFEW ``frames`` / ``frames_16f``, MAFW ``frames`` / ``faces``.
        media_root: JSON kinds: folder the ``video`` paths are relative to (default: the JSON file's folder).
    """

    kind: str
    root: str
    split: str | None = None
    fold: int | None = None
    view: Literal["single", "compound"] = "single"
    captions: bool = False
    media: str = "video"
    media_root: str | None = None
