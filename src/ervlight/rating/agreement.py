"""Agreement statistics for human ratings: Cohen's and Fleiss' kappa, Krippendorff's alpha, majority, bootstrap.

Categories are any hashable answers (emotion labels; "none/unclear" is a category of its own). Every statistic is
``nan`` when it is undefined (no items, or chance agreement 1).
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Hashable, Mapping, Sequence

import numpy as np

from ervlight.evaluation.agreement import kappa_from_table

__all__ = ["bootstrap_agreement", "cohen_kappa", "fleiss_kappa", "krippendorff_alpha", "majority"]


def cohen_kappa(first: Sequence[Hashable], second: Sequence[Hashable]) -> float:
    """Cohen's kappa of two raters' answers on the same items (any hashable categories)."""
    if len(first) != len(second):
        raise ValueError(f"cohen_kappa: {len(first)} and {len(second)} answers")
    categories = {c: i for i, c in enumerate(dict.fromkeys([*first, *second]))}
    table = [[0] * len(categories) for _ in categories]
    for a, b in zip(first, second, strict=True):
        table[categories[a]][categories[b]] += 1
    return kappa_from_table(table)[0]


def fleiss_kappa(items: Sequence[Sequence[Hashable]]) -> float:
    """Fleiss' kappa of items each answered by the same number ``m >= 2`` of raters (one answer list per item)."""
    if not items:
        return math.nan
    m = len(items[0])
    if m < 2 or any(len(answers) != m for answers in items):
        raise ValueError("fleiss_kappa: every item needs the same number (>= 2) of answers")
    counts = [Counter(answers) for answers in items]
    agreement = [(sum(c * c for c in count.values()) - m) / (m * (m - 1)) for count in counts]
    totals: Counter[Hashable] = Counter()
    for count in counts:
        totals.update(count)
    expected = sum((t / (len(items) * m)) ** 2 for t in totals.values())
    observed = sum(agreement) / len(items)
    return math.nan if expected == 1 else (observed - expected) / (1 - expected)


def krippendorff_alpha(items: Sequence[Sequence[Hashable]]) -> float:
    """Krippendorff's alpha (nominal) of items with any number of answers; items with fewer than 2 are skipped."""
    coincidence: dict[tuple[Hashable, Hashable], float] = {}
    for answers in items:
        m = len(answers)
        if m < 2:
            continue
        for i, a in enumerate(answers):
            for j, b in enumerate(answers):
                if i != j:
                    coincidence[(a, b)] = coincidence.get((a, b), 0.0) + 1 / (m - 1)
    marginals: dict[Hashable, float] = {}
    for (a, _), value in coincidence.items():
        marginals[a] = marginals.get(a, 0.0) + value
    n = sum(marginals.values())
    disagreement = sum(value for (a, b), value in coincidence.items() if a != b)
    expected = sum(marginals[a] * marginals[b] for a in marginals for b in marginals if a != b)
    if n <= 1 or expected == 0:
        return math.nan
    return 1 - (n - 1) * disagreement / expected


def majority(answers: Sequence[Hashable]) -> Hashable | None:
    """The answer most raters gave; ``None`` on a tie for first place or without answers."""
    ranked = Counter(answers).most_common()
    if not ranked or (len(ranked) > 1 and ranked[0][1] == ranked[1][1]):
        return None
    return ranked[0][0]


def bootstrap_agreement(
    first: Sequence[Hashable],
    second: Sequence[Hashable],
    resamples: int = 1000,
    seed: int = 0,
    level: float = 0.95,
) -> Mapping[str, tuple[float, float]]:
    """Percentile bootstrap intervals of the observed agreement and of Cohen's kappa (items resampled).

    Returns ``{"agreement": (low, high), "kappa": (low, high)}``; resamples where kappa is undefined are left out.
    """
    n = len(first)
    if n == 0:
        return {"agreement": (math.nan, math.nan), "kappa": (math.nan, math.nan)}
    categories = {c: k for k, c in enumerate(sorted(set(first) | set(second), key=str))}
    a = np.array([categories[c] for c in first])  # [N]
    b = np.array([categories[c] for c in second])  # [N]
    index = np.random.default_rng(seed).integers(0, n, size=(resamples, n))  # [R, N]
    ra, rb = a[index], b[index]  # [R, N]
    observed = (ra == rb).mean(axis=1)  # [R]
    expected = sum((ra == k).mean(axis=1) * (rb == k).mean(axis=1) for k in categories.values())  # [R]
    defined = expected < 1
    kappa = (observed[defined] - expected[defined]) / (1 - expected[defined])  # [R']
    tail = 100 * (1 - level) / 2
    out = {"agreement": tuple(float(v) for v in np.percentile(observed, [tail, 100 - tail]))}
    out["kappa"] = (
        tuple(float(v) for v in np.percentile(kappa, [tail, 100 - tail]))
        if kappa.size
        else (math.nan, math.nan)
    )
    return out  # type: ignore[return-value]
