"""A deterministic, stratified validation split carved from a training listing (model selection off the test lists).

MAFW and DFEW publish train and test lists only. Validating on a fold's test list selects the checkpoint on the
test set, so ervlight holds out a share of the training clips instead: per (dataset, gold label) stratum, the
clips are ordered by id, shuffled with a generator seeded by ``seed`` and the stratum's name, and the first
``round(fraction * n)`` go to validation. The result depends on the training list, ``fraction`` and ``seed`` only
(not on file order or Python's hash seed). A clip listed twice (two sources) stays on one side; records without a
gold label stay in training.
"""

from __future__ import annotations

import hashlib
import random
from collections import defaultdict
from collections.abc import Sequence

from ervlight.data.records import ClipRecord

__all__ = ["stratified_holdout"]


def _stratum_seed(seed: int, dataset: str, label: str) -> int:
    """A generator seed of one stratum that does not depend on Python's string hashing."""
    digest = hashlib.sha256(f"{seed}\0{dataset}\0{label}".encode()).digest()
    return int.from_bytes(digest[:8], "big")


def stratified_holdout(
    records: Sequence[ClipRecord], fraction: float, seed: int = 0
) -> tuple[list[ClipRecord], list[ClipRecord]]:
    """``(train, val)``: ``round(fraction * n)`` clips of each (dataset, label) stratum of ``n`` clips held out.

    Both lists keep the input order. ``ValueError`` unless ``0 <= fraction < 1``.
    """
    if not 0.0 <= fraction < 1.0:
        raise ValueError(f"val_fraction must lie in [0, 1), got {fraction}")
    strata: dict[tuple[str, str], set[str]] = defaultdict(set)
    for record in records:
        if record.label is not None:
            strata[(record.dataset, record.label)].add(record.clip_id)
    held: set[tuple[str, str]] = set()
    for (dataset, label), ids in sorted(strata.items()):
        ordered = sorted(ids)
        random.Random(_stratum_seed(seed, dataset, label)).shuffle(ordered)
        held.update((dataset, clip) for clip in ordered[: round(fraction * len(ordered))])
    train = [r for r in records if (r.dataset, r.clip_id) not in held]
    val = [r for r in records if (r.dataset, r.clip_id) in held]
    return train, val
