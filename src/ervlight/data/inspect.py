"""``ervlight data inspect``: per split, clips per class, missing and unreadable clips, duration statistics.

Every listed clip is probed (its video packets are read, nothing is decoded) so unreadable files — empty,
corrupt, truncated, without a video stream — are found and named with their ids; clips without an audio track
are listed too. ``--json`` prints the same report as one JSON object.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from tqdm import tqdm

from ervlight.data.backends import probe_media
from ervlight.data.errors import DataError, EmptyMediaError, MediaError
from ervlight.data.files import list_images
from ervlight.data.records import ClipRecord, SplitListing
from ervlight.data.registry import dataset_kinds, get_dataset_kind, read_source
from ervlight.data.sources import DataSource

__all__ = ["SplitReport", "add_source_arguments", "inspect_split", "main", "source_from_args"]

_FRAMES_FPS = 25.0


def add_source_arguments(parser: argparse.ArgumentParser) -> None:
    """The options that select a dataset source (shared by ``inspect`` and ``export-r1omni``)."""
    parser.add_argument("--dataset", required=True, choices=dataset_kinds(), help="registered dataset kind")
    parser.add_argument("--root", required=True, type=Path, help="dataset root folder, or the JSON file")
    parser.add_argument("--view", choices=["single", "compound"], default="single", help="MAFW label view")
    parser.add_argument("--captions", action="store_true", help="MAFW: read the with_caption lists")
    parser.add_argument(
        "--media",
        default="video",
        help="video (default) or frame folders: dfew frames|frames_16f, mafw frames|faces",
    )
    parser.add_argument("--media-root", type=Path, help="JSON: folder the video paths are relative to")


def source_from_args(args: argparse.Namespace) -> DataSource:
    """The :class:`DataSource` the shared options describe."""
    media_root = str(args.media_root) if args.media_root else None
    return DataSource(
        args.dataset, str(args.root), None, None, args.view, args.captions, args.media, media_root
    )


@dataclass
class SplitReport:
    """The inspection of one split."""

    listing: SplitListing
    durations: list[float] = field(default_factory=list)
    unreadable: list[tuple[str, str, str]] = field(default_factory=list)
    no_audio: list[str] = field(default_factory=list)

    def to_json(self) -> dict[str, Any]:
        """The report as a JSON-able dict: ``clips`` (listed rows with a valid id and label) = ``readable`` +
        missing + unreadable; ``classes`` counts the same clips."""
        listing = self.listing
        return {
            "clips": len(listing.records) + len(listing.missing),
            "readable": len(listing.records) - len(self.unreadable),
            "classes": listing.class_counts(listing.listed()),
            "missing": [
                {"id": m.clip_id, "expected": m.expected, "source": m.source} for m in self.listing.missing
            ],
            "unreadable": [{"id": i, "kind": k, "error": e} for i, k, e in self.unreadable],
            "no_audio": self.no_audio,
            "invalid_rows": [{"source": r.source, "reason": r.reason} for r in self.listing.invalid],
            "warnings": self.listing.warnings,
            "duration_s": _stats(self.durations),
        }


def _stats(values: list[float]) -> dict[str, float] | None:
    """min / median / mean / max of durations (seconds, 3 decimals), ``None`` when empty."""
    if not values:
        return None
    numbers = {"min": min(values), "median": statistics.median(values), "mean": statistics.fmean(values)}
    return {key: round(value, 3) for key, value in (numbers | {"max": max(values)}).items()}


def _probe(record: ClipRecord) -> tuple[float, bool]:
    """Duration (s) and audio presence of a record's media (frame folders: image count at 25 fps)."""
    if record.video is not None:
        info = probe_media(record.video)
        return info.duration, info.has_audio
    assert record.frames_dir is not None
    count = len(list_images(record.frames_dir))
    if not count:
        raise EmptyMediaError(record.frames_dir, "frame folder holds no image")
    has_audio = record.audio is not None and record.audio.is_file() and record.audio.stat().st_size > 0
    return count / _FRAMES_FPS, has_audio


def inspect_split(listing: SplitListing, progress: bool = True) -> SplitReport:
    """Probe every record of a listing."""
    report = SplitReport(listing)
    for record in tqdm(listing.records, desc=listing.name, disable=not progress, unit="clip", leave=False):
        try:
            duration, has_audio = _probe(record)
        except MediaError as error:
            report.unreadable.append((record.clip_id, error.kind, str(error)))
            continue
        report.durations.append(duration)
        if not has_audio:
            report.no_audio.append(record.clip_id)
    return report


def _splits(source: DataSource, fold: int) -> dict[str, SplitListing]:
    """Listings per split: official train/test of the fold, or the JSON file(s)."""
    if get_dataset_kind(source.kind).official_splits:
        return {split: read_source(source, split, fold) for split in ("train", "test")}
    root = Path(source.root)
    files = sorted(root.glob("*.json")) if root.is_dir() else [root]
    return {
        path.stem: read_source(DataSource(source.kind, str(path), media_root=source.media_root))
        for path in files
    }


def _print_text(title: str, reports: dict[str, SplitReport]) -> None:
    """Human-readable report."""
    print(title)
    for split, report in reports.items():
        data = report.to_json()
        print(
            f"\n[{split}] {data['clips']} clips, {data['readable']} readable, {len(data['missing'])} missing, "
            f"{len(data['unreadable'])} unreadable, {len(data['no_audio'])} without audio, "
            f"{len(data['invalid_rows'])} bad rows"
        )
        print("  classes: " + (", ".join(f"{k} {v}" for k, v in data["classes"].items()) or "-"))
        if data["duration_s"]:
            print("  duration (s): " + ", ".join(f"{k} {v:.2f}" for k, v in data["duration_s"].items()))
        for item in data["missing"]:
            print(f"  missing {item['id']}: expected {item['expected']} ({item['source']})")
        for item in data["unreadable"]:
            print(f"  unreadable {item['id']} ({item['kind']}): {item['error']}")
        if data["no_audio"]:
            print("  without audio: " + ", ".join(data["no_audio"]))
        for item in data["invalid_rows"]:
            print(f"  bad row {item['source']}: {item['reason']}")
        for warning in data["warnings"]:
            print(f"  warning: {warning}")


def main(argv: list[str]) -> int:
    """Run ``ervlight data inspect``; returns 0, or 2 when the tree or file cannot be read at all."""
    parser = argparse.ArgumentParser(prog="ervlight data inspect", description=__doc__.split("\n\n")[0])
    add_source_arguments(parser)
    parser.add_argument("--fold", type=int, default=1, help="official fold 1..5 (default 1)")
    parser.add_argument("--json", action="store_true", help="print one JSON object")
    args = parser.parse_args(argv)
    source = source_from_args(args)
    official = get_dataset_kind(source.kind).official_splits
    try:
        reports = {
            split: inspect_split(listing, not args.json)
            for split, listing in _splits(source, args.fold).items()
        }
    except (DataError, ValueError) as error:
        print(f"ervlight data inspect: {error}", file=sys.stderr)
        return 2
    if args.json:
        fold = args.fold if official else None
        out = {
            "dataset": args.dataset,
            "root": str(args.root),
            "fold": fold,
            "view": args.view,
            "media": args.media,
        }
        print(
            json.dumps(
                out | {"splits": {s: r.to_json() for s, r in reports.items()}}, ensure_ascii=False, indent=1
            )
        )
    else:
        fold_text = f" fold {args.fold}" if official else ""
        _print_text(f"{args.dataset}{fold_text} at {args.root}", reports)
    return 0
