"""The report under the reference protocol: the reference evaluation scripts' reading and counting, per group.

``ervlight report --protocol reference|both`` counts each (dataset, fold) group with
:func:`ervlight.protocol.reference_recognition` (WAR/UAR as ``eval_score.py``) and
:func:`ervlight.protocol.reference_explanation` (EEA/EPC/FCR as ``compare_reason-recognition.py``). The judge
reads the rationale as the reference judge script cuts it (:func:`ervlight.protocol.script_rationale`); a
rationale the judge leaves unjudged (or an empty one, which is not sent) counts in the script's "false / false"
cell, as does an answer the script cannot read. The reference judge preset itself never leaves one unjudged: it
maps every reply outside the label list to ``neutral``.
"""

from __future__ import annotations

import math
import statistics
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Literal, get_args

from ervlight.evaluation.predictions import PredictionRecord
from ervlight.protocol import reference_explanation, reference_recognition, script_rationale

__all__ = [
    "REFERENCE_SCALARS",
    "REPORT_PROTOCOLS",
    "ReferenceGroup",
    "ReportProtocol",
    "check_report_protocol",
    "reference_group",
    "reference_rationales",
    "summarise",
]

#: What ``ervlight report --protocol`` accepts: one protocol, or ``both`` side by side.
ReportProtocol = Literal["ervlight", "reference", "both"]
#: The report protocols, default first.
REPORT_PROTOCOLS: tuple[str, ...] = get_args(ReportProtocol)
#: Scalars of a reference-protocol group, in table order, with their column titles (the last two are counts).
REFERENCE_SCALARS: dict[str, str] = {
    "war": "WAR",
    "uar": "UAR",
    "eea": "EEA",
    "epc": "EPC",
    "fcr": "FCR",
    "unparseable": "unparseable",
    "unreadable": "unreadable",
}


def check_report_protocol(name: str) -> ReportProtocol:
    """``name`` if it is a report protocol; ``ValueError`` naming the valid ones otherwise."""
    if name not in REPORT_PROTOCOLS:
        raise ValueError(f"protocol must be one of {', '.join(REPORT_PROTOCOLS)}, got {name!r}")
    return name  # type: ignore[return-value]


@dataclass(frozen=True)
class ReferenceGroup:
    """One (dataset, fold) group counted as the reference scripts count.

    Attributes:
        dataset: ``dfew`` or ``mafw``.
        fold: the fold (``None`` when the records name none).
        num_clips: ``N`` (every rate divides by it, UAR's per-class recall aside).
        metrics: :data:`REFERENCE_SCALARS` (rates in [0, 1]; ``unparseable``: answers ``eval_score.py`` maps to no
            label; ``unreadable``: clips in the comparison script's false / false cell for want of an answer or a
            judged label).
        per_class_recall: recall per class (``None`` when the class's denominator is 0; it counts 0 in UAR).
        class_totals: each class's recall denominator.
    """

    dataset: str
    fold: int | None
    num_clips: int
    metrics: dict[str, float]
    per_class_recall: dict[str, float | None]
    class_totals: dict[str, int]

    @property
    def key(self) -> str:
        """``dfew/fold1`` (``dfew/all`` without a fold)."""
        return f"{self.dataset}/{'all' if self.fold is None else f'fold{self.fold}'}"

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready."""
        return {
            "dataset": self.dataset,
            "fold": self.fold,
            "num_clips": self.num_clips,
            "metrics": self.metrics,
            "per_class_recall": self.per_class_recall,
            "class_totals": self.class_totals,
        }


def reference_rationales(records: Sequence[PredictionRecord]) -> list[str | None]:
    """The rationale the reference judge script reads from each completion (``None`` when it is empty)."""
    return [script_rationale(record.completion) or None for record in records]


def reference_group(
    dataset: str, fold: int | None, records: Sequence[PredictionRecord], judged: Sequence[str | None]
) -> ReferenceGroup:
    """Count one group; ``judged`` holds the judge's label of each record's reference rationale."""
    completions = [record.completion for record in records]
    gold = [record.gold for record in records]
    recognition = reference_recognition(completions, gold, dataset)
    explanation = reference_explanation(completions, gold, judged, dataset)
    metrics = {
        "war": recognition.war,
        "uar": recognition.uar,
        "eea": explanation.eea,
        "epc": explanation.epc,
        "fcr": explanation.fcr,
        "unparseable": float(recognition.unparseable),
        "unreadable": float(explanation.unreadable),
    }
    return ReferenceGroup(
        dataset, fold, len(records), metrics, recognition.per_class_recall, recognition.class_totals
    )


def summarise(
    groups: Sequence[Any], keys: Sequence[str]
) -> dict[str, dict[str, dict[str, float | int | None]]]:
    """Per dataset and scalar of ``keys``: mean, sample std (``None`` with one fold) and the number of folds.

    ``groups`` are any results with ``dataset`` and a ``metrics`` dict (``nan`` values are left out).
    """
    out: dict[str, dict[str, dict[str, float | int | None]]] = {}
    for dataset in sorted({g.dataset for g in groups}):
        members = [g for g in groups if g.dataset == dataset]
        out[dataset] = {}
        for key in keys:
            values = [g.metrics[key] for g in members if not math.isnan(g.metrics[key])]
            out[dataset][key] = {
                "mean": statistics.fmean(values) if values else None,
                "std": statistics.stdev(values) if len(values) > 1 else None,
                "folds": len(values),
            }
    return out
