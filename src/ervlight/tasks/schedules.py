"""Linear warm-up then cosine decay, per optimiser step (the reference SFT schedule: cosine, 3% warm-up)."""

from __future__ import annotations

import math

from torch.optim import Optimizer
from torch.optim.lr_scheduler import LambdaLR

__all__ = ["WarmupCosineLR"]


class WarmupCosineLR(LambdaLR):
    """Learning rate rises linearly from 0 over ``warmup_ratio`` of the steps, then follows a cosine to ``min_ratio``.

    Args:
        optimizer: the optimizer whose learning rates are scaled.
        total_steps: optimiser steps of the whole run; ``None`` lets the module fill it in from the trainer
            (``trainer.estimated_stepping_batches``) before training starts.
        warmup_ratio: share of the steps spent warming up.
        min_ratio: final learning rate as a share of the initial one.
    """

    def __init__(
        self,
        optimizer: Optimizer,
        total_steps: int | None = None,
        warmup_ratio: float = 0.03,
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
        return self.min_ratio + (1.0 - self.min_ratio) * 0.5 * (1.0 + math.cos(math.pi * progress))
