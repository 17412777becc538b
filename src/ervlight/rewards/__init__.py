"""Reward functions for GRPO: format, accuracy and the explanation (ERV) reward, behind one protocol."""

from ervlight.rewards.base import RewardFunction, RewardInputs

__all__ = ["RewardFunction", "RewardInputs"]
