"""GRPO: rollout types, group-relative advantages, the loss for every loss_type, statistics and the module."""

from ervlight.grpo.advantages import aggregate_advantages, group_advantages, zero_std_groups
from ervlight.grpo.loss import GRPOLoss, k3_kl, normaliser_count
from ervlight.grpo.module import GRPOModule
from ervlight.grpo.types import LossStats, PromptBatch, Rollout

__all__ = [
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
