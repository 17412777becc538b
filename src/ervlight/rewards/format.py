"""The format reward: 1 for a completion in the strict R1 format, else 0 (reference behaviour)."""

from __future__ import annotations

import torch

from ervlight.parsing import is_well_formatted
from ervlight.rewards.base import RewardInputs

__all__ = ["FormatReward"]


class FormatReward:
    """``1.0`` if the whole completion matches ``<think>.*?</think>\\s*<answer>.*?</answer>``, else ``0.0``."""

    name = "format"

    def __call__(self, inputs: RewardInputs) -> torch.Tensor:
        """``[N]`` float rewards."""
        return torch.tensor([float(is_well_formatted(c)) for c in inputs.completions])
