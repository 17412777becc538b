"""The protocol every reward function follows, so GRPO can weigh a registry of them by name."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol, runtime_checkable

import torch

__all__ = ["RewardFunction", "RewardInputs"]


@dataclass(frozen=True)
class RewardInputs:
    """What a reward sees for ``N`` completions (``N = B * G`` in GRPO, group members adjacent).

    Attributes:
        completions: the decoded completion texts.
        labels: the canonical gold label of each completion's clip.
        datasets: the label-space name of each completion's clip (``"mafw"``, ``"dfew"``…).
    """

    completions: list[str]
    labels: list[str]
    datasets: list[str]

    def __post_init__(self) -> None:
        if not len(self.completions) == len(self.labels) == len(self.datasets):
            raise ValueError(
                f"reward inputs disagree in length: {len(self.completions)} completions, "
                f"{len(self.labels)} labels, {len(self.datasets)} datasets"
            )


@runtime_checkable
class RewardFunction(Protocol):
    """A named reward: ``reward(inputs) -> [N]`` float tensor on the CPU."""

    name: str

    def __call__(self, inputs: RewardInputs) -> torch.Tensor:
        """Score every completion."""
        ...
