"""Rollout helpers: prompt contexts cut into micro-batches and batched log-prob passes without gradient.

The prompt context from :meth:`Policy.encode` is computed once per prompt; every pass here reuses it (rows
repeated per sample, never re-encoded). Symbols: ``B`` prompts, ``G`` group size, ``N = B * G``, ``P`` prompt
positions, ``L`` completion tokens.
"""

from __future__ import annotations

import torch

from ervlight.policy.base import Policy, PromptContext

__all__ = [
    "context_rows",
    "micro_batches",
    "scored_logprobs",
]


def micro_batches(total: int, size: int | None) -> list[tuple[int, int]]:
    """``[(start, stop), …]`` row ranges of at most ``size`` rows covering ``total`` rows (one if ``None``)."""
    step = total if size is None or size <= 0 else size
    return [(start, min(start + step, total)) for start in range(0, total, step)]


def _rows(tensor: torch.Tensor, index: torch.Tensor, batch_dim: int) -> torch.Tensor:
    """Select rows ``index`` along ``batch_dim``."""
    return tensor.index_select(batch_dim, index.to(tensor.device))


def context_rows(context: PromptContext, group_size: int, start: int, stop: int) -> tuple[PromptContext, int]:
    """The context for completion rows ``start:stop`` and the ``num_samples`` to score them with.

    Whole groups keep ``G`` samples per prompt row; any other cut repeats prompt rows once per completion.
    """
    if start % group_size == 0 and stop % group_size == 0:
        index = torch.arange(start // group_size, stop // group_size)  # [b]
        samples = group_size
    else:
        index = torch.arange(start, stop) // group_size  # [n]
        samples = 1
    position_ids = context.position_ids
    if position_ids is not None:
        position_ids = _rows(position_ids, index, 1 if position_ids.ndim == 3 else 0)
    extras = None if context.extras is None else {k: _rows(v, index, 0) for k, v in context.extras.items()}
    sliced = PromptContext(
        embeds=_rows(context.embeds, index, 0),  # [b, P, D]
        attention_mask=_rows(context.attention_mask, index, 0),  # [b, P]
        position_ids=position_ids,
        extras=extras,
    )
    return sliced, samples


def scored_logprobs(
    policy: Policy,
    context: PromptContext,
    completion_ids: torch.Tensor,
    completion_mask: torch.Tensor,
    group_size: int,
    micro_batch_size: int | None,
    chunk_size: int,
    temperature: float,
) -> torch.Tensor:
    """``[N, L]`` log-probs of all completions without gradient, computed ``micro_batch_size`` rows at a time.

    Runs in inference mode (less per-op bookkeeping than ``no_grad``); the result is an ordinary tensor.
    """
    parts = []
    with torch.inference_mode():
        for start, stop in micro_batches(completion_ids.shape[0], micro_batch_size):
            rows, samples = context_rows(context, group_size, start, stop)
            parts.append(
                policy.completion_logprobs(
                    rows,
                    completion_ids[start:stop],
                    completion_mask[start:stop],
                    num_samples=samples,
                    chunk_size=chunk_size,
                    temperature=temperature,
                )
            )
        scored = torch.cat(parts).float()  # [N, L]
    return scored.clone()  # inference tensors cannot enter the loss's autograd graph
