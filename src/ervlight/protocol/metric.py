"""WAR/UAR under the reference scripts' counting as a torchmetrics ``Metric`` (``ervlight test`` with
``protocol: reference``): per-class sums that add up across batches and processes, computed by the same rule as
:func:`~ervlight.protocol.counting.reference_recognition`."""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torchmetrics import Metric

from ervlight.labels import get_label_space
from ervlight.protocol.counting import recognition_from_counts, recognition_outcome
from ervlight.protocol.reference import REFERENCE_DATASETS

__all__ = ["REFERENCE_METRICS", "ReferenceRecognitionMetric"]

#: The keys :meth:`ReferenceRecognitionMetric.compute` returns (suffixed, so they are never read as ervlight's own).
REFERENCE_METRICS = ("war_reference", "uar_reference", "unparseable_reference")


class ReferenceRecognitionMetric(Metric):
    """``eval_score.py``'s WAR and UAR of one dataset, and its count of unparseable answers.

    Args:
        dataset: ``dfew`` or ``mafw`` (the datasets the reference scripts evaluate).
    """

    full_state_update = False
    higher_is_better = True

    correct: torch.Tensor
    totals: torch.Tensor
    unparseable: torch.Tensor

    def __init__(self, dataset: str) -> None:
        super().__init__()
        if dataset not in REFERENCE_DATASETS:
            raise ValueError(
                f"the reference protocol evaluates {', '.join(REFERENCE_DATASETS)} only, not {dataset!r}"
            )
        self.dataset = dataset
        self.labels = get_label_space(dataset).labels
        classes = len(self.labels)
        self.add_state("correct", torch.zeros(classes, dtype=torch.long), dist_reduce_fx="sum")  # [C]
        self.add_state("totals", torch.zeros(classes, dtype=torch.long), dist_reduce_fx="sum")  # [C]
        self.add_state("unparseable", torch.zeros((), dtype=torch.long), dist_reduce_fx="sum")

    def update(self, completions: Sequence[str], target: torch.Tensor) -> None:
        """Count completions against ``[N]`` gold class indices (label-space order)."""
        if len(completions) != int(target.numel()):
            raise ValueError(f"{len(completions)} completions for {int(target.numel())} gold labels")
        for completion, index in zip(completions, target.tolist(), strict=True):
            counted, right, lost = recognition_outcome(completion, self.labels[index], self.dataset)
            self.totals[index] += int(counted)
            self.correct[index] += int(right)
            self.unparseable += int(lost)

    @property
    def clips(self) -> int:
        """Clips counted so far (MAFW's unparseable answers are in no class total)."""
        lost = 0 if self.dataset == "dfew" else int(self.unparseable)
        return int(self.totals.sum()) + lost

    def compute(self) -> dict[str, torch.Tensor]:
        """``war_reference`` and ``uar_reference`` (fractions) and ``unparseable_reference`` (a count)."""
        result = recognition_from_counts(
            self.correct.tolist(), self.totals.tolist(), int(self.unparseable), self.dataset
        )
        values = (result.war, result.uar, float(result.unparseable))
        return {key: torch.tensor(value) for key, value in zip(REFERENCE_METRICS, values, strict=True)}
