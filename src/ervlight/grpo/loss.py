"""The GRPO policy loss for ``loss_type`` grpo | bnpo | dr_grpo | dapo, exact under gradient accumulation.

A GRPO step scores ``N = B * G`` completions and may split them into micro-batches for the backward
passes. Every loss type is written as ``sum of per-sequence or per-token terms / normaliser``, where the
normaliser is fixed for the whole step (see :func:`normaliser_count`), so the gradients of the micro-batches
add up to exactly the gradient of the whole step, whatever the split. Across ranks the module divides the
global count by the world size, which makes DDP's gradient averaging give the global loss.

Symbols: ``n`` sequences of a micro-batch, ``L`` completion tokens.
"""

from __future__ import annotations

from typing import Literal

import torch
from torch import nn

from ervlight.grpo.types import LossStats

__all__ = ["GRPOLoss", "LossType", "k3_kl", "normaliser_count"]

LossType = Literal["grpo", "bnpo", "dr_grpo", "dapo"]
_LOSS_TYPES = ("grpo", "bnpo", "dr_grpo", "dapo")


def k3_kl(logprobs: torch.Tensor, ref_logprobs: torch.Tensor) -> torch.Tensor:
    """Per-token k3 estimator ``exp(ref - logp) - (ref - logp) - 1`` (>= 0), same shape as the inputs."""
    delta = ref_logprobs - logprobs
    return torch.exp(delta) - delta - 1


def normaliser_count(
    loss_type: LossType, mask: torch.Tensor, weights: torch.Tensor, max_completion_length: int
) -> torch.Tensor:
    """The quantity a step's loss is divided by, counted on ``[n, L]`` masks and ``[n]`` sequence weights.

    grpo: kept sequences (loss = mean over sequences of the per-sequence token mean); bnpo and dapo: kept
    completion tokens; dr_grpo: kept sequences times ``max_completion_length``. Sum it over the micro-batches
    of a step (and over ranks for a global normaliser) before passing it to :class:`GRPOLoss`.
    """
    if loss_type in ("grpo", "dr_grpo"):
        count = weights.sum()
        return count * max_completion_length if loss_type == "dr_grpo" else count
    if loss_type in ("bnpo", "dapo"):
        return (mask.to(weights.dtype) * weights[:, None]).sum()
    raise ValueError(f"loss_type must be one of {_LOSS_TYPES}, got {loss_type!r}")


class GRPOLoss(nn.Module):
    """Clipped surrogate with an optional k3 KL penalty; returns ``(loss, LossStats)``.

    Args:
        loss_type: ``"grpo"`` (per-sequence token mean, then mean over sequences: the reference), ``"bnpo"``
            (token mean over the rank's step), ``"dr_grpo"`` (token sum over sequences x max length),
            ``"dapo"`` (token mean over the global step).
        epsilon: lower clipping range, ratio >= ``1 - epsilon``.
        epsilon_high: upper clipping range (``None``: same as ``epsilon``), ratio <= ``1 + epsilon_high``.
        beta: KL coefficient; 0 drops the KL term (and the reference model).
    """

    def __init__(
        self,
        loss_type: LossType = "grpo",
        epsilon: float = 0.2,
        epsilon_high: float | None = None,
        beta: float = 0.04,
    ) -> None:
        super().__init__()
        if loss_type not in _LOSS_TYPES:
            raise ValueError(f"loss_type must be one of {_LOSS_TYPES}, got {loss_type!r}")
        self.loss_type = loss_type
        self.epsilon_low = epsilon
        self.epsilon_high = epsilon if epsilon_high is None else epsilon_high
        self.beta = beta

    def forward(
        self,
        logprobs: torch.Tensor,
        mask: torch.Tensor,
        advantages: torch.Tensor,
        normaliser: torch.Tensor | float,
        weights: torch.Tensor | None = None,
        old_logprobs: torch.Tensor | None = None,
        ref_logprobs: torch.Tensor | None = None,
    ) -> tuple[torch.Tensor, LossStats]:
        """Loss of one micro-batch, divided by the step's ``normaliser`` (see :func:`normaliser_count`).

        Args:
            logprobs: ``[n, L]`` current log-probs of the completion tokens (with grad).
            mask: ``[n, L]`` bool completion mask.
            advantages: ``[n]``.
            normaliser: the step's normaliser (a positive count).
            weights: ``[n]`` sequence weights (0 leaves a sequence out), default all 1.
            old_logprobs: ``[n, L]`` log-probs at sampling time; ``None``: ``logprobs.detach()`` (ratio 1).
            ref_logprobs: ``[n, L]`` reference log-probs; required when ``beta > 0``.
        """
        weights = torch.ones_like(advantages) if weights is None else weights.to(advantages)
        maskf = mask.to(logprobs.dtype)  # [n, L]
        old = logprobs.detach() if old_logprobs is None else old_logprobs
        ratio = torch.exp(logprobs - old)  # [n, L]
        clipped = torch.clamp(ratio, 1 - self.epsilon_low, 1 + self.epsilon_high)  # [n, L]
        adv = advantages[:, None]  # [n, 1]
        per_token = -torch.min(ratio * adv, clipped * adv)  # [n, L]
        kl = torch.zeros_like(per_token)
        if self.beta != 0.0:
            if ref_logprobs is None:
                raise ValueError("GRPOLoss: beta > 0 needs reference log-probs")
            kl = k3_kl(logprobs, ref_logprobs)  # [n, L]
            per_token = per_token + self.beta * kl
        if self.loss_type == "grpo":
            per_sequence = (per_token * maskf).sum(-1) / maskf.sum(-1).clamp(min=1)  # [n]
            total = (per_sequence * weights).sum()
        else:
            total = (per_token * maskf * weights[:, None]).sum()
        loss = total / torch.as_tensor(normaliser, dtype=total.dtype, device=total.device).clamp(min=1e-12)
        return loss, self._stats(logprobs, maskf * weights[:, None], kl, ratio, adv)

    def _stats(
        self,
        logprobs: torch.Tensor,
        kept: torch.Tensor,
        kl: torch.Tensor,
        ratio: torch.Tensor,
        adv: torch.Tensor,
    ) -> LossStats:
        """Detached token sums for logging."""
        with torch.no_grad():
            low = ((ratio < 1 - self.epsilon_low) & (adv < 0)).to(kept.dtype)  # [n, L]
            high = ((ratio > 1 + self.epsilon_high) & (adv > 0)).to(kept.dtype)  # [n, L]
            per_sequence = kept.sum(-1)  # [n] kept tokens of each sequence
            has_tokens = per_sequence > 0  # [n]
            low_fraction = (low * kept).sum(-1) / per_sequence.clamp(min=1)  # [n]
            high_fraction = (high * kept).sum(-1) / per_sequence.clamp(min=1)  # [n]
            inf = torch.full_like(low_fraction, float("inf"))  # [n]
            return LossStats(
                tokens=kept.sum(),
                kl_sum=(kl.detach() * kept).sum(),
                neg_logp_sum=(-logprobs.detach() * kept).sum(),
                clipped_low=(low * kept).sum(),
                clipped_high=(high * kept).sum(),
                low_min=torch.where(has_tokens, low_fraction, inf).min(),
                high_max=torch.where(has_tokens, high_fraction, -inf).max(),
            )
