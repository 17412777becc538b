"""TRL-named statistics and the completion table."""

from __future__ import annotations

import pytest
import torch

from ervlight.grpo.loss import GRPOLoss
from ervlight.grpo.stats import (
    completion_stats,
    completion_table,
    loss_stats,
    markdown_table,
    merge_loss_stats,
    reward_stats,
    rollout_tokens,
)
from ervlight.grpo.types import LossStats


def test_reward_stats_names_and_values() -> None:
    rewards = torch.tensor([[1.0, 1.0], [1.0, 0.0], [0.0, 0.0], [0.0, 0.0]])  # [N=4, R=2], G=2
    total = rewards.sum(1)  # [2, 1, 0, 0]
    stats = reward_stats(rewards, total, ["format", "accuracy"], 2)
    assert stats["reward"] == pytest.approx(0.75)
    assert stats["reward_std"] == pytest.approx((2.75 / 3) ** 0.5)  # unbiased std of all four totals, as TRL
    assert stats["frac_reward_zero_std"] == 0.5
    assert stats["rewards/format/mean"] == 0.5
    assert stats["rewards/accuracy/mean"] == 0.25
    assert stats["rewards/accuracy/std"] == pytest.approx(0.5)


def test_completion_stats() -> None:
    mask = torch.tensor([[1, 1, 1, 0], [1, 1, 1, 1], [1, 0, 0, 0]], dtype=torch.bool)
    truncated = torch.tensor([False, True, False])
    stats = completion_stats(mask.sum(-1), truncated)
    assert stats == {
        "completions/mean_length": pytest.approx(8 / 3),
        "completions/min_length": 1.0,
        "completions/max_length": 4.0,
        "completions/clipped_ratio": pytest.approx(1 / 3),
        "completions/mean_terminated_length": 2.0,
        "completions/min_terminated_length": 1.0,
        "completions/max_terminated_length": 3.0,
    }


def test_loss_stats_token_averages() -> None:
    summed = LossStats(*torch.tensor([10.0, 0.5, 20.0, 1.0, 2.0, 0.25, 0.5]).unbind())
    stats = loss_stats(summed, beta=0.04)
    assert stats == {
        "entropy": 2.0,
        "clip_ratio/low_mean": pytest.approx(0.1),
        "clip_ratio/low_min": 0.25,
        "clip_ratio/high_mean": pytest.approx(0.2),
        "clip_ratio/high_max": 0.5,
        "clip_ratio/region_mean": pytest.approx(0.3),
        "kl": pytest.approx(0.05),
    }
    assert "kl" not in loss_stats(summed, beta=0.0)
    nothing = LossStats(*torch.tensor([0.0, 0.0, 0.0, 0.0, 0.0, float("inf"), float("-inf")]).unbind())
    assert loss_stats(nothing, beta=0.0) == dict.fromkeys(
        ["entropy", "clip_ratio/low_mean", "clip_ratio/low_min", "clip_ratio/high_mean", "clip_ratio/high_max",
         "clip_ratio/region_mean"], 0.0,
    )  # fmt: skip


def test_merge_loss_stats_adds_sums_and_keeps_extremes() -> None:
    first = LossStats(*torch.tensor([4.0, 1.0, 2.0, 1.0, 0.0, 0.5, 0.0]).unbind())
    second = LossStats(*torch.tensor([6.0, 0.5, 3.0, 0.0, 2.0, float("inf"), 0.75]).unbind())
    merged = merge_loss_stats(first, second)
    assert torch.stack(list(merged)).tolist() == [10.0, 1.5, 5.0, 1.0, 2.0, 0.5, 0.75]


def test_clip_extremes_are_per_sequence_fractions() -> None:
    # 3 sequences, epsilon 0.2: ratios exp(logp - old); sequence 2 keeps no token (weight 0)
    old = torch.zeros(3, 4)
    logprobs = torch.log(torch.tensor([[0.5, 1.0, 0.7, 1.0], [1.5, 1.0, 1.3, 1.0], [0.1, 0.1, 0.1, 0.1]]))
    mask = torch.tensor([[1, 1, 1, 0], [1, 1, 1, 1], [1, 1, 1, 1]], dtype=torch.bool)
    advantages = torch.tensor([-1.0, 1.0, -1.0])
    weights = torch.tensor([1.0, 1.0, 0.0])
    _, stats = GRPOLoss("grpo", 0.2, None, 0.0)(logprobs, mask, advantages, 2.0, weights, old)
    # sequence 0: ratios 0.5, 1.0, 0.7 with A < 0 -> 2 of 3 clipped below; sequence 1: 1.5, 1.3 of 4 above
    assert stats.tokens.item() == 7.0
    assert stats.clipped_low.item() == 2.0
    assert stats.clipped_high.item() == 2.0
    assert stats.low_min.item() == pytest.approx(0.0)  # sequence 1 has no low clip
    assert stats.high_max.item() == pytest.approx(0.5)  # sequence 1: 2 of 4
    only_first = GRPOLoss("grpo", 0.2, None, 0.0)(
        logprobs, mask, advantages, 2.0, torch.tensor([1.0, 0, 0]), old
    )
    assert only_first[1].low_min.item() == pytest.approx(2 / 3)
    assert only_first[1].high_max.item() == 0.0
    none_kept = GRPOLoss("grpo", 0.2, None, 0.0)(logprobs, mask, advantages, 2.0, torch.zeros(3), old)[1]
    assert (none_kept.low_min.item(), none_kept.high_max.item()) == (float("inf"), float("-inf"))


def test_rollout_tokens_counts_each_completion_with_its_prompt() -> None:
    prompt_mask = torch.tensor([[0, 1, 1], [1, 1, 1]])  # [B=2, P=3], left-padded: 2 and 3 prompt positions
    lengths = torch.tensor([4, 1, 2, 3])  # [N=4], G=2
    assert rollout_tokens(prompt_mask, lengths, 2).item() == (2 + 3) * 2 + 10


def test_completion_table_and_markdown() -> None:
    rows = completion_table(
        ["p0", "p0"], ["happy", "happy"], ["<answer>happy</answer>", "a|b\nc"],
        torch.tensor([[1.0, 0.5], [0.0, 0.25]]), ["format", "explanation"], torch.tensor([0.7071, -0.7071]), 1,
    )  # fmt: skip
    assert rows == [
        {"prompt": "p0", "label": "happy", "completion": "<answer>happy</answer>", "format": 1.0,
         "explanation": 0.5, "advantage": 0.7071}
    ]  # fmt: skip
    table = markdown_table(
        completion_table(
            ["p"], ["sad"], ["a|b\nc"], torch.tensor([[0.0]]), ["format"], torch.tensor([0.0]), 8
        )
    )
    assert table.splitlines() == [
        "| prompt | label | completion | format | advantage |",
        "|---|---|---|---|---|",
        "| p | sad | a\\|b c | 0.0 | 0.0 |",
    ]
    assert markdown_table([]) == ""
