"""``ervlight data export-r1omni``: write one split of any source as an R1-Omni JSON file.

Labels are written in the R1-Omni vocabulary (adjectives, ``LabelSpace.export(label, "r1omni")``), reasoning
targets (EMER sources) replace the bare label unless ``--no-targets``, and every record carries its ``dataset``
so the file reads back unambiguously. Clips missing on disk and frame-folder records (the format needs an mp4)
are reported, not written.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from ervlight.data.errors import DataError
from ervlight.data.inspect import add_source_arguments, source_from_args
from ervlight.data.readers.r1omni import write_r1omni
from ervlight.data.registry import get_dataset_kind, read_source

__all__ = ["main"]


def main(argv: list[str]) -> int:
    """Run ``ervlight data export-r1omni``; returns 0, or 2 when the source cannot be read."""
    parser = argparse.ArgumentParser(prog="ervlight data export-r1omni", description=__doc__.split("\n\n")[0])
    add_source_arguments(parser)
    parser.add_argument("--split", default="train", help="official split: train or test (default train)")
    parser.add_argument("--fold", type=int, default=1, help="official fold 1..5 (default 1)")
    parser.add_argument("--output", required=True, type=Path, help="the JSON file to write")
    parser.add_argument(
        "--relative-to",
        type=Path,
        help="write video paths relative to this folder (default: the output's folder)",
    )
    parser.add_argument(
        "--no-targets", action="store_true", help="write bare labels even where targets exist"
    )
    args = parser.parse_args(argv)
    source = source_from_args(args)
    try:
        split = args.split if get_dataset_kind(source.kind).official_splits else None
        listing = read_source(source, split, args.fold)
    except (DataError, ValueError) as error:
        print(f"ervlight data export-r1omni: {error}", file=sys.stderr)
        return 2
    written, skipped = write_r1omni(
        listing.records, args.output, args.relative_to, targets=not args.no_targets
    )
    print(f"wrote {written} records of {listing.name} to {args.output}")
    for record in skipped:
        print(f"  not written {record.clip_id}: no mp4 (frame folder) or no label", file=sys.stderr)
    for missing in listing.missing:
        print(f"  not written {missing.clip_id}: missing on disk ({missing.expected})", file=sys.stderr)
    for row in listing.invalid:
        print(f"  not written {row.source}: {row.reason}", file=sys.stderr)
    return 0
