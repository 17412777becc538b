"""Learning-rate schedules over the whole run, per optimiser step.

* :class:`WarmupCosineLR` — linear warm-up, then a cosine decay (the reference SFT schedule: cosine, 3% warm-up);
* :class:`WarmupLinearLR` — linear warm-up, then a linear decay to 0 (with ``warmup_ratio=0``: the Hugging Face
  Trainer's default schedule, which the reference GRPO run used).

Both are :class:`RunLengthLR`: without ``total_steps`` the task fills in the run's optimiser steps
(:meth:`ervlight.tasks.base.BaseModule.optimizer_steps`) before training starts, so YAML needs no step count::

    lr_scheduler: {class_path: ervlight.tasks.schedules.WarmupLinearLR, init_args: {warmup_ratio: 0.0}}
"""

from __future__ import annotations

import math
from abc import ABC, abstractmethod

from torch.optim import Optimizer
from torch.optim.lr_scheduler import LambdaLR

__all__ = ["RunLengthLR", "WarmupCosineLR", "WarmupLinearLR"]


class RunLengthLR(LambdaLR, ABC):
    """A multiplier of the initial learning rate that depends on the step and the run's length.

    Args:
        optimizer: the optimizer whose learning rates are scaled.
        total_steps: optimiser steps of the whole run; ``None`` lets the task fill it in before training starts.
        warmup_ratio: share of the steps spent warming up linearly from 0.
        min_ratio: final learning rate as a share of the initial one.
    """

    def __init__(
        self,
        optimizer: Optimizer,
        total_steps: int | None = None,
        warmup_ratio: float = 0.0,
        min_ratio: float = 0.0,
    ) -> None:
        if not 0.0 <= warmup_ratio < 1.0:
            raise ValueError(f"warmup_ratio must be in [0, 1), got {warmup_ratio}")
        self.total_steps = total_steps
        self.warmup_ratio = warmup_ratio
        self.min_ratio = min_ratio
        super().__init__(optimizer, self.factor)

    def factor(self, step: int) -> float:
        """Multiplier of the initial learning rate at optimiser step ``step``."""
        total = self.total_steps
        if total is None:
            return 0.0 if self.warmup_ratio > 0 else 1.0
        warmup = math.ceil(self.warmup_ratio * total)
        if step < warmup:
            return step / warmup
        progress = min(1.0, (step - warmup) / max(1, total - warmup))
        return self.min_ratio + (1.0 - self.min_ratio) * self.decay(progress)

    @abstractmethod
    def decay(self, progress: float) -> float:
        """The decay from 1 to 0 over ``progress`` in [0, 1] after the warm-up (each schedule defines its shape)."""


class WarmupCosineLR(RunLengthLR):
    """Linear warm-up over ``warmup_ratio`` of the steps (default 3%), then a cosine to ``min_ratio``."""

    def __init__(
        self,
        optimizer: Optimizer,
        total_steps: int | None = None,
        warmup_ratio: float = 0.03,
        min_ratio: float = 0.0,
    ) -> None:
        super().__init__(optimizer, total_steps, warmup_ratio, min_ratio)

    def decay(self, progress: float) -> float:
        """Half a cosine period."""
        return 0.5 * (1.0 + math.cos(math.pi * progress))


class WarmupLinearLR(RunLengthLR):
    """Linear warm-up over ``warmup_ratio`` of the steps (default none), then a straight line to ``min_ratio``.

    With the defaults the learning rate falls from its initial value at step 0 to 0 at ``total_steps``, as
    Hugging Face's ``get_linear_schedule_with_warmup`` with no warm-up steps.
    """

    def decay(self, progress: float) -> float:
        """A straight line."""
        return 1.0 - progress
