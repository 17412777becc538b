"""The accuracy reward: 1 when the answer names the gold label under the chosen rule, else 0."""

from __future__ import annotations

import torch

from ervlight.labels import get_label_space
from ervlight.parsing import parse_completion
from ervlight.protocol import Protocol, check_protocol, reference_accuracy
from ervlight.rewards.base import RewardInputs

__all__ = ["AccuracyReward"]


class AccuracyReward:
    """Compare a completion's answer with the gold label.

    Args:
        accuracy_rule: ``ervlight`` (default): the tolerant ``<answer>`` parser of :mod:`ervlight.parsing` (the
            whole completion without the tag), then :meth:`ervlight.labels.LabelSpace.normalize` (with ``strict``);
            ``reference``: the reference code's rule, :func:`ervlight.protocol.reference_accuracy` (first single-line
            ``<answer>`` match, its substring mapping, exact comparison with the gold string).
        strict: for the ``ervlight`` rule only: lower-case, strip and look the word up in the synonym table
            (``True``, default), or also ignore punctuation, quotes and accept compound forms (``False``).
    """

    name = "accuracy"

    def __init__(self, strict: bool = True, accuracy_rule: Protocol = "ervlight") -> None:
        self.strict = strict
        self.accuracy_rule = check_protocol(accuracy_rule, "AccuracyReward accuracy_rule")

    def __call__(self, inputs: RewardInputs) -> torch.Tensor:
        """``[N]`` float rewards; an unparseable answer scores 0."""
        rewards = []
        for completion, label, dataset in zip(
            inputs.completions, inputs.labels, inputs.datasets, strict=True
        ):
            space = get_label_space(dataset)
            gold = space.normalize(label)
            if self.accuracy_rule == "reference":
                rewards.append(reference_accuracy(completion, gold, dataset) if gold is not None else 0.0)
                continue
            answer = parse_completion(completion).answer_or_text(completion)
            rewards.append(float(space.normalize(answer, strict=self.strict) == gold))
        return torch.tensor(rewards)
