"""The results of a consistency report: per (dataset, fold) group metrics and the report they make up."""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ervlight.labels import get_label_space

__all__ = ["GroupResult", "Report"]


@dataclass
class GroupResult:
    """Metrics of one (dataset, fold) group of test clips.

    Attributes:
        dataset: label-space name.
        fold: the fold (``None`` when the records name none).
        num_clips: ``N``.
        metrics: the :data:`~ervlight.evaluation.report_files.SCALARS` values (rates in [0, 1], ``unjudged`` a
            count; ``nan`` when undefined).
        per_class_recall: recall per gold label (``nan`` for a label without clips).
        confusion: gold x predicted counts ``[C, C+1]`` (last column: unparseable answers).
        clips: ``listed`` (every prediction row), ``evaluated`` (generated), ``unreadable`` (missing or undecodable
            clips: counted wrong unless excluded), ``scored`` (``N``, what the metrics count) and ``unjudged``.
    """

    dataset: str
    fold: int | None
    num_clips: int
    metrics: dict[str, float]
    per_class_recall: dict[str, float]
    confusion: list[list[int]]
    clips: dict[str, int] = field(default_factory=dict)

    @property
    def key(self) -> str:
        """``dfew/fold1`` (``dfew/all`` without a fold)."""
        return f"{self.dataset}/{'all' if self.fold is None else f'fold{self.fold}'}"

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready (``nan`` becomes ``None``)."""
        labels = list(get_label_space(self.dataset).labels)
        return {
            "dataset": self.dataset,
            "fold": self.fold,
            "num_clips": self.num_clips,
            "clips": self.clips,
            "metrics": {k: _json_number(v) for k, v in self.metrics.items()},
            "per_class_recall": {k: _json_number(v) for k, v in self.per_class_recall.items()},
            "confusion_matrix": {
                "rows": labels,
                "columns": [*labels, "unparseable"],
                "counts": self.confusion,
            },
        }


@dataclass
class Report:
    """A built report: its groups, per-dataset fold summaries, judge agreement and where it was written."""

    name: str
    judge: str
    groups: list[GroupResult]
    summary: dict[str, dict[str, dict[str, float | int | None]]]
    agreement: list[dict[str, Any]] = field(default_factory=list)
    folder: Path | None = None
    human: dict[str, Any] | None = None

    def to_dict(self) -> dict[str, Any]:
        """The content of ``metrics.json`` (``human`` only when ratings were folded in)."""
        return {
            "name": self.name,
            "judge": self.judge,
            "groups": [group.to_dict() for group in self.groups],
            "summary": self.summary,
            "agreement": self.agreement,
            **({} if self.human is None else {"human": self.human}),
        }


def _json_number(value: float) -> float | None:
    """``None`` for ``nan`` (JSON has no NaN)."""
    return None if math.isnan(value) else float(value)
