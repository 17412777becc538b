"""Typed pieces of a GRPO step: prompts in, a scored rollout out, loss statistics.

Symbols: ``B`` prompts, ``G`` completions per prompt (group members adjacent, row ``b * G + g``), ``L``
completion tokens, ``R`` reward functions.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import NamedTuple

import torch

__all__ = ["LossStats", "PromptBatch", "Rollout"]


@dataclass
class PromptBatch:
    """Text prompts with their gold labels, for a text-only policy (multimodal training uses ``MediaBatch``).

    Attributes:
        prompts: the ``B`` prompt texts.
        label_names: canonical gold label of each prompt.
        datasets: label-space name of each prompt (``"mafw"``, ``"dfew"``…).
    """

    prompts: list[str]
    label_names: list[str]
    datasets: list[str]
    clip_ids: list[str] = field(default_factory=list)

    def __post_init__(self) -> None:
        if not len(self.prompts) == len(self.label_names) == len(self.datasets):
            raise ValueError(
                f"prompt batch disagrees in length: {len(self.prompts)} prompts, "
                f"{len(self.label_names)} labels, {len(self.datasets)} datasets"
            )

    def __len__(self) -> int:
        return len(self.prompts)


class Rollout(NamedTuple):
    """Everything one optimisation pass needs about ``B * G`` sampled completions (all detached).

    ``old_logprobs`` is ``None`` when a single update is made per rollout (the ratio is then exactly 1);
    ``ref_logprobs`` is ``None`` when ``beta == 0``. ``group_size`` is ``G``: rows ``b * G .. b * G + G - 1``
    are the completions of prompt ``b``.
    """

    completion_ids: torch.Tensor  # [B*G, L] long
    completion_mask: torch.Tensor  # [B*G, L] bool, up to and including the first EOS (all False if masked)
    truncated: torch.Tensor  # [B*G] bool, no EOS within max_new_tokens
    advantages: torch.Tensor  # [B*G] float
    sequence_weights: torch.Tensor  # [B*G] float, 0 for sequences left out (filtered groups), else 1
    old_logprobs: torch.Tensor | None  # [B*G, L] or None
    ref_logprobs: torch.Tensor | None  # [B*G, L] or None
    rewards: torch.Tensor  # [B*G, R] per-function rewards, unweighted
    total_rewards: torch.Tensor  # [B*G] weighted sum of the rewards
    completion_lengths: torch.Tensor  # [B*G] long, tokens up to and including EOS before truncation masking
    group_size: int  # G

    @property
    def num_prompts(self) -> int:
        """``B``, prompts of the rollout."""
        return int(self.completion_ids.shape[0]) // self.group_size


class LossStats(NamedTuple):
    """Detached statistics of a loss pass: sums (added up over micro-batches) and per-sequence clip extremes.

    The first five fields are sums; ``low_min`` and ``high_max`` combine by ``min`` and ``max`` instead
    (``+inf`` and ``-inf`` when no sequence of the pass kept a token).
    """

    tokens: torch.Tensor  # [] number of completion tokens that entered the loss
    kl_sum: torch.Tensor  # [] sum of per-token k3 KL over those tokens (0 when beta == 0)
    neg_logp_sum: torch.Tensor  # [] sum of -log p over those tokens (entropy estimate on sampled tokens)
    clipped_low: torch.Tensor  # [] tokens whose ratio was clipped below (ratio < 1 - eps, A < 0)
    clipped_high: torch.Tensor  # [] tokens whose ratio was clipped above (ratio > 1 + eps_high, A > 0)
    low_min: torch.Tensor  # [] lowest per-sequence fraction of tokens clipped below
    high_max: torch.Tensor  # [] highest per-sequence fraction of tokens clipped above
