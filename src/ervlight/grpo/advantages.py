"""Group-relative advantages, reward aggregation and zero-variance group detection (pure functions).

Symbols: ``B`` prompts, ``G`` group size, ``N = B * G`` completions (group members adjacent), ``R`` rewards.
The reference advantage is ``A_i = (R_i - mean_group R) / (std_group R + 1e-4)`` with the unbiased std; a
group whose rewards are all equal gets ``A = 0`` exactly (never NaN).
"""

from __future__ import annotations

from typing import Literal

import torch

__all__ = [
    "Aggregation",
    "ScaleRewards",
    "aggregate_advantages",
    "group_advantages",
    "group_std",
    "zero_std_groups",
]

ScaleRewards = Literal["group", "batch", "none"]
Aggregation = Literal["sum_then_normalize", "normalize_then_sum"]


def _grouped(values: torch.Tensor, group_size: int) -> torch.Tensor:
    """``[N]`` -> ``[B, G]``, with a clear error when ``N`` is not a multiple of ``G`` or ``G < 2``."""
    if group_size < 2:
        raise ValueError(f"GRPO needs at least 2 completions per prompt (num_generations), got {group_size}")
    if values.ndim != 1 or values.numel() % group_size:
        raise ValueError(f"expected [B*G] rewards with G={group_size}, got shape {tuple(values.shape)}")
    return values.view(-1, group_size)  # [B, G]


def group_std(values: torch.Tensor, group_size: int) -> torch.Tensor:
    """``[B]`` unbiased standard deviation of each group."""
    return _grouped(values, group_size).std(dim=1)  # [B]


def zero_std_groups(values: torch.Tensor, group_size: int) -> torch.Tensor:
    """``[B]`` bool: groups whose members all score the same (no learning signal from that reward)."""
    grouped = _grouped(values, group_size)  # [B, G]
    return (grouped == grouped[:, :1]).all(dim=1)  # [B]


def group_advantages(
    rewards: torch.Tensor,
    group_size: int,
    scale_rewards: ScaleRewards = "group",
    eps: float = 1e-4,
    batch_rewards: torch.Tensor | None = None,
) -> torch.Tensor:
    """``[N]`` advantages: reward minus its group mean, divided by a std chosen by ``scale_rewards``.

    Args:
        rewards: ``[N]`` total reward per completion, group members adjacent.
        group_size: ``G``.
        scale_rewards: ``"group"`` (std of the group, the reference), ``"batch"`` (std of the whole batch) or
            ``"none"`` (no division, Dr. GRPO).
        eps: added to the std (the reference uses ``1e-4``).
        batch_rewards: the rewards of the whole global batch (all ranks) for ``"batch"``; default
            ``rewards``.
    """
    grouped = _grouped(rewards, group_size)  # [B, G]
    centred = grouped - grouped.mean(dim=1, keepdim=True)  # [B, G]
    # Equal members give an exact zero (the mean of equal floats can differ from them by rounding).
    centred = torch.where(zero_std_groups(rewards, group_size)[:, None], torch.zeros_like(centred), centred)
    if scale_rewards == "group":
        centred = centred / (grouped.std(dim=1, keepdim=True) + eps)  # [B, G]
    elif scale_rewards == "batch":
        pool = rewards if batch_rewards is None else batch_rewards
        std = pool.std() if pool.numel() > 1 else pool.new_zeros(())
        centred = centred / (std + eps)
    elif scale_rewards != "none":
        raise ValueError(f"scale_rewards must be 'group', 'batch' or 'none', got {scale_rewards!r}")
    return centred.reshape(-1)  # [N]


def aggregate_advantages(
    rewards: torch.Tensor,
    weights: torch.Tensor,
    group_size: int,
    aggregation: Aggregation = "sum_then_normalize",
    scale_rewards: ScaleRewards = "group",
    eps: float = 1e-4,
    batch_rewards: torch.Tensor | None = None,
) -> tuple[torch.Tensor, torch.Tensor]:
    """Combine ``[N, R]`` per-function rewards into ``([N] total reward, [N] advantages)``.

    ``"sum_then_normalize"`` (the reference): weighted sum, then :func:`group_advantages`.
    ``"normalize_then_sum"``: each reward column gets its own group advantage, then the weighted sum of those
    is the advantage (a reward that never varies in a group then adds nothing for that group).
    ``batch_rewards`` is the ``[N_global, R]`` reward matrix of all ranks, for ``scale_rewards="batch"``.
    """
    if rewards.ndim != 2 or rewards.shape[1] != weights.numel():
        raise ValueError(f"expected [N, {weights.numel()}] rewards, got shape {tuple(rewards.shape)}")
    weights = weights.to(rewards)
    total = rewards @ weights  # [N]
    if aggregation == "sum_then_normalize":
        pool = None if batch_rewards is None else batch_rewards.to(rewards) @ weights
        return total, group_advantages(total, group_size, scale_rewards, eps, pool)
    if aggregation == "normalize_then_sum":
        columns = [
            group_advantages(
                rewards[:, r],
                group_size,
                scale_rewards,
                eps,
                None if batch_rewards is None else batch_rewards[:, r].to(rewards),
            )
            for r in range(rewards.shape[1])
        ]
        return total, torch.stack(columns, dim=1) @ weights  # [N]
    raise ValueError(f"aggregation must be 'sum_then_normalize' or 'normalize_then_sum', got {aggregation!r}")
