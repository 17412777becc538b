"""``ervlight rate``: serve the rating page for prediction files; ``ervlight rate export``: ratings to CSV."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

__all__ = ["build_parser", "main"]


def build_parser() -> argparse.ArgumentParser:
    """The serving command's argument parser."""
    parser = argparse.ArgumentParser(
        prog="ervlight rate",
        description="Rate rationales in the browser: one item at a time (the clip when --clips finds it, the "
        "rationale, optionally the answer), in a seeded random order per rater, system names hidden. Answers are "
        "appended to OUT/ratings.jsonl as they are given. `ervlight rate export --out OUT` writes OUT/ratings.csv.",
    )
    parser.add_argument("--predictions", nargs="+", required=True, metavar="[NAME=]FILE",
                        help="report predictions.csv or `ervlight test` predictions.jsonl files (one per system; "
                        "named after their folder unless NAME= is given)")  # fmt: skip
    parser.add_argument("--clips", action="append", default=[], metavar="ROOT",
                        help="dataset root (DFEW or MAFW tree, or a folder holding DFEW/ and MAFW/) to play the "
                        "clips from; repeatable")  # fmt: skip
    parser.add_argument(
        "--out", required=True, help="folder of ratings.jsonl and exports (nothing else is written)"
    )
    parser.add_argument("--seed", type=int, default=0, help="seed of the item order (per rater)")
    parser.add_argument(
        "--hide-answer",
        action="store_true",
        help="hide the system's answer (raters judge the rationale alone, as the judges do)",
    )
    parser.add_argument("--host", default="127.0.0.1", help="address to bind (default: loopback only)")
    parser.add_argument("--port", type=int, default=8765, help="port (0: any free port)")
    return parser


def _export(argv: list[str]) -> int:
    """``ervlight rate export --out OUT [--ratings FILE…] [--csv FILE]``."""
    from ervlight.rating.store import export_csv, read_ratings

    parser = argparse.ArgumentParser(prog="ervlight rate export", description="Write ratings as CSV (the latest "
                                     "answer of every rater and item).")  # fmt: skip
    parser.add_argument("--out", required=True, help="the rating folder (reads OUT/ratings.jsonl)")
    parser.add_argument("--csv", default=None, help="CSV to write (default: OUT/ratings.csv)")
    args = parser.parse_args(argv)
    try:
        ratings = read_ratings([Path(args.out) / "ratings.jsonl"])
    except (FileNotFoundError, ValueError) as error:
        print(f"ervlight rate export: {error}", file=sys.stderr)
        return 2
    path = export_csv(ratings, args.csv or Path(args.out) / "ratings.csv")
    print(f"wrote {path} ({len({(r.rater, r.item) for r in ratings})} ratings)")
    return 0


def main(argv: list[str]) -> int:
    """Run ``ervlight rate`` (or ``ervlight rate export``); returns the exit code."""
    if argv[:1] == ["export"]:
        return _export(argv[1:])
    args = build_parser().parse_args(argv)
    from ervlight.rating.items import load_items
    from ervlight.rating.media import find_media
    from ervlight.rating.server import RatingApp, make_server

    try:
        items = load_items(args.predictions)
        media = find_media(items, args.clips)
        app = RatingApp(items, media, args.out, seed=args.seed, hide_answer=args.hide_answer)
    except (FileNotFoundError, ValueError) as error:
        print(f"ervlight rate: {error}", file=sys.stderr)
        return 2
    server = make_server(app, args.host, args.port)
    host, port = args.host, server.server_port
    if host not in ("127.0.0.1", "localhost", "::1"):
        print(f"warning: serving on {host}: anyone who can reach it can read the items and write ratings")
    print(f"{len(items)} items ({len(app.media)} with a clip), ratings in {app.store.path}")
    print(f"open http://{host}:{port}/?rater=YOUR_ID   (Ctrl+C stops; answers are already saved)")
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        server.server_close()
    return 0
