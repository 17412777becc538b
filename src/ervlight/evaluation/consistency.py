"""Functional recognition and consistency metrics (WAR, UAR, EEA, EPC, FCR…) over label indices.

Every metric is a reduction of one joint count tensor ``[C, C+1, C+1]``: gold class x predicted index x judged
index, where column ``C`` of the last two axes collects the unparseable predictions (``-1`` from
:meth:`ervlight.labels.LabelSpace.encode`) and the unjudged rationales (a judge's ``None``). Counts add, so
chunked or distributed updates sum to the counts of one update. Definitions follow method.md "Evaluation":

* **WAR** = correct / N; **UAR** = mean per-class recall (see :data:`UARClasses`);
* **EEA** = #(judged = gold) / N; **EPC** = #(predicted = judged) / N;
* **FCR** = #(predicted = gold = judged) / N (joint, as the reference evaluation script);
* **FCR given correct** = #(predicted = gold = judged) / #(predicted = gold) (the conditional reading of FCR).

Unparseable answers and unjudged rationales count as wrong and stay in every denominator; an unparseable
answer never "agrees" with an unjudged rationale. A ratio with a zero denominator is ``nan`` (undefined).
"""

from __future__ import annotations

from typing import Literal

import torch

from ervlight.labels import UNPARSEABLE

__all__ = [
    "UARClasses",
    "confusion_matrix",
    "confusion_matrix_from_counts",
    "eea",
    "eea_from_counts",
    "epc",
    "epc_from_counts",
    "fcr",
    "fcr_from_counts",
    "fcr_given_correct",
    "fcr_given_correct_from_counts",
    "format_rate",
    "format_rate_from_counts",
    "joint_counts",
    "per_class_recall",
    "per_class_recall_from_counts",
    "uar",
    "uar_from_counts",
    "unjudged_count",
    "unjudged_count_from_counts",
    "unparseable_rate",
    "unparseable_rate_from_counts",
    "war",
    "war_from_counts",
]

#: Which classes UAR averages over: ``"present"`` = classes with gold support (R1-Omni's sklearn
#: ``recall_score(labels=unique(y_true))``; the default), ``"all"`` = all ``C`` classes, an absent class
#: adding 0. On a full official fold every class is present and both agree.
UARClasses = Literal["present", "all"]


def _check_indices(name: str, values: torch.Tensor, num_classes: int, allow_missing: bool) -> None:
    """Raise ``ValueError`` naming ``name`` unless ``values`` is a 1-D integer tensor of valid indices."""
    if values.ndim != 1 or values.dtype.is_floating_point or values.dtype == torch.bool:
        raise ValueError(
            f"{name} must be a 1-D integer tensor of label indices, got {values.dtype} {tuple(values.shape)}"
        )
    low = UNPARSEABLE if allow_missing else 0
    if values.numel() and (int(values.min()) < low or int(values.max()) >= num_classes):
        raise ValueError(
            f"{name} holds indices outside [{low}, {num_classes - 1}]: {values.unique().tolist()}"
        )


def joint_counts(
    preds: torch.Tensor, target: torch.Tensor, judged: torch.Tensor | None, num_classes: int
) -> torch.Tensor:
    """Count gold x predicted x judged triples ``[C, C+1, C+1]`` int64 (index ``C``: unparseable / unjudged).

    Args:
        preds: ``[N]`` predicted class indices, ``-1`` for unparseable answers.
        target: ``[N]`` gold class indices in ``[0, C)``.
        judged: ``[N]`` judged rationale indices, ``-1`` for unjudged; ``None`` counts all as unjudged.
        num_classes: ``C``.
    """
    if judged is None:
        judged = torch.full_like(target, UNPARSEABLE)
    _check_indices("target", target, num_classes, allow_missing=False)
    _check_indices("preds", preds, num_classes, allow_missing=True)
    _check_indices("judged", judged, num_classes, allow_missing=True)
    if not preds.shape == target.shape == judged.shape:
        raise ValueError(
            f"preds, target and judged differ in length: {preds.numel()}, {target.numel()}, {judged.numel()}"
        )
    width = num_classes + 1
    p = torch.where(preds < 0, num_classes, preds).long()  # [N]
    j = torch.where(judged < 0, num_classes, judged).long()  # [N]
    flat = (target.long() * width + p) * width + j  # [N]
    size = num_classes * width * width
    if flat.is_cuda and torch.are_deterministic_algorithms_enabled():
        # CUDA bincount has no deterministic kernel; counting N integers on the CPU is cheap.
        return torch.bincount(flat.cpu(), minlength=size).to(flat.device).reshape(num_classes, width, width)
    return torch.bincount(flat, minlength=size).reshape(num_classes, width, width)  # [C, C+1, C+1]


def _ratio(numerator: torch.Tensor, denominator: torch.Tensor) -> torch.Tensor:
    """``numerator / denominator`` (float32, computed in float64), ``nan`` where the denominator is 0."""
    num, den = numerator.double(), denominator.double().to(numerator.device)
    return torch.where(den > 0, num / den.clamp(min=1), torch.full_like(num, float("nan"))).float()


def confusion_matrix_from_counts(joint: torch.Tensor) -> torch.Tensor:
    """Gold x predicted counts ``[C, C+1]``; the last column counts unparseable answers."""
    return joint.sum(dim=2)


def _correct(joint: torch.Tensor) -> torch.Tensor:
    """Number of correct predictions (scalar)."""
    return torch.diagonal(confusion_matrix_from_counts(joint)).sum()


def war_from_counts(joint: torch.Tensor) -> torch.Tensor:
    """Weighted average recall = overall accuracy (micro); unparseable answers are wrong."""
    return _ratio(_correct(joint), joint.sum())


def per_class_recall_from_counts(joint: torch.Tensor) -> torch.Tensor:
    """Recall of each gold class ``[C]``; ``nan`` for a class without gold samples."""
    confmat = confusion_matrix_from_counts(joint)  # [C, C+1]
    return _ratio(torch.diagonal(confmat), confmat.sum(dim=1))


def uar_from_counts(joint: torch.Tensor, classes: UARClasses = "present") -> torch.Tensor:
    """Unweighted average recall (macro) over the classes chosen by ``classes`` (:data:`UARClasses`)."""
    recall = per_class_recall_from_counts(joint)  # [C]
    present = ~torch.isnan(recall)
    if classes == "present":
        return _ratio(recall[present].sum(), present.sum())
    if classes == "all":
        return _ratio(recall[present].sum(), torch.tensor(recall.numel()))
    raise ValueError(f"UAR classes must be 'present' or 'all', got {classes!r}")


def unparseable_rate_from_counts(joint: torch.Tensor) -> torch.Tensor:
    """Share of answers outside the label set (or without any answer)."""
    return _ratio(confusion_matrix_from_counts(joint)[:, -1].sum(), joint.sum())


def eea_from_counts(joint: torch.Tensor) -> torch.Tensor:
    """Explanation emotion accuracy: share of rationales judged as the gold emotion."""
    gold_by_judged = joint.sum(dim=1)  # [C, C+1]
    return _ratio(torch.diagonal(gold_by_judged).sum(), joint.sum())


def epc_from_counts(joint: torch.Tensor) -> torch.Tensor:
    """Explanation-prediction consistency: share where the judged emotion equals the (parsed) answer."""
    pred_by_judged = joint.sum(dim=0)[:-1, :-1]  # [C, C] parseable answers and judged rationales only
    return _ratio(torch.diagonal(pred_by_judged).sum(), joint.sum())


def _faithful(joint: torch.Tensor) -> torch.Tensor:
    """Number of clips with answer = gold = judged emotion (scalar)."""
    c = joint.shape[0]
    idx = torch.arange(c, device=joint.device)
    return joint[idx, idx, idx].sum()


def fcr_from_counts(joint: torch.Tensor) -> torch.Tensor:
    """Faithful consistency rate (joint, as the reference script): share with answer = gold = judged."""
    return _ratio(_faithful(joint), joint.sum())


def fcr_given_correct_from_counts(joint: torch.Tensor) -> torch.Tensor:
    """FCR conditional on a correct prediction: faithful clips / correctly answered clips."""
    return _ratio(_faithful(joint), _correct(joint))


def unjudged_count_from_counts(joint: torch.Tensor) -> torch.Tensor:
    """Number of rationales the judge left unjudged (``None``: no answer in the label list, or a failure)."""
    return joint.sum(dim=(0, 1))[-1]


def format_rate_from_counts(formatted: torch.Tensor, total: torch.Tensor) -> torch.Tensor:
    """Share of well-formatted completions from the two counts."""
    return _ratio(formatted, total)


def format_rate(well_formatted: torch.Tensor) -> torch.Tensor:
    """Share of completions that pass the strict reference format check (``[N]`` bool in)."""
    return format_rate_from_counts(well_formatted.bool().sum(), torch.tensor(well_formatted.numel()))


# -- functional twins of the Metric classes (one call = one update + compute) --------------------------------
def war(preds: torch.Tensor, target: torch.Tensor, num_classes: int) -> torch.Tensor:
    """WAR of ``[N]`` predicted (``-1`` = unparseable) and gold indices."""
    return war_from_counts(joint_counts(preds, target, None, num_classes))


def uar(
    preds: torch.Tensor, target: torch.Tensor, num_classes: int, classes: UARClasses = "present"
) -> torch.Tensor:
    """UAR of ``[N]`` predicted and gold indices, averaged over ``classes`` (:data:`UARClasses`)."""
    return uar_from_counts(joint_counts(preds, target, None, num_classes), classes)


def per_class_recall(preds: torch.Tensor, target: torch.Tensor, num_classes: int) -> torch.Tensor:
    """Per-class recall ``[C]`` (``nan`` for classes without gold samples)."""
    return per_class_recall_from_counts(joint_counts(preds, target, None, num_classes))


def confusion_matrix(preds: torch.Tensor, target: torch.Tensor, num_classes: int) -> torch.Tensor:
    """Gold x predicted counts ``[C, C+1]``, the last column for unparseable answers."""
    return confusion_matrix_from_counts(joint_counts(preds, target, None, num_classes))


def unparseable_rate(preds: torch.Tensor, target: torch.Tensor, num_classes: int) -> torch.Tensor:
    """Share of unparseable answers."""
    return unparseable_rate_from_counts(joint_counts(preds, target, None, num_classes))


def eea(preds: torch.Tensor, target: torch.Tensor, judged: torch.Tensor, num_classes: int) -> torch.Tensor:
    """EEA of ``[N]`` predicted, gold and judged (``-1`` = unjudged) indices."""
    return eea_from_counts(joint_counts(preds, target, judged, num_classes))


def epc(preds: torch.Tensor, target: torch.Tensor, judged: torch.Tensor, num_classes: int) -> torch.Tensor:
    """EPC of ``[N]`` predicted, gold and judged indices."""
    return epc_from_counts(joint_counts(preds, target, judged, num_classes))


def fcr(preds: torch.Tensor, target: torch.Tensor, judged: torch.Tensor, num_classes: int) -> torch.Tensor:
    """Joint FCR of ``[N]`` predicted, gold and judged indices."""
    return fcr_from_counts(joint_counts(preds, target, judged, num_classes))


def fcr_given_correct(
    preds: torch.Tensor, target: torch.Tensor, judged: torch.Tensor, num_classes: int
) -> torch.Tensor:
    """FCR conditional on a correct prediction, of ``[N]`` predicted, gold and judged indices."""
    return fcr_given_correct_from_counts(joint_counts(preds, target, judged, num_classes))


def unjudged_count(
    preds: torch.Tensor, target: torch.Tensor, judged: torch.Tensor, num_classes: int
) -> torch.Tensor:
    """Number of unjudged rationales among ``[N]`` judged indices."""
    return unjudged_count_from_counts(joint_counts(preds, target, judged, num_classes))
