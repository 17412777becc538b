"""Paired bootstrap intervals: how much system B differs from system A on the SAME test clips.

Two reports that judged the same clips (same dataset, fold and clip id) are compared clip by clip: each bootstrap
resample draws clips with replacement — within each dataset, so the dataset mix stays that of the test lists — and
recomputes every metric for both systems on the same draw. The interval of the difference ``B - A`` is the
percentile interval of those resampled differences. Pairing removes the clip-difficulty variance both systems
share, which is what makes a difference of a few points measurable on a few hundred clips.

Metrics (rates in points, as in the tables): ``war``, ``uar`` (mean per-class recall over the classes with clips in
the draw; pooled over datasets it averages the (dataset, class) recalls), ``eea``, ``epc``, ``fcr`` and
``format``. They follow :mod:`ervlight.evaluation.consistency`: an unparseable answer or an unjudged rationale is
never equal to anything and stays in every denominator. Symbols: ``N`` clips, ``R`` resamples, ``C`` classes.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

__all__ = [
    "METRICS",
    "ClipOutcomes",
    "PairedDifference",
    "align",
    "metric_values",
    "paired_bootstrap",
    "paired_table",
]

#: The metrics :func:`paired_bootstrap` reports, in table order.
METRICS: tuple[str, ...] = ("war", "uar", "eea", "epc", "fcr", "format")


@dataclass(frozen=True)
class ClipOutcomes:
    """Per-clip outcomes of one system on a set of test clips (all arrays ``[N]``).

    Attributes:
        keys: ``(dataset, fold, clip)`` of each clip (``fold`` may be ``None``); unique.
        datasets: dataset name of each clip.
        gold: gold class index.
        pred: predicted class index, ``-1`` for an unparseable answer.
        judged: class index the judge read from the rationale, ``-1`` for unjudged.
        well_formatted: whether the completion matched the R1 format.
    """

    keys: tuple[tuple[str, int | None, str], ...]
    datasets: np.ndarray
    gold: np.ndarray
    pred: np.ndarray
    judged: np.ndarray
    well_formatted: np.ndarray

    def __post_init__(self) -> None:
        sizes = {len(self.keys), *(len(a) for a in (self.datasets, self.gold, self.pred, self.judged))}
        if len(sizes | {len(self.well_formatted)}) != 1:
            raise ValueError(f"clip outcome arrays disagree in length: {sorted(sizes)}")
        if len(set(self.keys)) != len(self.keys):
            raise ValueError("clip outcomes hold the same (dataset, fold, clip) twice")

    def __len__(self) -> int:
        return len(self.keys)

    def take(self, index: np.ndarray) -> ClipOutcomes:
        """The clips at ``index`` (in that order)."""
        return ClipOutcomes(
            tuple(self.keys[i] for i in index),
            self.datasets[index],
            self.gold[index],
            self.pred[index],
            self.judged[index],
            self.well_formatted[index],
        )


@dataclass(frozen=True)
class PairedDifference:
    """``B - A`` on one metric over one group of paired clips, in points, with its bootstrap interval."""

    group: str
    metric: str
    clips: int
    a: float
    b: float
    difference: float
    low: float
    high: float

    @property
    def excludes_zero(self) -> bool:
        """Whether the interval lies entirely above or below zero."""
        return self.low > 0 or self.high < 0


def align(a: ClipOutcomes, b: ClipOutcomes) -> tuple[ClipOutcomes, ClipOutcomes]:
    """Both systems on the same clips in the same order; ``ValueError`` when their clip sets differ."""
    position = {key: i for i, key in enumerate(b.keys)}
    missing = [key for key in a.keys if key not in position]
    extra = len(b) - (len(a) - len(missing))
    if missing or extra:
        shown = ", ".join(f"{d}/{f}/{c}" for d, f, c in missing[:3])
        raise ValueError(
            f"paired comparison needs the same clips in both reports: {len(missing)} clip(s) only in the first"
            f"{' (' + shown + ')' if shown else ''}, {extra} only in the second"
        )
    return a, b.take(np.array([position[key] for key in a.keys], dtype=np.int64))


def _class_codes(outcomes: ClipOutcomes) -> tuple[np.ndarray, int]:
    """``[N]`` code of each clip's (dataset, gold class) pair and the number of codes."""
    pairs = sorted({(str(d), int(g)) for d, g in zip(outcomes.datasets, outcomes.gold, strict=True)})
    code = {pair: i for i, pair in enumerate(pairs)}
    codes = [code[(str(d), int(g))] for d, g in zip(outcomes.datasets, outcomes.gold, strict=True)]
    return np.array(codes, dtype=np.int64), len(pairs)


def _indicators(outcomes: ClipOutcomes) -> dict[str, np.ndarray]:
    """``[N]`` float 0/1 per clip for every mean-type metric."""
    correct = outcomes.pred == outcomes.gold
    explained = outcomes.judged == outcomes.gold
    consistent = (outcomes.pred == outcomes.judged) & (outcomes.pred >= 0)
    return {
        "war": correct.astype(np.float64),
        "eea": explained.astype(np.float64),
        "epc": consistent.astype(np.float64),
        "fcr": (correct & explained).astype(np.float64),
        "format": outcomes.well_formatted.astype(np.float64),
    }


def _uar(correct: np.ndarray, codes: np.ndarray, num_codes: int, index: np.ndarray) -> np.ndarray:
    """``[R]`` mean per-class recall of each resample ``index [R, N]`` over the classes it contains."""
    resamples = index.shape[0]
    offsets = (np.arange(resamples) * num_codes)[:, None]  # [R, 1]
    flat = (codes[index] + offsets).ravel()  # [R*N]
    counts = np.bincount(flat, minlength=resamples * num_codes).reshape(resamples, num_codes)  # [R, C]
    hits = np.bincount(flat, weights=correct[index].ravel(), minlength=resamples * num_codes)
    hits = hits.reshape(resamples, num_codes)  # [R, C]
    present = counts > 0
    recall = np.where(present, hits / np.maximum(counts, 1), 0.0)  # [R, C]
    return recall.sum(1) / present.sum(1)


def metric_values(outcomes: ClipOutcomes, index: np.ndarray | None = None) -> dict[str, np.ndarray]:
    """Every metric in points over resamples ``index [R, N]`` (default: the clips as they are, ``R = 1``)."""
    if index is None:
        index = np.arange(len(outcomes))[None, :]
    values = {name: 100.0 * flags[index].mean(1) for name, flags in _indicators(outcomes).items()}
    codes, num_codes = _class_codes(outcomes)
    values["uar"] = 100.0 * _uar(_indicators(outcomes)["war"], codes, num_codes, index)
    return {name: values[name] for name in METRICS}


def _stratified_index(datasets: np.ndarray, resamples: int, rng: np.random.Generator) -> np.ndarray:
    """``[R, N]`` clip indices drawn with replacement within each dataset (each keeps its clip count)."""
    columns = []
    for name in sorted(set(datasets.tolist())):
        members = np.flatnonzero(datasets == name)  # [n_d]
        columns.append(members[rng.integers(0, len(members), size=(resamples, len(members)))])
    return np.concatenate(columns, axis=1)


def _percentiles(samples: np.ndarray, level: float) -> tuple[float, float]:
    """The central ``level`` percentile interval of ``samples``."""
    tail = 100.0 * (1.0 - level) / 2.0
    low, high = np.percentile(samples, [tail, 100.0 - tail])
    return float(low), float(high)


def paired_bootstrap(
    a: ClipOutcomes,
    b: ClipOutcomes,
    num_resamples: int = 10_000,
    seed: int = 0,
    level: float = 0.95,
) -> list[PairedDifference]:
    """``B - A`` for every metric, pooled (group ``all``) and per dataset, with paired percentile intervals.

    The clips are aligned by key first (:func:`align`); the same resampled clips score both systems. The draw
    is fixed by ``seed``; groups are resampled independently (per dataset within the pooled draw too).
    """
    if num_resamples < 1:
        raise ValueError(f"num_resamples must be >= 1, got {num_resamples}")
    if not 0.0 < level < 1.0:
        raise ValueError(f"level must lie in (0, 1), got {level}")
    a, b = align(a, b)
    if len(a) == 0:
        raise ValueError("paired comparison over no clips")
    groups = {"all": np.arange(len(a))}
    groups |= {name: np.flatnonzero(a.datasets == name) for name in sorted(set(a.datasets.tolist()))}
    rng = np.random.default_rng(seed)
    rows = []
    for group, members in groups.items():
        sub_a, sub_b = a.take(members), b.take(members)
        index = _stratified_index(sub_a.datasets, num_resamples, rng)  # [R, n]
        point_a, point_b = metric_values(sub_a), metric_values(sub_b)
        drawn_a, drawn_b = metric_values(sub_a, index), metric_values(sub_b, index)
        for metric in METRICS:
            low, high = _percentiles(drawn_b[metric] - drawn_a[metric], level)
            value_a, value_b = float(point_a[metric][0]), float(point_b[metric][0])
            rows.append(
                PairedDifference(group, metric, len(members), value_a, value_b, value_b - value_a, low, high)
            )
    return rows


def _number(value: float) -> str:
    """One decimal, with an explicit sign."""
    return "n/a" if math.isnan(value) else f"{value:+.1f}"


def paired_table(rows: Sequence[PairedDifference], name_a: str, name_b: str, level: float = 0.95) -> str:
    """A markdown table of :func:`paired_bootstrap` rows: ``A → B`` and ``B − A [low, high]`` per group."""
    lines = [
        f"| group | clips | metric | {name_a} → {name_b} | {name_b} − {name_a} [{100 * level:g} %] |",
        "|---|---|---|---|---|",
    ]
    for row in rows:
        interval = f"{_number(row.difference)} [{_number(row.low)}, {_number(row.high)}]"
        lines.append(
            f"| {row.group} | {row.clips} | {row.metric.upper()} | {row.a:.1f} → {row.b:.1f} | {interval} |"
        )
    return "\n".join(lines)
