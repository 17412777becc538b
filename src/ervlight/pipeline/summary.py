"""The demo's measurement tables: paired differences per seed with their intervals, and mean ± std over seeds.

Every figure comes from the report folders' ``predictions.csv`` (:func:`ervlight.evaluation.clip_outcomes.
read_clip_outcomes`, judged by the first judge) through :func:`ervlight.evaluation.paired.paired_bootstrap`. Over
seeds, ``mean ± std`` is the mean and the sample standard deviation (``n - 1``) of a seed's point value; each
seed's own 95 % paired interval sits beside it (it covers clip sampling only, not the seed).
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from pathlib import Path

import numpy as np

from ervlight.evaluation.clip_outcomes import compare_reports
from ervlight.evaluation.paired import PairedDifference

__all__ = ["COMPARISONS", "mean_std", "paired_comparisons", "policies_table", "seeds_table"]

#: The demo's comparisons: (name of B - A, A, B) over the runs' report folders.
COMPARISONS: tuple[tuple[str, str, str], ...] = (
    ("ERV − baseline", "baseline", "ERV"),
    ("ERV − SFT", "SFT", "ERV"),
)


def paired_comparisons(
    reports: Mapping[str, str | Path], num_resamples: int = 10_000, seed: int = 0
) -> dict[str, list[PairedDifference]]:
    """Every :data:`COMPARISONS` entry on the runs' report folders (same clips required)."""
    return {
        name: compare_reports(reports[a], reports[b], num_resamples=num_resamples, seed=seed)
        for name, a, b in COMPARISONS
    }


def mean_std(values: Sequence[float]) -> str:
    """``"+1.2 ± 0.8"`` (sample std over ``n - 1``); a single value is shown alone."""
    mean = float(np.mean(values))
    if len(values) < 2:
        return f"{mean:+.1f}"
    return f"{mean:+.1f} ± {float(np.std(values, ddof=1)):.1f}"


def _interval(row: PairedDifference) -> str:
    """``"+1.2 [−3.0, +5.1]"``."""
    if math.isnan(row.difference):
        return "n/a"
    return f"{row.difference:+.1f} [{row.low:+.1f}, {row.high:+.1f}]"


def _aligned(per_seed: Mapping[int, Sequence[PairedDifference]]) -> list[list[PairedDifference]]:
    """Rows of every seed side by side (``[row][seed]``); ``ValueError`` when seeds cover other groups or clips."""
    if not per_seed:
        raise ValueError("no seeds to tabulate")
    seeds = list(per_seed)
    first = [(r.group, r.metric, r.clips) for r in per_seed[seeds[0]]]
    for seed in seeds[1:]:
        if [(r.group, r.metric, r.clips) for r in per_seed[seed]] != first:
            raise ValueError(
                f"seed {seed} compares other groups, metrics or clip counts than seed {seeds[0]}"
            )
    return [[per_seed[seed][i] for seed in seeds] for i in range(len(first))]


def seeds_table(per_seed: Mapping[int, Sequence[PairedDifference]], title: str) -> str:
    """Markdown: per group and metric, each seed's ``B − A [95 %]`` and the mean ± std over seeds."""
    seeds = list(per_seed)
    header = ["group", "clips", "metric", *(f"seed {s}: {title} [95 %]" for s in seeds), "mean ± std"]
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    for rows in _aligned(per_seed):
        first = rows[0]
        cells = [first.group, str(first.clips), first.metric.upper(), *(_interval(r) for r in rows)]
        cells.append(mean_std([r.difference for r in rows]))
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


def policies_table(per_seed: Mapping[int, Mapping[str, Sequence[PairedDifference]]]) -> str:
    """Markdown: each policy's metric (points) per group as mean ± std over seeds, from the paired rows."""
    seeds = list(per_seed)
    baseline = _aligned({s: per_seed[s]["ERV − baseline"] for s in seeds})
    sft = _aligned({s: per_seed[s]["ERV − SFT"] for s in seeds})
    header = ["group", "clips", "metric", "SFT", "baseline", "ERV"]
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    for rows_b, rows_s in zip(baseline, sft, strict=True):
        first = rows_b[0]
        values = ([r.a for r in rows_s], [r.a for r in rows_b], [r.b for r in rows_b])
        cells = [first.group, str(first.clips), first.metric.upper()]
        cells += [mean_std(v).lstrip("+") for v in values]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)
