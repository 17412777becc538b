"""The EMER-style cold-start file: R1-Omni JSON records with a reasoning target for a subset of clips.

The subset is drawn from the TRAIN split of fold 1 of each dataset only (the demo evaluates on fold 1's test split),
stratified by class, and never from the fold-1 training clips that fold 2's test list holds: those are the demo's
development split (perception's held-out accuracy and the SFT design choices are measured on them), so no
policy stage trains on them before they are read. A fixed share of the rationales (``incoherent_fraction``, rounded
to a whole number of records) contains one sentence pointing to a different emotion than the label, the
incoherence a cold-started policy inherits and the explanation reward removes.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from ervlight.data.readers.r1omni import R1OMNI_QUESTION
from ervlight.demo.plan import DatasetPlan
from ervlight.demo.text import rationale
from ervlight.demo.trees import clip_path
from ervlight.labels import get_label_space
from ervlight.parsing import format_target

__all__ = ["EMER_FOLD", "EmerSubset", "build_emer"]

#: The fold whose train split the cold-start subset is drawn from.
EMER_FOLD = 1
#: The fold whose test list, inside fold 1's train split, is the development split (no cold-start record on it).
DEV_FOLD = 2


@dataclass(frozen=True)
class EmerSubset:
    """The cold-start records (R1-Omni JSON) and, for the manifest, one entry per record's clip."""

    records: list[dict[str, Any]]
    clips: list[dict[str, Any]]


def _choose(plan: DatasetPlan, share: float, rng: np.random.Generator) -> list[int]:
    """Indices of the subset's clips: per class ``round(share * n)`` (at least one) of the ``n`` fold-1 train clips,
    drawn from those outside the development split (fewer when it leaves fewer)."""
    chosen: list[int] = []
    for label in get_label_space(plan.dataset).labels:
        train = [i for i, s in enumerate(plan.specs) if s.label == label and plan.folds[i] != EMER_FOLD]
        members = [i for i in train if plan.folds[i] != DEV_FOLD]
        if members:
            take = min(len(members), max(1, round(share * len(train))))
            chosen += [members[int(j)] for j in rng.permutation(len(members))[:take]]
    return sorted(chosen)


def build_emer(
    plans: dict[str, DatasetPlan], seed: int, share: float, incoherent_fraction: float
) -> EmerSubset:
    """Draw the subset, write one rationale per clip, and mark ``incoherent_fraction`` of them incoherent."""
    rng = np.random.default_rng([seed, 13])
    picked = [(plan, i) for plan in plans.values() for i in _choose(plan, share, rng)]
    odd = set(rng.choice(len(picked), size=round(incoherent_fraction * len(picked)), replace=False).tolist())
    records, clips = [], []
    for n, (plan, i) in enumerate(picked):
        spec = plan.specs[i]
        text_rng = np.random.default_rng([seed, 17, 0 if spec.dataset == "dfew" else 1, int(spec.clip_id)])
        reasoning = rationale(spec, n in odd, text_rng)
        answer = get_label_space(spec.dataset).export(spec.label, "r1omni")
        video = clip_path(spec.dataset, spec.clip_id)
        records.append({
            "video": video,
            "dataset": spec.dataset,
            "conversations": [
                {"from": "human", "value": R1OMNI_QUESTION},
                {"from": "gpt", "value": format_target(reasoning.text, answer)},
            ],
        })  # fmt: skip
        clips.append({"video": video, "dataset": spec.dataset, "clip_id": spec.clip_id, "label": spec.label,
                      "incoherent_with": reasoning.incoherent_with})  # fmt: skip
    return EmerSubset(records, clips)
