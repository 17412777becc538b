"""Reward functions for GRPO: format, accuracy and the explanation (ERV) reward, behind one protocol."""

from ervlight.rewards.accuracy import AccuracyReward
from ervlight.rewards.base import RewardFunction, RewardInputs
from ervlight.rewards.explanation import ExplanationReward
from ervlight.rewards.format import FormatReward

__all__ = ["AccuracyReward", "ExplanationReward", "FormatReward", "RewardFunction", "RewardInputs"]
from ervlight.rewards.registry import RewardRegistry as RewardRegistry, RewardSpec as RewardSpec  # noqa: I001
