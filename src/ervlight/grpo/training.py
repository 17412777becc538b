"""The optimisation half of a GRPO step: micro-batched backward passes under one normaliser, then updates.

Kept apart from :mod:`ervlight.grpo.module` so the accumulation logic reads in one place. Symbols: ``N``
completions of the step on this rank, ``L`` completion tokens.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

import torch

from ervlight.grpo.loss import normaliser_count
from ervlight.grpo.rollout import context_rows, micro_batches
from ervlight.grpo.stats import loss_stats
from ervlight.grpo.types import LossStats, Rollout
from ervlight.policy.base import PromptContext

if TYPE_CHECKING:
    from ervlight.grpo.module import GRPOModule

__all__ = ["optimise_rollout", "step_normaliser"]


def _reduce_sum(module: GRPOModule, value: torch.Tensor) -> torch.Tensor:
    """Sum over ranks (identity on one process)."""
    if module._trainer is None or module.trainer.world_size == 1:
        return value
    reduced: torch.Tensor = module.trainer.strategy.reduce(value, reduce_op="sum")
    return reduced


def step_normaliser(module: GRPOModule, rollout: Rollout) -> tuple[torch.Tensor, torch.Tensor]:
    """``(normaliser, global count)`` of the step: global count / world size, or the rank's count for bnpo."""
    max_length = module.sampling.max_new_tokens
    local = normaliser_count(module.loss_type, rollout.completion_mask, rollout.sequence_weights, max_length)
    world = 1 if module._trainer is None else module.trainer.world_size
    total = _reduce_sum(module, local.detach().clone())
    normaliser = local if module.loss_type == "bnpo" else total / world
    return normaliser.clamp(min=1e-12), total


def _micro_step(
    module: GRPOModule,
    rollout: Rollout,
    context: PromptContext,
    start: int,
    stop: int,
    normaliser: torch.Tensor,
    retain_graph: bool = False,
) -> tuple[torch.Tensor, LossStats, torch.Tensor | None]:
    """Forward and backward of completion rows ``start:stop`` (``retain_graph``: keep a shared context's graph).

    Returns the detached loss, its stats and the sum of the exact token entropy over the tokens the loss keeps
    (``None`` when the policy does not give entropies).
    """
    rows, samples = context_rows(context, module.num_generations, start, stop)
    ids, mask = rollout.completion_ids[start:stop], rollout.completion_mask[start:stop]  # [n, L]
    weights = rollout.sequence_weights[start:stop]  # [n]
    logprobs, entropy = module.policy.completion_scores(
        rows, ids, mask, samples, module.logprob_chunk_size, module.sampling.temperature
    )  # [n, L], [n, L] or None
    entropy_sum = None if entropy is None else (entropy * mask * weights[:, None]).sum()
    old = None if rollout.old_logprobs is None else rollout.old_logprobs[start:stop]
    ref = None if rollout.ref_logprobs is None else rollout.ref_logprobs[start:stop]
    loss, stats = module.loss_fn(
        logprobs.float(), mask, rollout.advantages[start:stop], normaliser, weights, old, ref
    )  # fmt: skip
    if not loss.requires_grad:  # no completion token in this micro-batch: a zero gradient keeps ranks in step
        loss = loss + sum((p.sum() * 0 for p in module.trainable_parameters()), loss.new_zeros(()))
    module.manual_backward(loss, retain_graph=retain_graph)
    return loss.detach(), stats, entropy_sum


def optimise_rollout(
    module: GRPOModule,
    rollout: Rollout,
    context: PromptContext,
    encode: Callable[[], PromptContext] | None = None,
) -> tuple[torch.Tensor, dict[str, float]]:
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
    normaliser, total = step_normaliser(module, rollout)
    optimizer = module.optimizers()
    if isinstance(optimizer, list):
        raise ValueError("GRPOModule expects exactly one optimizer")
    scheduler = module.lr_schedulers()
    device = rollout.advantages.device
    sums = torch.zeros(5, device=device)
    entropy_sum, exact_entropy = torch.zeros(1, device=device), True
    first_loss = torch.zeros((), device=device)
    learn = total.item() > 0
    for iteration in range(module.num_iterations):
        optimizer.zero_grad(set_to_none=True)
        step_loss = torch.zeros((), device=device)
        ranges = micro_batches(rollout.completion_ids.shape[0], module.micro_batch_size) if learn else []
        grad_context = encode() if learn and encode is not None else context  # embeds [B, P, D]
        shared = grad_context.embeds.requires_grad  # one graph under every micro-batch's backward pass
        for number, (start, stop) in enumerate(ranges):
            retain = shared and number + 1 < len(ranges)
            loss, stats, entropy = _micro_step(module, rollout, grad_context, start, stop, normaliser, retain)
            step_loss += loss
            sums += torch.stack(list(stats)).to(sums)
            if entropy is None:
                exact_entropy = False
            else:
                entropy_sum += entropy.to(entropy_sum)
        if learn and module.max_grad_norm is not None:
            clip = module.max_grad_norm
            module.clip_gradients(optimizer, gradient_clip_val=clip, gradient_clip_algorithm="norm")  # type: ignore[arg-type]
        optimizer.step()
        optimizer.zero_grad(set_to_none=True)
        if scheduler is not None:
            scheduler.step()  # type: ignore[union-attr]
        if iteration == 0:
            first_loss = step_loss
    world = 1 if module._trainer is None else module.trainer.world_size
    summed = _reduce_sum(module, torch.cat([sums, entropy_sum]))  # one reduction for both
    logs = loss_stats(LossStats(*summed[:5].unbind()), module.beta)
    if exact_entropy:
        logs["entropy"] = (summed[5] / summed[0].clamp(min=1)).item()
    logs["loss"] = (_reduce_sum(module, first_loss.clone()) / world).item()
    return first_loss, logs
