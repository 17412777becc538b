"""GRPO's algorithm: options, rollout types, group-relative advantages, the loss, the optimisation step, statistics.

The LightningModule that runs it is :class:`ervlight.tasks.grpo.GRPOModule`; ``ervlight.grpo.GRPOModule`` still
names it (imported on first use, so this package never imports the task layer at load time).
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from ervlight.grpo.advantages import aggregate_advantages, group_advantages, zero_std_groups
from ervlight.grpo.config import GRPOConfig
from ervlight.grpo.loss import GRPOLoss, k3_kl, normaliser_count
from ervlight.grpo.types import LossStats, PromptBatch, Rollout

if TYPE_CHECKING:
    from ervlight.tasks.grpo import GRPOModule

__all__ = [
    "GRPOConfig",
    "GRPOLoss",
    "GRPOModule",
    "LossStats",
    "PromptBatch",
    "Rollout",
    "aggregate_advantages",
    "group_advantages",
    "k3_kl",
    "normaliser_count",
    "zero_std_groups",
]


def __getattr__(name: str) -> Any:
    """``GRPOModule`` from its new home, :mod:`ervlight.tasks.grpo`, on first access."""
    if name == "GRPOModule":
        return importlib.import_module("ervlight.tasks.grpo").GRPOModule
    raise AttributeError(f"module 'ervlight.grpo' has no attribute {name!r}")
