"""Verifier metrics per stage: micro/macro F1, exact match (multi-label) or accuracy, per-class recall.

Both kinds of verifier accumulate per-class true/false positives and negatives in one torchmetrics
``StatScores`` state (summed across processes), and the figures derive from it. Macro F1 and per-class recall
average over the labels that occur in the evaluated targets only: a GoEmotions verifier trained on rationale
sentences never sees most of the 28 labels, and counting those as F1 = 0 would only measure the label space.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import nn
from torchmetrics.classification import MulticlassStatScores, MultilabelExactMatch, MultilabelStatScores

__all__ = ["VerifierMetrics", "hard_targets"]


def hard_targets(targets: torch.Tensor, multi_label: bool, threshold: float = 0.5) -> torch.Tensor:
    """Hard targets for metrics: multi-hot ``[B, K]`` long, or ``[B]`` class indices (argmax of soft targets)."""
    if multi_label:
        return (targets >= threshold).long()
    return targets if targets.ndim == 1 else targets.argmax(dim=-1)


class VerifierMetrics(nn.Module):
    """Accumulate one stage's predictions and report its figures as ``{name: scalar}``.

    Args:
        labels: the verifier's labels (per-class recall is reported as ``recall/<label>``).
        multi_label: sigmoid multi-label (exact match) or softmax single-label (accuracy).
        threshold: probability above which a label counts as predicted (multi-label).
    """

    def __init__(self, labels: Sequence[str], multi_label: bool, threshold: float = 0.5) -> None:
        super().__init__()
        self.labels = tuple(labels)
        self.multi_label = multi_label
        self.threshold = threshold
        num = len(self.labels)
        self.stats: MultilabelStatScores | MulticlassStatScores
        if multi_label:
            self.stats = MultilabelStatScores(num_labels=num, threshold=threshold, average=None)
            self.exact_match = MultilabelExactMatch(num_labels=num, threshold=threshold)
        else:
            self.stats = MulticlassStatScores(num_classes=num, average=None)

    def update(self, logits: torch.Tensor, targets: torch.Tensor) -> None:
        """Add a batch: ``logits [B, K]``; targets ``[B, K]`` (multi-hot or probabilities) or ``[B]`` indices."""
        hard = hard_targets(targets, self.multi_label, self.threshold)
        if self.multi_label:
            probs = logits.sigmoid()  # [B, K]
            self.stats.update(probs, hard)
            self.exact_match.update(probs, hard)
        else:
            self.stats.update(logits, hard)

    def compute(self) -> dict[str, torch.Tensor]:
        """``f1_micro``, ``f1_macro``, ``exact_match`` or ``accuracy``, and ``recall/<label>`` per seen label."""
        tp, fp, _, fn, support = self.stats.compute().float().unbind(dim=-1)  # [K] each
        seen = support > 0  # [K]
        f1 = 2 * tp / (2 * tp + fp + fn).clamp(min=1)  # [K]
        recall = tp / support.clamp(min=1)  # [K]
        out = {
            "f1_micro": 2 * tp.sum() / (2 * tp.sum() + fp.sum() + fn.sum()).clamp(min=1),
            "f1_macro": f1[seen].mean() if seen.any() else torch.tensor(0.0),
        }
        if self.multi_label:
            out["exact_match"] = self.exact_match.compute()
        else:
            out["accuracy"] = tp.sum() / support.sum().clamp(min=1)
        out.update({f"recall/{label}": recall[k] for k, label in enumerate(self.labels) if seen[k]})
        return out

    def reset(self) -> None:
        """Forget accumulated batches."""
        self.stats.reset()
        if self.multi_label:
            self.exact_match.reset()
