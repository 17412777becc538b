"""The optimisation half of a GRPO step: micro-batched backward passes under one normaliser, then updates.

Every input is explicit: the policy, the loss, the rollout, the :class:`~ervlight.grpo.config.GRPOConfig`, the
optimizer and scheduler, and a small :class:`TrainingBackend` for what Lightning provides (backward under the
precision plugin, gradient clipping, the sum and the gathering over ranks). Symbols: ``N`` completions of the step
on this rank, ``L`` completion tokens.
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
from ervlight.grpo.stats import loss_stats, merge_loss_stats
from ervlight.grpo.types import LossStats, Rollout
from ervlight.policy.base import Policy, PromptContext, ScoringRequest

__all__ = ["StepResult", "TrainingBackend", "gradient_norm", "optimise_rollout", "step_normaliser"]


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

    def gather_rows(self, value: torch.Tensor) -> torch.Tensor:
        """Rows of ``value`` from every rank, concatenated (itself on one process)."""

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
    request = ScoringRequest(rows, ids, mask, samples, config.logprob_chunk_size, config.temperature)
    logprobs, entropy = policy.score_completions(request, with_entropy=True)  # [n, L], [n, L] or None
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


def gradient_norm(optimizer: Optimizer) -> torch.Tensor:
    """``[]`` total 2-norm of the gradients the optimizer's parameters hold (before clipping: TRL's ``grad_norm``).

    Exact on one device and under DDP (whose gradients are already averaged over ranks when this runs); FSDP and
    DeepSpeed keep gradients sharded or outside ``.grad``, so there it is the norm of what this rank holds.
    """
    grads = [p.grad for group in optimizer.param_groups for p in group["params"] if p.grad is not None]
    return torch.nn.utils.get_total_norm(grads) if grads else torch.zeros(())


def _no_loss_stats(device: torch.device) -> LossStats:
    """The statistics of no pass at all: zero sums, extremes that any pass replaces."""
    zero = torch.zeros((), device=device)
    return LossStats(zero, zero, zero, zero, zero, zero + float("inf"), zero - float("inf"))


def _reduced_extremes(stats: LossStats, backend: TrainingBackend) -> tuple[torch.Tensor, torch.Tensor]:
    """``(low_min, high_max)`` over every rank (one gather of both)."""
    local = torch.stack([-stats.low_min, stats.high_max])[None]  # [1, 2]
    extremes = backend.gather_rows(local).amax(dim=0)  # [2]
    return -extremes[0], extremes[1]


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
    (:meth:`~ervlight.policy.base.Policy.score_completions`), else the mean ``-log p`` of the sampled tokens.
    ``grad_norm`` is the mean over the updates of the gradient norm before clipping (:func:`gradient_norm`),
    ``learning_rate`` the first update's learning rate (first parameter group).

    A step with nothing to learn on any rank (every group filtered or every token masked) runs no forward or
    backward pass; its updates see no gradient (the optimizer leaves every weight as it is) but still count as
    steps, so ``max_steps`` and the scheduler advance alike on every rank. It logs ``loss = 0``.
    """
    normaliser, total = step_normaliser(rollout, config, backend)
    device = rollout.advantages.device
    totals = _no_loss_stats(device)
    entropy_sum, exact_entropy = torch.zeros(1, device=device), True
    first_loss = torch.zeros((), device=device)
    norms: list[torch.Tensor] = []
    learning_rate = float(optimizer.param_groups[0]["lr"])
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
            totals = merge_loss_stats(totals, LossStats(*(value.to(device) for value in stats)))
            if entropy is None:
                exact_entropy = False
            else:
                entropy_sum += entropy.to(entropy_sum)
        if learn:
            norms.append(gradient_norm(optimizer).float().to(device))
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
    summed = backend.reduce_sum(
        torch.cat([torch.stack(list(totals[:5])), entropy_sum])
    )  # one reduction for both
    tokens, kl_sum, neg_logp_sum, clipped_low, clipped_high, _ = summed.unbind()
    low_min, high_max = _reduced_extremes(totals, backend)
    step_stats = LossStats(tokens, kl_sum, neg_logp_sum, clipped_low, clipped_high, low_min, high_max)
    logs = loss_stats(step_stats, config.beta)
    if exact_entropy:
        logs["entropy"] = (summed[5] / summed[0].clamp(min=1)).item()
    logs["grad_norm"] = torch.stack(norms).mean().item() if norms else 0.0
    logs["learning_rate"] = learning_rate
    logs["loss"] = (backend.reduce_sum(first_loss.clone()) / backend.world_size).item()
    return StepResult(first_loss, logs)
