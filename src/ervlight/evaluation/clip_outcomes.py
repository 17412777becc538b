"""Per-clip outcomes of a report folder (its ``predictions.csv``) for paired comparisons, and the comparison itself.

``predictions.csv`` (written by :func:`ervlight.evaluation.report.build_report`) holds one row per clip: ``clip``,
``dataset``, ``fold``, ``gold``, ``answer``, ``correct``, ``well_formatted``, ``rationale``, …, one
``judge:<name>`` column per judge (the first is the report's judge). :func:`read_clip_outcomes` turns it into a
:class:`~ervlight.evaluation.paired.ClipOutcomes`; :func:`compare_reports` runs the paired bootstrap on two folders.
"""

from __future__ import annotations

import csv
from pathlib import Path

import numpy as np

from ervlight.evaluation.paired import ClipOutcomes, PairedDifference, paired_bootstrap
from ervlight.labels import get_label_space

__all__ = ["compare_reports", "read_clip_outcomes", "same_clips"]

_REQUIRED = ("clip", "dataset", "fold", "gold", "answer", "well_formatted")


def _csv_path(report: str | Path) -> Path:
    """``predictions.csv`` of a report folder (or the file itself); ``FileNotFoundError`` naming it."""
    path = Path(report)
    path = path / "predictions.csv" if path.is_dir() else path
    if not path.is_file():
        raise FileNotFoundError(f"{report} has no predictions.csv (not a report folder)")
    return path


def _judge_column(header: list[str], path: Path, judge: str | None) -> str:
    """The ``judge:<name>`` column to read: ``judge``'s, or the first one."""
    columns = [name for name in header if name.startswith("judge:")]
    if not columns:
        raise ValueError(f"{path}: no judge:<name> column")
    if judge is None:
        return columns[0]
    if f"judge:{judge}" not in columns:
        raise ValueError(f"{path}: no column judge:{judge} (judges: {', '.join(c[6:] for c in columns)})")
    return f"judge:{judge}"


def read_clip_outcomes(report: str | Path, judge: str | None = None) -> ClipOutcomes:
    """A report folder's (or ``predictions.csv``'s) per-clip outcomes, judged by ``judge`` (default: the first).

    Answers are read strictly as in the report (an answer outside the label list is ``-1``); an empty judge
    cell (unjudged rationale) is ``-1``. ``ValueError`` names the file for a missing column or an unknown gold.
    """
    path = _csv_path(report)
    with path.open(encoding="utf-8", newline="") as handle:
        reader = csv.DictReader(handle)
        header = list(reader.fieldnames or [])
        missing = [name for name in _REQUIRED if name not in header]
        if missing:
            raise ValueError(f"{path}: missing column(s) {', '.join(missing)}")
        column = _judge_column(header, path, judge)
        rows = list(reader)
    keys, datasets, gold, pred, judged, formatted = [], [], [], [], [], []
    for line, row in enumerate(rows, start=2):
        space = get_label_space(row["dataset"])
        if row["gold"] not in space:
            raise ValueError(f"{path}:{line}: gold {row['gold']!r} is not a {row['dataset']} label")
        keys.append((row["dataset"], int(row["fold"]) if row["fold"] else None, row["clip"]))
        datasets.append(row["dataset"])
        gold.append(space.index(row["gold"]))
        pred.append(space.encode(row["answer"], strict=True))
        judged.append(space.encode(row[column], strict=True) if row[column] else -1)
        formatted.append(row["well_formatted"] == "1")
    return ClipOutcomes(
        tuple(keys),
        np.array(datasets, dtype=object),
        np.array(gold, dtype=np.int64),
        np.array(pred, dtype=np.int64),
        np.array(judged, dtype=np.int64),
        np.array(formatted, dtype=bool),
    )


def same_clips(a: ClipOutcomes, b: ClipOutcomes) -> bool:
    """Whether two outcome sets cover exactly the same clips (a paired comparison is possible)."""
    return set(a.keys) == set(b.keys)


def compare_reports(
    a: str | Path, b: str | Path, judge: str | None = None, num_resamples: int = 10_000, seed: int = 0
) -> list[PairedDifference]:
    """``B - A`` with paired bootstrap intervals for two report folders judged on the same clips."""
    return paired_bootstrap(
        read_clip_outcomes(a, judge), read_clip_outcomes(b, judge), num_resamples=num_resamples, seed=seed
    )
