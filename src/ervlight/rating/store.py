"""Ratings on disk: an append-only JSONL file, one line per answer, flushed and fsynced before the page moves on.

A rater who changes an answer appends a new line; the latest line of a (rater, item) pair counts
(:func:`latest_ratings`). Nothing is ever rewritten, so a crash or a closed tab loses at most the answer whose write
was under way, and that answer was never acknowledged to the page. :func:`read_ratings` refuses a malformed line
with a ``ValueError`` naming ``file:line`` (commands turn it into exit code 2); only an incomplete LAST line without
its newline (an interrupted write) is skipped, with a warning.
"""

from __future__ import annotations

import csv
import json
import os
import re
import sys
import threading
from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from ervlight.jsonl import read_jsonl
from ervlight.labels import get_label_space

__all__ = [
    "COHERENCE_SCALE",
    "RATER_ID",
    "UNCLEAR",
    "Rating",
    "RatingStore",
    "export_csv",
    "latest_ratings",
    "read_ratings",
]

#: The emotion answer "the rationale expresses no emotion, or none clearly" (stored as JSON ``null``).
UNCLEAR = "none/unclear"
#: The coherence scale: 1 (incoherent) .. 5 (fully coherent).
COHERENCE_SCALE = (1, 2, 3, 4, 5)
#: Accepted rater ids.
RATER_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$")
#: Columns of the exported CSV.
CSV_HEADER = (
    "rater",
    "item",
    "dataset",
    "fold",
    "clip",
    "systems",
    "emotion",
    "supports",
    "coherence",
    "time",
)


@dataclass(frozen=True)
class Rating:
    """One rater's answers about one item.

    Attributes:
        rater: the rater id (:data:`RATER_ID`).
        item: the item id (:func:`ervlight.rating.items.item_key`).
        dataset: label-space name of the clip.
        fold: the clip's fold (``None`` without one).
        clip: the clip id.
        systems: the systems that wrote the item (kept for analysis, never shown on the page).
        emotion: the emotion the rationale expresses (a label of ``dataset``), ``None`` for :data:`UNCLEAR`.
        supports: whether the rationale supports the answer (``None`` when the answer was hidden).
        coherence: 1..5 (:data:`COHERENCE_SCALE`).
        time: when the answer was given (ISO 8601, UTC).
    """

    rater: str
    item: str
    dataset: str
    fold: int | None
    clip: str
    systems: tuple[str, ...]
    emotion: str | None
    supports: bool | None
    coherence: int
    time: str

    def to_json(self) -> str:
        """One JSONL line (without the newline)."""
        row = asdict(self)
        row["systems"] = list(self.systems)
        return json.dumps(row, ensure_ascii=False, sort_keys=True)


def _check(row: dict[str, Any], where: str) -> Rating:
    """Validate one parsed line; ``ValueError`` starting with ``where`` on anything wrong."""
    missing = [key for key in Rating.__dataclass_fields__ if key not in row]
    if missing:
        raise ValueError(f"{where}: missing field(s) {', '.join(missing)}")
    if not isinstance(row["rater"], str) or not RATER_ID.match(row["rater"]):
        raise ValueError(f"{where}: bad rater id {row['rater']!r}")
    try:
        space = get_label_space(str(row["dataset"]))
    except (KeyError, ValueError):
        raise ValueError(f"{where}: unknown dataset {row['dataset']!r}") from None
    if row["emotion"] is not None and row["emotion"] not in space.labels:
        raise ValueError(f"{where}: emotion {row['emotion']!r} is not a {space.name} label nor null")
    if row["supports"] not in (True, False, None):
        raise ValueError(f"{where}: supports must be true, false or null, got {row['supports']!r}")
    if type(row["coherence"]) is not int or row["coherence"] not in COHERENCE_SCALE:
        raise ValueError(f"{where}: coherence must be an integer 1..5, got {row['coherence']!r}")
    if row["fold"] is not None and type(row["fold"]) is not int:
        raise ValueError(f"{where}: fold must be an integer or null, got {row['fold']!r}")
    if not isinstance(row["systems"], list) or not all(isinstance(s, str) for s in row["systems"]):
        raise ValueError(f"{where}: systems must be a list of names")
    systems = tuple(row["systems"])
    return Rating(str(row["rater"]), str(row["item"]), space.name, row["fold"], str(row["clip"]), systems,
                  row["emotion"], row["supports"], row["coherence"], str(row["time"]))  # fmt: skip


def _report_torn_tail(where: str) -> None:
    """Say that an interrupted last write was passed over."""
    print(f"{where}: incomplete last line (interrupted write) ignored", file=sys.stderr)


def _ignore(where: str) -> None:
    """Pass over silently (the store cuts and reports the torn line itself)."""


def read_ratings(paths: Sequence[str | Path], warn: bool = True) -> list[Rating]:
    """Every rating line of the files, in order; ``ValueError`` naming ``file:line`` for a malformed one."""
    ratings: list[Rating] = []
    for name in paths:
        path = Path(name)
        if not path.is_file():
            raise FileNotFoundError(f"ratings file {path} does not exist")
        torn = _report_torn_tail if warn else _ignore
        for where, row in read_jsonl(path, on_torn_tail=torn):
            ratings.append(_check(row, where))
    return ratings


def latest_ratings(ratings: Iterable[Rating]) -> dict[tuple[str, str], Rating]:
    """``{(rater, item): the rater's last answer}``."""
    return {(rating.rater, rating.item): rating for rating in ratings}


def export_csv(ratings: Iterable[Rating], path: str | Path) -> Path:
    """Write the latest rating of every (rater, item) as CSV (sorted by rater, then time); returns the path."""
    path = Path(path)
    rows = sorted(latest_ratings(ratings).values(), key=lambda r: (r.rater, r.time, r.item))
    with path.open("w", encoding="utf-8", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(CSV_HEADER)
        for r in rows:
            supports = "" if r.supports is None else ("yes" if r.supports else "no")
            writer.writerow([r.rater, r.item, r.dataset, "" if r.fold is None else r.fold, r.clip,
                             " ".join(r.systems), r.emotion or UNCLEAR, supports, r.coherence, r.time])  # fmt: skip
    return path


class RatingStore:
    """The ratings file of a rating session: read once at start, then appended to (thread-safe)."""

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._lock = threading.Lock()
        self._drop_torn_tail()
        self.ratings: list[Rating] = read_ratings([self.path], warn=False) if self.path.exists() else []
        self.latest = latest_ratings(self.ratings)

    def _drop_torn_tail(self) -> None:
        """Cut an incomplete last line (an interrupted write, never acknowledged) so appends start on a new line."""
        if not self.path.exists():
            return
        data = self.path.read_bytes()
        if data and not data.endswith(b"\n"):
            keep = data.rfind(b"\n") + 1
            line = data.count(b"\n") + 1
            print(f"{self.path}:{line}: incomplete last line (interrupted write) dropped", file=sys.stderr)
            with self.path.open("r+b") as handle:
                handle.truncate(keep)

    def append(self, rating: Rating) -> None:
        """Write one line, flush and fsync it, then remember it."""
        line = (rating.to_json() + "\n").encode("utf-8")
        with self._lock:
            with self.path.open("ab") as handle:
                handle.write(line)
                handle.flush()
                os.fsync(handle.fileno())
            self.ratings.append(rating)
            self.latest[(rating.rater, rating.item)] = rating

    def rated(self, rater: str) -> dict[str, Rating]:
        """``{item: latest rating}`` of one rater."""
        with self._lock:
            return {item: r for (who, item), r in self.latest.items() if who == rater}
