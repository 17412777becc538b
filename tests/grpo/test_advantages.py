"""Advantages, aggregation and zero-variance detection against hand computations."""

from __future__ import annotations

import math

import pytest
import torch

from ervlight.grpo.advantages import aggregate_advantages, group_advantages, group_std, zero_std_groups


def test_group_advantage_matches_the_reference_formula() -> None:
    rewards = torch.tensor([1.0, 0.0, 0.0, 1.0, 2.0, 2.0, 2.0, 2.0])
    std = math.sqrt(1 / 3)  # unbiased std of [1, 0, 0, 1]
    expected = torch.tensor([0.5, -0.5, -0.5, 0.5, 0, 0, 0, 0]) / torch.tensor([std + 1e-4] * 4 + [1e-4] * 4)
    advantages = group_advantages(rewards, group_size=4)
    torch.testing.assert_close(advantages, expected)
    assert advantages[4:].eq(0).all()


def test_all_equal_groups_give_exact_zero_never_nan() -> None:
    rewards = torch.tensor([0.1, 0.1, 0.1, 3.0, 3.0, 3.0])
    for scale in ("group", "batch", "none"):
        advantages = group_advantages(rewards, 3, scale)
        assert torch.equal(advantages, torch.zeros(6)), scale


def test_scale_batch_and_none() -> None:
    rewards = torch.tensor([1.0, 3.0, 0.0, 0.0])
    centred = torch.tensor([-1.0, 1.0, 0.0, 0.0])
    torch.testing.assert_close(group_advantages(rewards, 2, "none"), centred)
    batch_std = rewards.std()
    torch.testing.assert_close(group_advantages(rewards, 2, "batch"), centred / (batch_std + 1e-4))
    pool = torch.tensor([1.0, 3.0, 0.0, 0.0, 10.0, 20.0])  # rewards of every rank
    torch.testing.assert_close(
        group_advantages(rewards, 2, "batch", batch_rewards=pool), centred / (pool.std() + 1e-4)
    )


def test_group_std_and_zero_std_groups() -> None:
    rewards = torch.tensor([1.0, 1.0, 0.0, 2.0])
    torch.testing.assert_close(group_std(rewards, 2), torch.tensor([0.0, math.sqrt(2.0)]))
    assert zero_std_groups(rewards, 2).tolist() == [True, False]


def test_bad_shapes_and_options_are_refused() -> None:
    with pytest.raises(ValueError, match="at least 2 completions"):
        group_advantages(torch.zeros(4), 1)
    with pytest.raises(ValueError, match=r"expected \[B\*G\] rewards with G=3"):
        group_advantages(torch.zeros(4), 3)
    with pytest.raises(ValueError, match="scale_rewards must be"):
        group_advantages(torch.zeros(4), 2, "rank")  # type: ignore[arg-type]


def test_sum_then_normalize_weighs_then_normalises() -> None:
    rewards = torch.tensor([[1.0, 0.0], [0.0, 1.0], [1.0, 1.0], [0.0, 0.0]])  # [N=4, R=2]
    weights = torch.tensor([1.0, 2.0])
    total, advantages = aggregate_advantages(rewards, weights, 2, "sum_then_normalize")
    torch.testing.assert_close(total, torch.tensor([1.0, 2.0, 3.0, 0.0]))
    torch.testing.assert_close(advantages, group_advantages(torch.tensor([1.0, 2.0, 3.0, 0.0]), 2))


def test_normalize_then_sum_normalises_each_reward_first() -> None:
    rewards = torch.tensor([[1.0, 0.0], [0.0, 0.0], [1.0, 5.0], [1.0, 1.0]])
    weights = torch.tensor([1.0, 0.5])
    total, advantages = aggregate_advantages(rewards, weights, 2, "normalize_then_sum")
    a0 = 0.5 / (math.sqrt(0.5) + 1e-4)  # reward 0 in group 0: [1, 0]
    a1 = 2.0 / (math.sqrt(8.0) + 1e-4)  # reward 1 in group 1: [5, 1]
    torch.testing.assert_close(advantages, torch.tensor([a0, -a0, 0.5 * a1, -0.5 * a1]))
    torch.testing.assert_close(total, torch.tensor([1.0, 0.0, 3.5, 1.5]))


def test_aggregation_refuses_mismatched_weights() -> None:
    with pytest.raises(ValueError, match=r"expected \[N, 3\] rewards"):
        aggregate_advantages(torch.zeros(4, 2), torch.ones(3), 2)
    with pytest.raises(ValueError, match="aggregation must be"):
        aggregate_advantages(torch.zeros(4, 2), torch.ones(2), 2, "mean")  # type: ignore[arg-type]
