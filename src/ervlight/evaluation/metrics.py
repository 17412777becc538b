"""Recognition and consistency metrics as torchmetrics ``Metric`` objects (distributed-safe, standalone).

All metrics here share ONE state layout and ONE update: the joint gold x predicted x judged counts of
:func:`ervlight.evaluation.consistency.joint_counts` plus the format counts, every state summed across
processes. They differ only in ``compute``. So inside a :class:`~torchmetrics.MetricCollection` torchmetrics'
compute groups can safely merge them (they always hold equal states) and update the counts once per batch.

Call a collection with KEYWORD arguments (``preds=…, target=…, judged=…, well_formatted=…``): the collection
hands every metric the same keywords. Inputs are label indices of one label space (:meth:`LabelSpace.encode`):
``preds`` with ``-1`` for unparseable answers, ``judged`` with ``-1`` for unjudged rationales; see
:mod:`ervlight.evaluation.metric_inputs` for turning completions and judge answers into these tensors.
"""

from __future__ import annotations

from typing import Any, ClassVar

import torch
from torchmetrics import Metric, MetricCollection

from ervlight.evaluation import consistency as fn
from ervlight.evaluation.consistency import UARClasses

__all__ = [
    "ConsistencyMetric",
    "ExplanationEmotionAccuracy",
    "ExplanationPredictionConsistency",
    "FaithfulConsistencyGivenCorrect",
    "FaithfulConsistencyRate",
    "FormatRate",
    "PerClassRecall",
    "RecognitionConfusionMatrix",
    "UnjudgedCount",
    "UnparseableRate",
    "UnweightedAverageRecall",
    "WeightedAverageRecall",
    "consistency_metrics",
]


class ConsistencyMetric(Metric):
    """Base of the metrics here: accumulates joint counts ``[C, C+1, C+1]`` and format counts.

    Args:
        num_classes: ``C``, the size of the label space.
        kwargs: passed to :class:`torchmetrics.Metric` (``sync_on_compute``, ``dist_sync_fn``…).
    """

    is_differentiable = False
    higher_is_better: bool | None = True
    full_state_update = False
    #: Inputs this metric cannot be computed without; ``update`` checks ``self.requires``, which a collection
    #: widens to the union over its members (compute groups update only one member per batch).
    required_inputs: ClassVar[tuple[str, ...]] = ()

    joint: torch.Tensor
    formatted: torch.Tensor
    format_total: torch.Tensor

    def __init__(self, num_classes: int, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        if num_classes < 1:
            raise ValueError(f"{type(self).__name__}: num_classes must be >= 1, got {num_classes}")
        self.num_classes = num_classes
        self.requires: tuple[str, ...] = self.required_inputs
        width = num_classes + 1
        self.add_state(
            "joint", torch.zeros(num_classes, width, width, dtype=torch.long), dist_reduce_fx="sum"
        )
        self.add_state("formatted", torch.zeros((), dtype=torch.long), dist_reduce_fx="sum")
        self.add_state("format_total", torch.zeros((), dtype=torch.long), dist_reduce_fx="sum")

    def update(
        self,
        preds: torch.Tensor,
        target: torch.Tensor,
        judged: torch.Tensor | None = None,
        well_formatted: torch.Tensor | None = None,
    ) -> None:
        """Add a batch: ``[N]`` predicted, gold and (optional) judged indices, and ``[N]`` format flags."""
        given = {"judged": judged, "well_formatted": well_formatted}
        missing = [name for name in self.requires if given[name] is None]
        if missing:
            raise ValueError(f"{type(self).__name__}.update needs {', '.join(missing)}")
        self.joint += fn.joint_counts(preds, target, judged, self.num_classes).to(self.joint.device)
        if well_formatted is not None:
            if well_formatted.shape != target.shape:
                raise ValueError(
                    f"well_formatted has shape {tuple(well_formatted.shape)}, target {tuple(target.shape)}"
                )
            self.formatted += well_formatted.bool().sum().to(self.formatted.device)
            self.format_total += well_formatted.numel()


class WeightedAverageRecall(ConsistencyMetric):
    """WAR: overall accuracy (micro); an unparseable answer is wrong and stays in the denominator."""

    def compute(self) -> torch.Tensor:
        """Reduce the accumulated counts."""
        return fn.war_from_counts(self.joint)


class UnweightedAverageRecall(ConsistencyMetric):
    """UAR: mean per-class recall over the gold classes present (default, as R1-Omni) or over all classes.

    Args:
        num_classes: ``C``.
        classes: ``"present"`` or ``"all"`` (:data:`ervlight.evaluation.consistency.UARClasses`).
    """

    def __init__(self, num_classes: int, classes: UARClasses = "present", **kwargs: Any) -> None:
        if classes not in ("present", "all"):
            raise ValueError(f"UnweightedAverageRecall: classes must be 'present' or 'all', got {classes!r}")
        super().__init__(num_classes, **kwargs)
        self.classes: UARClasses = classes

    def compute(self) -> torch.Tensor:
        """Macro recall."""
        return fn.uar_from_counts(self.joint, self.classes)


class PerClassRecall(ConsistencyMetric):
    """Recall of each gold class ``[C]`` (``nan`` for a class without gold samples)."""

    def compute(self) -> torch.Tensor:
        """Reduce the accumulated counts."""
        return fn.per_class_recall_from_counts(self.joint)


class RecognitionConfusionMatrix(ConsistencyMetric):
    """Gold x predicted counts ``[C, C+1]``; the last column counts unparseable answers."""

    higher_is_better = None

    def compute(self) -> torch.Tensor:
        """Reduce the accumulated counts."""
        return fn.confusion_matrix_from_counts(self.joint)


class UnparseableRate(ConsistencyMetric):
    """Share of answers that name no label of the space."""

    higher_is_better = False

    def compute(self) -> torch.Tensor:
        """Reduce the accumulated counts."""
        return fn.unparseable_rate_from_counts(self.joint)


class FormatRate(ConsistencyMetric):
    """Share of completions passing the strict reference format check (needs ``well_formatted``)."""

    required_inputs = ("well_formatted",)

    def compute(self) -> torch.Tensor:
        """Formatted / seen."""
        return fn.format_rate_from_counts(self.formatted, self.format_total)


class ExplanationEmotionAccuracy(ConsistencyMetric):
    """EEA: share of rationales the judge names as the gold emotion (needs ``judged``)."""

    required_inputs = ("judged",)

    def compute(self) -> torch.Tensor:
        """Reduce the accumulated counts."""
        return fn.eea_from_counts(self.joint)


class ExplanationPredictionConsistency(ConsistencyMetric):
    """EPC: share where the judged rationale emotion equals the answer (needs ``judged``)."""

    required_inputs = ("judged",)

    def compute(self) -> torch.Tensor:
        """Reduce the accumulated counts."""
        return fn.epc_from_counts(self.joint)


class FaithfulConsistencyRate(ConsistencyMetric):
    """FCR (joint): share with answer = gold = judged rationale emotion (needs ``judged``)."""

    required_inputs = ("judged",)

    def compute(self) -> torch.Tensor:
        """Reduce the accumulated counts."""
        return fn.fcr_from_counts(self.joint)


class FaithfulConsistencyGivenCorrect(ConsistencyMetric):
    """FCR conditional on a correct answer: faithful clips / correctly answered clips (needs ``judged``)."""

    required_inputs = ("judged",)

    def compute(self) -> torch.Tensor:
        """Reduce the accumulated counts."""
        return fn.fcr_given_correct_from_counts(self.joint)


class UnjudgedCount(ConsistencyMetric):
    """Number of rationales the judge left unjudged (needs ``judged``)."""

    higher_is_better = False
    required_inputs = ("judged",)

    def compute(self) -> torch.Tensor:
        """Reduce the accumulated counts."""
        return fn.unjudged_count_from_counts(self.joint)


def consistency_metrics(
    num_classes: int,
    prefix: str | None = None,
    judged: bool = True,
    formatted: bool = True,
    tables: bool = False,
    uar_classes: UARClasses = "present",
) -> MetricCollection:
    """A :class:`MetricCollection` of the report's metrics, keyed by their short names.

    Keys: ``war uar unparseable_rate``, ``format_rate`` (with ``formatted``), ``eea epc fcr fcr_given_correct
    unjudged`` (with ``judged``), ``per_class_recall confusion_matrix`` (with ``tables``).

    Args:
        num_classes: ``C``.
        prefix: key prefix such as ``"val/"`` or ``"test/"``.
        judged: include the judge-based metrics (then every update needs ``judged=``).
        formatted: include the format rate (then every update needs ``well_formatted=``).
        tables: include the non-scalar per-class recall and confusion matrix (not loggable with ``log_dict``).
        uar_classes: the classes UAR averages over.
    """
    metrics: dict[str, Metric | MetricCollection] = {
        "war": WeightedAverageRecall(num_classes),
        "uar": UnweightedAverageRecall(num_classes, classes=uar_classes),
        "unparseable_rate": UnparseableRate(num_classes),
    }
    if formatted:
        metrics["format_rate"] = FormatRate(num_classes)
    if judged:
        metrics["eea"] = ExplanationEmotionAccuracy(num_classes)
        metrics["epc"] = ExplanationPredictionConsistency(num_classes)
        metrics["fcr"] = FaithfulConsistencyRate(num_classes)
        metrics["fcr_given_correct"] = FaithfulConsistencyGivenCorrect(num_classes)
        metrics["unjudged"] = UnjudgedCount(num_classes)
    if tables:
        metrics["per_class_recall"] = PerClassRecall(num_classes)
        metrics["confusion_matrix"] = RecognitionConfusionMatrix(num_classes)
    members = [m for m in metrics.values() if isinstance(m, ConsistencyMetric)]
    required = tuple(sorted({name for m in members for name in m.required_inputs}))
    for metric in members:
        metric.requires = required
    return MetricCollection(metrics, prefix=prefix)
