"""GRPOConfig: TRL's option names, each bad value refused at construction with a message naming the option."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from ervlight.grpo import GRPOConfig
from ervlight.policy.base import SamplingConfig
from ervlight.tasks.grpo import GRPOModule


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        (
            {"num_generations": 1},
            "GRPOConfig: num_generations must be >= 2 for group-relative advantages, got 1",
        ),
        ({"num_iterations": 0}, "GRPOConfig: num_iterations must be >= 1, got 0"),
        ({"max_completion_length": 0}, "GRPOConfig: max_completion_length must be >= 1, got 0"),
        ({"temperature": 0.0}, r"GRPOConfig: temperature must be > 0 \(GRPO samples\), got 0.0"),
        ({"top_p": 0.0}, r"GRPOConfig: top_p must be in \(0, 1\], got 0.0"),
        ({"top_k": -1}, r"GRPOConfig: top_k must be >= 0 \(0 = off\), got -1"),
        (
            {"loss_type": "ppo"},
            r"GRPOConfig: loss_type must be one of \('grpo', 'bnpo', 'dr_grpo', 'dapo'\), got 'ppo'",
        ),
        ({"beta": -0.1}, "GRPOConfig: beta must be >= 0, got -0.1"),
        ({"epsilon": -0.2}, "GRPOConfig: epsilon must be >= 0, got -0.2"),
        ({"epsilon_high": -1.0}, "GRPOConfig: epsilon_high must be >= 0 or None, got -1.0"),
        (
            {"scale_rewards": "std"},
            r"GRPOConfig: scale_rewards must be one of \('group', 'batch', 'none'\), got 'std'",
        ),
        (
            {"multi_objective_aggregation": "mean"},
            r"multi_objective_aggregation must be one of \('sum_then_normalize', 'normalize_then_sum'\), got 'mean'",
        ),
        ({"micro_batch_size": 0}, "GRPOConfig: micro_batch_size must be >= 1 or None, got 0"),
        ({"logprob_chunk_size": 0}, "GRPOConfig: logprob_chunk_size must be >= 1, got 0"),
        ({"max_grad_norm": 0.0}, "GRPOConfig: max_grad_norm must be > 0 or None, got 0.0"),
    ],
)
def test_bad_values_are_refused_with_the_option_named(overrides: dict[str, Any], message: str) -> None:
    with pytest.raises(ValueError, match=f"^{message}$" if message.startswith("GRPOConfig") else message):
        GRPOConfig(**overrides)


def test_defaults_are_trls_and_derive_the_sampler() -> None:
    config = GRPOConfig()
    assert (config.num_generations, config.max_completion_length, config.beta, config.epsilon) == (
        4,
        512,
        0.04,
        0.2,
    )
    assert (config.loss_type, config.scale_rewards, config.num_iterations) == ("grpo", "group", 1)
    assert config.uses_reference
    assert not GRPOConfig(beta=0.0).uses_reference
    assert GRPOConfig(
        temperature=0.6, top_p=0.9, top_k=5, max_completion_length=96
    ).sampling == SamplingConfig(0.6, 0.9, 5, 96, True)


def test_module_keeps_its_options_in_one_config(make_module: Callable[..., GRPOModule]) -> None:
    module = make_module(num_iterations=2, micro_batch_size=1, scale_rewards="none", seed=7)
    assert module.config == GRPOConfig(
        num_generations=2,
        max_completion_length=6,
        num_iterations=2,
        micro_batch_size=1,
        scale_rewards="none",
        seed=7,
    )
    assert module.sampling == module.config.sampling
    assert module.eval_sampling == SamplingConfig(0.3, 0.9, 0, 6, True)
    with pytest.raises(ValueError, match="GRPOConfig: num_generations must be >= 2"):
        make_module(num_generations=1)
