"""A data source as configured in YAML (dataset kind, root, split, fold, view, media) and its reader dispatch."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from ervlight.data.dfew import read_dfew
from ervlight.data.mafw import read_mafw
from ervlight.data.r1omni import read_r1omni
from ervlight.data.records import InvalidRow, SplitListing

__all__ = ["OFFICIAL_KINDS", "DataSource", "SourceKind", "read_source"]

SourceKind = Literal["dfew", "mafw", "r1omni", "emer"]
#: Kinds with official train/test lists and folds.
OFFICIAL_KINDS = ("dfew", "mafw")


@dataclass
class DataSource:
    """One dataset split to read.

    Attributes:
        kind: ``dfew`` or ``mafw`` (official trees), ``r1omni`` or ``emer`` (a JSON file; ``emer`` records must
            carry ``<think>…</think><answer>…</answer>`` targets).
        root: the dataset root folder, or the JSON file.
        split: official kinds: ``train`` or ``test`` (default: chosen by the stage, see ``ERVDataModule``); JSON
            kinds: a name for the records (default: the file's stem).
        fold: official fold 1..5 (default: the DataModule's ``fold``).
        view: MAFW ``single`` (11 classes) or ``compound`` (43 classes).
        captions: MAFW: read the ``with_caption`` lists (English captions on the records).
        media: ``video`` (mp4), or frame folders: DFEW ``frames`` / ``frames_16f``, MAFW ``frames`` / ``faces``.
        media_root: JSON kinds: folder the ``video`` paths are relative to (default: the JSON file's folder).
    """

    kind: SourceKind
    root: str
    split: str | None = None
    fold: int | None = None
    view: Literal["single", "compound"] = "single"
    captions: bool = False
    media: str = "video"
    media_root: str | None = None


def read_source(source: DataSource, split: str | None = None, fold: int = 1) -> SplitListing:
    """Read a source; ``split``/``fold`` are the defaults used where the source does not name its own."""
    split_name = source.split or split
    fold_number = source.fold or fold
    if source.kind == "dfew":
        if source.media not in ("video", "frames", "frames_16f"):
            raise ValueError(f"DFEW media must be 'video', 'frames' or 'frames_16f', got {source.media!r}")
        return read_dfew(source.root, split_name or "train", fold_number, source.media)  # type: ignore[arg-type]
    if source.kind == "mafw":
        if source.media not in ("video", "frames", "faces"):
            raise ValueError(f"MAFW media must be 'video', 'frames' or 'faces', got {source.media!r}")
        return read_mafw(
            source.root,
            split_name or "train",
            fold_number,
            source.view,
            source.captions,
            source.media,  # type: ignore[arg-type]
        )
    if source.kind in ("r1omni", "emer"):
        listing = read_r1omni(Path(source.root), source.media_root, source.split)
        if source.kind == "emer":
            _require_targets(listing)
        return listing
    raise ValueError(f"unknown source kind {source.kind!r}; expected dfew, mafw, r1omni or emer")


def _require_targets(listing: SplitListing) -> None:
    """Move records without a reasoning target to the listing's invalid rows."""
    kept = [r for r in listing.records if r.target]
    listing.invalid.extend(
        InvalidRow(r.source, "EMER record without a '<think>…</think><answer>…</answer>' target")
        for r in listing.records
        if not r.target
    )
    listing.records = kept
