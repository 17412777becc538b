"""``GRPOConfig``: the GRPO algorithm's options under TRL's names, validated once at construction."""

from __future__ import annotations

from dataclasses import dataclass
from typing import get_args

from ervlight.grpo.advantages import Aggregation, ScaleRewards
from ervlight.grpo.loss import LossType
from ervlight.policy.base import SamplingConfig

__all__ = ["GRPOConfig"]

_LOSS_TYPES = get_args(LossType)
_SCALES = get_args(ScaleRewards)
_AGGREGATIONS = get_args(Aggregation)


@dataclass(frozen=True)
class GRPOConfig:
    """What one GRPO step does: sampling, advantages, loss and the optimisation pass (TRL's option names).

    Attributes:
        num_generations: ``G``, completions per prompt (>= 2).
        max_completion_length: new tokens per completion (>= 1).
        temperature: sampling temperature (also divides the logits when scoring, as in TRL).
        top_p: nucleus sampling (1 = off).
        top_k: top-k sampling (0 = off).
        loss_type: ``grpo`` (the reference), ``bnpo``, ``dr_grpo`` or ``dapo``.
        beta: KL coefficient; 0 uses no reference model.
        epsilon: lower clipping range of the ratio.
        epsilon_high: upper clipping range (``None``: ``epsilon``).
        num_iterations: optimiser updates per rollout (> 1 keeps the sampling log-probs for clipping).
        scale_rewards: ``group`` (reference), ``batch`` or ``none``.
        multi_objective_aggregation: ``sum_then_normalize`` (reference) or ``normalize_then_sum``.
        mask_truncated_completions: leave completions without EOS out of the loss.
        filter_zero_std_groups: leave out groups whose ``filter_reward`` does not vary (no signal).
        filter_reward: name of the reward the filter looks at.
        micro_batch_size: completions per forward/backward pass (``None``: the whole step at once).
        logprob_chunk_size: completion tokens per LM-head chunk in log-prob passes.
        max_grad_norm: gradient clipping by global norm (``None``: off).
        seed: base seed of the sampling generators (one per step and rank).
    """

    num_generations: int = 4
    max_completion_length: int = 512
    temperature: float = 1.0
    top_p: float = 1.0
    top_k: int = 0
    loss_type: LossType = "grpo"
    beta: float = 0.04
    epsilon: float = 0.2
    epsilon_high: float | None = None
    num_iterations: int = 1
    scale_rewards: ScaleRewards = "group"
    multi_objective_aggregation: Aggregation = "sum_then_normalize"
    mask_truncated_completions: bool = False
    filter_zero_std_groups: bool = False
    filter_reward: str = "accuracy"
    micro_batch_size: int | None = None
    logprob_chunk_size: int = 1024
    max_grad_norm: float | None = 1.0
    seed: int = 0

    def __post_init__(self) -> None:
        for problem in _problems(self):
            raise ValueError(f"GRPOConfig: {problem}")

    @property
    def sampling(self) -> SamplingConfig:
        """The training sampler's settings (always sampling, never greedy)."""
        return SamplingConfig(self.temperature, self.top_p, self.top_k, self.max_completion_length, True)

    @property
    def uses_reference(self) -> bool:
        """Whether the loss has a KL term, hence needs reference log-probs (``beta != 0``)."""
        return self.beta != 0.0


def _problems(config: GRPOConfig) -> list[str]:
    """Every invalid value of ``config``, one message each (empty when all are valid)."""
    checks = [
        (config.num_generations >= 2, f"num_generations must be >= 2 for group-relative advantages, "
         f"got {config.num_generations}"),
        (config.num_iterations >= 1, f"num_iterations must be >= 1, got {config.num_iterations}"),
        (config.max_completion_length >= 1,
         f"max_completion_length must be >= 1, got {config.max_completion_length}"),
        (config.temperature > 0, f"temperature must be > 0 (GRPO samples), got {config.temperature}"),
        (0 < config.top_p <= 1, f"top_p must be in (0, 1], got {config.top_p}"),
        (config.top_k >= 0, f"top_k must be >= 0 (0 = off), got {config.top_k}"),
        (config.loss_type in _LOSS_TYPES, f"loss_type must be one of {_LOSS_TYPES}, got {config.loss_type!r}"),
        (config.beta >= 0, f"beta must be >= 0, got {config.beta}"),
        (config.epsilon >= 0, f"epsilon must be >= 0, got {config.epsilon}"),
        (config.epsilon_high is None or config.epsilon_high >= 0,
         f"epsilon_high must be >= 0 or None, got {config.epsilon_high}"),
        (config.scale_rewards in _SCALES, f"scale_rewards must be one of {_SCALES}, got {config.scale_rewards!r}"),
        (config.multi_objective_aggregation in _AGGREGATIONS,
         f"multi_objective_aggregation must be one of {_AGGREGATIONS}, got {config.multi_objective_aggregation!r}"),
        (config.micro_batch_size is None or config.micro_batch_size >= 1,
         f"micro_batch_size must be >= 1 or None, got {config.micro_batch_size}"),
        (config.logprob_chunk_size >= 1, f"logprob_chunk_size must be >= 1, got {config.logprob_chunk_size}"),
        (config.max_grad_norm is None or config.max_grad_norm > 0,
         f"max_grad_norm must be > 0 or None, got {config.max_grad_norm}"),
    ]  # fmt: skip
    return [message for ok, message in checks if not ok]
