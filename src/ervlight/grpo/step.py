"""The optimisation half of a GRPO step: micro-batched backward passes under one normaliser, then updates.

Every input is explicit: the policy, the loss, the rollout, the :class:`~ervlight.grpo.config.GRPOConfig`, the
optimizer and scheduler, and a small :class:`TrainingBackend` for what Lightning provides (backward under the
precision plugin, gradient clipping, the sum over ranks). Symbols: ``N`` completions of the step on this rank,
``L`` completion tokens.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import NamedTuple, Protocol

import torch
from torch import nn
from torch.optim import Optimizer

from ervlight.grpo.config import GRPOConfig
from ervlight.grpo.loss import GRPOLoss, normaliser_count
from ervlight.grpo.rollout import context_rows, micro_batches
from ervlight.grpo.stats import loss_stats
from ervlight.grpo.types import LossStats, Rollout
from ervlight.policy.base import Policy, PromptContext

__all__ = ["StepResult", "TrainingBackend", "optimise_rollout", "step_normaliser"]


class TrainingBackend(Protocol):
    """What the step needs from the training loop (a ``LightningModule`` with :class:`GRPOModule`'s helpers)."""

    def manual_backward(self, loss: torch.Tensor, *args: object, **kwargs: object) -> None:
        """Backward pass of ``loss`` (precision scaling and strategy hooks included)."""

    def clip_gradients(
        self,
        optimizer: Optimizer,
        gradient_clip_val: float | None = None,
        gradient_clip_algorithm: str | None = None,
    ) -> None:
        """Clip the gradients of the optimizer's parameters."""

    def reduce_sum(self, value: torch.Tensor) -> torch.Tensor:
        """``value`` summed over ranks (itself on one process)."""

    @property
    def world_size(self) -> int:
        """Number of ranks."""


class StepResult(NamedTuple):
    """What one optimisation pass returns."""

    loss: torch.Tensor  # [] the first update's loss on this rank (detached)
    logs: dict[str, float]  # loss statistics under TRL's names, reduced over ranks


def step_normaliser(
    rollout: Rollout, config: GRPOConfig, backend: TrainingBackend
) -> tuple[torch.Tensor, torch.Tensor]:
    """``(normaliser, global count)`` of the step: global count / world size, or the rank's count for bnpo."""
    local = normaliser_count(
        config.loss_type, rollout.completion_mask, rollout.sequence_weights, config.max_completion_length
    )
    total = backend.reduce_sum(local.detach().clone())
    normaliser = local if config.loss_type == "bnpo" else total / backend.world_size
    return normaliser.clamp(min=1e-12), total


def _micro_step(
    policy: Policy,
    loss_fn: GRPOLoss,
    rollout: Rollout,
    context: PromptContext,
    rows_range: tuple[int, int],
    normaliser: torch.Tensor,
    config: GRPOConfig,
    backend: TrainingBackend,
    retain_graph: bool = False,
) -> tuple[torch.Tensor, LossStats, torch.Tensor | None]:
    """Forward and backward of completion rows ``start:stop`` (``retain_graph``: keep a shared context's graph).

    Returns the detached loss, its stats and the sum of the exact token entropy over the tokens the loss keeps
    (``None`` when the policy does not give entropies).
    """
    start, stop = rows_range
    rows, samples = context_rows(context, rollout.group_size, start, stop)
    ids, mask = rollout.completion_ids[start:stop], rollout.completion_mask[start:stop]  # [n, L]
    weights = rollout.sequence_weights[start:stop]  # [n]
    logprobs, entropy = policy.completion_scores(
        rows, ids, mask, samples, config.logprob_chunk_size, config.temperature
    )  # [n, L], [n, L] or None
    entropy_sum = None if entropy is None else (entropy * mask * weights[:, None]).sum()
    old = None if rollout.old_logprobs is None else rollout.old_logprobs[start:stop]
    ref = None if rollout.ref_logprobs is None else rollout.ref_logprobs[start:stop]
    loss, stats = loss_fn(
        logprobs.float(), mask, rollout.advantages[start:stop], normaliser, weights, old, ref
    )  # fmt: skip
    if not loss.requires_grad:  # no completion token in this micro-batch: a zero gradient keeps ranks in step
        loss = loss + sum((p.sum() * 0 for p in _trainable(policy)), loss.new_zeros(()))
    backend.manual_backward(loss, retain_graph=retain_graph)
    return loss.detach(), stats, entropy_sum


def _trainable(policy: nn.Module) -> Iterable[nn.Parameter]:
    """Parameters of the policy that require gradients."""
    return (p for p in policy.parameters() if p.requires_grad)


def optimise_rollout(
    policy: Policy,
    loss_fn: GRPOLoss,
    rollout: Rollout,
    context: PromptContext,
    config: GRPOConfig,
    optimizer: Optimizer,
    scheduler: torch.optim.lr_scheduler.LRScheduler | None,
    backend: TrainingBackend,
    encode: Callable[[], PromptContext] | None = None,
) -> StepResult:
    """``num_iterations`` updates on one rollout; returns the first update's loss and the loss statistics.

    ``context`` is the rollout's prompt context, encoded without gradient for sampling and scoring. ``encode``
    re-encodes the same prompts WITH gradient once per update (the media towers run once per prompt, never per
    sample), so towers, projectors and prompt embeddings learn as well; all micro-batches of the update share
    that encoding and its graph. Without ``encode`` only what lies behind the context (the decoder) trains.

    ``entropy`` is the exact mean token entropy of the scored distributions when the policy gives it
    (:meth:`~ervlight.policy.base.Policy.completion_scores`), else the mean ``-log p`` of the sampled tokens.

    A step with nothing to learn on any rank (every group filtered or every token masked) runs no forward or
    backward pass; its updates see no gradient (the optimizer leaves every weight as it is) but still count as
    steps, so ``max_steps`` and the scheduler advance alike on every rank. It logs ``loss = 0``.
    """
    normaliser, total = step_normaliser(rollout, config, backend)
    device = rollout.advantages.device
    sums = torch.zeros(5, device=device)
    entropy_sum, exact_entropy = torch.zeros(1, device=device), True
    first_loss = torch.zeros((), device=device)
    learn = total.item() > 0
    for iteration in range(config.num_iterations):
        optimizer.zero_grad(set_to_none=True)
        step_loss = torch.zeros((), device=device)
        ranges = micro_batches(rollout.completion_ids.shape[0], config.micro_batch_size) if learn else []
        grad_context = encode() if learn and encode is not None else context  # embeds [B, P, D]
        shared = grad_context.embeds.requires_grad  # one graph under every micro-batch's backward pass
        for number, rows_range in enumerate(ranges):
            retain = shared and number + 1 < len(ranges)
            loss, stats, entropy = _micro_step(
                policy, loss_fn, rollout, grad_context, rows_range, normaliser, config, backend, retain
            )  # fmt: skip
            step_loss += loss
            sums += torch.stack(list(stats)).to(sums)
            if entropy is None:
                exact_entropy = False
            else:
                entropy_sum += entropy.to(entropy_sum)
        if learn and config.max_grad_norm is not None:
            backend.clip_gradients(
                optimizer, gradient_clip_val=config.max_grad_norm, gradient_clip_algorithm="norm"
            )
        optimizer.step()
        optimizer.zero_grad(set_to_none=True)
        if scheduler is not None:
            scheduler.step()
        if iteration == 0:
            first_loss = step_loss
    summed = backend.reduce_sum(torch.cat([sums, entropy_sum]))  # one reduction for both
    logs = loss_stats(LossStats(*summed[:5].unbind()), config.beta)
    if exact_entropy:
        logs["entropy"] = (summed[5] / summed[0].clamp(min=1)).item()
    logs["loss"] = (backend.reduce_sum(first_loss.clone()) / backend.world_size).item()
    return StepResult(first_loss, logs)
