"""TRL-named statistics and the completion table."""

from __future__ import annotations

import pytest
import torch

from ervlight.grpo.stats import completion_stats, completion_table, loss_stats, markdown_table, reward_stats
from ervlight.grpo.types import LossStats


def test_reward_stats_names_and_values() -> None:
    rewards = torch.tensor([[1.0, 1.0], [1.0, 0.0], [0.0, 0.0], [0.0, 0.0]])  # [N=4, R=2], G=2
    total = rewards.sum(1)  # [2, 1, 0, 0]
    stats = reward_stats(rewards, total, ["format", "accuracy"], 2, "group")
    assert stats["reward"] == pytest.approx(0.75)
    assert stats["reward_std"] == pytest.approx((2**0.5 / 2 + 0.0) / 2)  # mean of group stds
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
    summed = LossStats(*torch.tensor([10.0, 0.5, 20.0, 1.0, 2.0]).unbind())
    stats = loss_stats(summed, beta=0.04)
    assert stats == {
        "entropy": 2.0,
        "clip_ratio/low_mean": pytest.approx(0.1),
        "clip_ratio/high_mean": pytest.approx(0.2),
        "clip_ratio/region_mean": pytest.approx(0.3),
        "num_tokens": 10.0,
        "kl": pytest.approx(0.05),
    }
    assert "kl" not in loss_stats(summed, beta=0.0)


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
