"""The accuracy reward: 1 when the answer names the gold label after the dataset's normaliser, else 0."""

from __future__ import annotations

import torch

from ervlight.labels import get_label_space
from ervlight.parsing import parse_completion
from ervlight.rewards.base import RewardInputs

__all__ = ["AccuracyReward"]


class AccuracyReward:
    """Compare the ``<answer>`` content (the whole completion without the tag) with the gold label.

    Args:
        strict: the reference rule (lower-case and strip, then the dataset's synonym table) when ``True``; the
            lenient normaliser of :meth:`ervlight.labels.LabelSpace.normalize` (punctuation and quotes ignored)
            when ``False``.
    """

    name = "accuracy"

    def __init__(self, strict: bool = True) -> None:
        self.strict = strict

    def __call__(self, inputs: RewardInputs) -> torch.Tensor:
        """``[N]`` float rewards; an unparseable answer scores 0."""
        rewards = []
        for completion, label, dataset in zip(
            inputs.completions, inputs.labels, inputs.datasets, strict=True
        ):
            space = get_label_space(dataset)
            answer = parse_completion(completion).answer_or_text(completion)
            rewards.append(float(space.normalize(answer, strict=self.strict) == space.normalize(label)))
        return torch.tensor(rewards)
