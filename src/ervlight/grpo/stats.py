"""GRPO step statistics under TRL's metric names, and the sample-completion table.

Names: ``reward``, ``reward_std``, ``frac_reward_zero_std``, ``rewards/<name>/mean|std``,
``completions/mean_length|min_length|max_length|clipped_ratio|mean_terminated_length|min_terminated_length|
max_terminated_length``, ``kl``, ``entropy``, ``clip_ratio/low_mean|low_min|high_mean|high_max|region_mean``,
``num_tokens`` (counted by :func:`rollout_tokens`, accumulated by the task).
Symbols: ``N`` completions (all ranks), ``B`` prompts, ``P`` prompt positions, ``G`` group size, ``R`` rewards,
``L`` completion tokens.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch

from ervlight.grpo.advantages import zero_std_groups
from ervlight.grpo.types import LossStats

__all__ = [
    "completion_stats",
    "completion_table",
    "loss_stats",
    "markdown_table",
    "merge_loss_stats",
    "reward_stats",
    "rollout_tokens",
]


def reward_stats(
    rewards: torch.Tensor, total: torch.Tensor, names: Sequence[str], group_size: int
) -> dict[str, float]:
    """Reward metrics from ``[N, R]`` per-function rewards and the ``[N]`` weighted total.

    ``reward_std`` is the (unbiased) std of the total over all ``N`` completions, as TRL logs it;
    ``frac_reward_zero_std`` the fraction of groups whose total does not vary (no learning signal).
    """
    stats = {"reward": total.mean().item()}
    stats["reward_std"] = total.std().item() if total.numel() > 1 else 0.0
    stats["frac_reward_zero_std"] = zero_std_groups(total, group_size).float().mean().item()
    for r, name in enumerate(names):
        column = rewards[:, r]  # [N]
        stats[f"rewards/{name}/mean"] = column.mean().item()
        stats[f"rewards/{name}/std"] = column.std().item() if column.numel() > 1 else 0.0
    return stats


def completion_stats(lengths: torch.Tensor, truncated: torch.Tensor) -> dict[str, float]:
    """Length metrics from ``[N]`` completion lengths (before truncation masking) and ``[N]`` truncation flags."""
    lengths = lengths.float()  # [N]
    stats = {
        "completions/mean_length": lengths.mean().item(),
        "completions/min_length": lengths.min().item(),
        "completions/max_length": lengths.max().item(),
        "completions/clipped_ratio": truncated.float().mean().item(),
    }
    terminated = lengths[~truncated]  # [n_terminated]
    if terminated.numel() == 0:
        terminated = torch.zeros(1)
    stats["completions/mean_terminated_length"] = terminated.mean().item()
    stats["completions/min_terminated_length"] = terminated.min().item()
    stats["completions/max_terminated_length"] = terminated.max().item()
    return stats


def rollout_tokens(
    prompt_mask: torch.Tensor, completion_lengths: torch.Tensor, group_size: int
) -> torch.Tensor:
    """``[]`` tokens a rollout processed: each of the ``G`` completions of a prompt with its ``[B, P]`` prompt
    positions (media included), plus the ``[N]`` completion lengths (TRL's ``num_tokens`` increment)."""
    prompt = prompt_mask.sum() * group_size  # []
    return prompt.to(completion_lengths.dtype) + completion_lengths.sum()


def merge_loss_stats(first: LossStats, second: LossStats) -> LossStats:
    """Two passes' statistics as one: sums added, ``low_min`` the lower and ``high_max`` the higher."""
    return LossStats(
        tokens=first.tokens + second.tokens,
        kl_sum=first.kl_sum + second.kl_sum,
        neg_logp_sum=first.neg_logp_sum + second.neg_logp_sum,
        clipped_low=first.clipped_low + second.clipped_low,
        clipped_high=first.clipped_high + second.clipped_high,
        low_min=torch.minimum(first.low_min, second.low_min),
        high_max=torch.maximum(first.high_max, second.high_max),
    )


def _finite(value: torch.Tensor) -> float:
    """``value`` as a float, ``0.0`` where no sequence contributed (an infinite extreme)."""
    return value.item() if torch.isfinite(value) else 0.0


def loss_stats(stats: LossStats, beta: float) -> dict[str, float]:
    """Token-averaged ``kl``, ``entropy`` and clip ratios from a whole step's :class:`LossStats` (all ranks).

    ``clip_ratio/low_min`` and ``clip_ratio/high_max`` are the lowest and highest per-sequence clip fractions
    (0 when no sequence kept a token). ``entropy`` here is the mean ``-log p`` of the sampled tokens (an unbiased
    estimate of the token entropy); :func:`ervlight.grpo.step.optimise_rollout` replaces it by the exact mean
    entropy, as TRL logs it, when the policy gives per-token entropies (:meth:`Policy.score_completions`).
    """
    tokens = stats.tokens.clamp(min=1)
    logs = {
        "entropy": (stats.neg_logp_sum / tokens).item(),
        "clip_ratio/low_mean": (stats.clipped_low / tokens).item(),
        "clip_ratio/low_min": _finite(stats.low_min),
        "clip_ratio/high_mean": (stats.clipped_high / tokens).item(),
        "clip_ratio/high_max": _finite(stats.high_max),
        "clip_ratio/region_mean": ((stats.clipped_low + stats.clipped_high) / tokens).item(),
    }
    if beta != 0.0:
        logs["kl"] = (stats.kl_sum / tokens).item()
    return logs


def completion_table(
    prompts: Sequence[str],
    labels: Sequence[str],
    completions: Sequence[str],
    rewards: torch.Tensor,
    names: Sequence[str],
    advantages: torch.Tensor,
    limit: int,
) -> list[dict[str, str | float]]:
    """Rows ``prompt, label, completion, <reward name>…, advantage`` for the first ``limit`` completions."""
    rows: list[dict[str, str | float]] = []
    for i in range(min(limit, len(completions))):
        row: dict[str, str | float] = {"prompt": prompts[i], "label": labels[i], "completion": completions[i]}
        row.update({name: round(float(rewards[i, r]), 4) for r, name in enumerate(names)})
        row["advantage"] = round(float(advantages[i]), 4)
        rows.append(row)
    return rows


def _cell(value: str | float, width: int = 300) -> str:
    """A markdown table cell: pipes escaped, new lines as spaces, long text cut."""
    text = str(value).replace("|", "\\|").replace("\n", " ")
    return text if len(text) <= width else text[: width - 1] + "…"


def markdown_table(rows: Sequence[dict[str, str | float]]) -> str:
    """Render :func:`completion_table` rows as a markdown table (TensorBoard's text plugin shows it)."""
    if not rows:
        return ""
    header = list(rows[0])
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(_cell(row[key]) for key in header) + " |" for row in rows]
    return "\n".join(lines)
