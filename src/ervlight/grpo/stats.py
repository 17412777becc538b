"""GRPO step statistics under TRL's metric names, and the sample-completion table.

Names: ``reward``, ``reward_std``, ``frac_reward_zero_std``, ``rewards/<name>/mean|std``,
``completions/mean_length|min_length|max_length|clipped_ratio|mean_terminated_length|min_terminated_length|
max_terminated_length``, ``kl``, ``entropy``, ``clip_ratio/low_mean|high_mean|region_mean``.
Symbols: ``N`` completions (all ranks), ``G`` group size, ``R`` rewards, ``L`` completion tokens.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch

from ervlight.grpo.advantages import ScaleRewards, group_std, zero_std_groups
from ervlight.grpo.types import LossStats

__all__ = ["completion_stats", "completion_table", "loss_stats", "markdown_table", "reward_stats"]


def reward_stats(
    rewards: torch.Tensor, total: torch.Tensor, names: Sequence[str], group_size: int, scale: ScaleRewards
) -> dict[str, float]:
    """Reward metrics from ``[N, R]`` per-function rewards and the ``[N]`` weighted total."""
    stats = {"reward": total.mean().item()}
    stds = group_std(total, group_size)  # [N/G]
    stats["reward_std"] = (total.std() if scale == "batch" else stds.mean()).item()
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


def loss_stats(summed: LossStats, beta: float) -> dict[str, float]:
    """Token-averaged ``kl``, ``entropy`` and clip ratios from summed :class:`LossStats` (all ranks).

    ``entropy`` here is the mean ``-log p`` of the sampled tokens (an unbiased estimate of the token entropy);
    :func:`ervlight.grpo.step.optimise_rollout` replaces it by the exact mean entropy, as TRL logs it, when
    the policy gives per-token entropies from its log-prob pass (:meth:`Policy.completion_scores`).
    """
    tokens = summed.tokens.clamp(min=1)
    stats = {
        "entropy": (summed.neg_logp_sum / tokens).item(),
        "clip_ratio/low_mean": (summed.clipped_low / tokens).item(),
        "clip_ratio/high_mean": (summed.clipped_high / tokens).item(),
        "clip_ratio/region_mean": ((summed.clipped_low + summed.clipped_high) / tokens).item(),
        "num_tokens": summed.tokens.item(),
    }
    if beta != 0.0:
        stats["kl"] = (summed.kl_sum / tokens).item()
    return stats


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
