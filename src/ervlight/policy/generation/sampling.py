"""The decode loop shared by every decoder backbone (no HF ``generate``): prompts prefilled once, G samples each.

:func:`sample_completions` prefills the ``B`` prompts ONCE into a preallocated KV cache that grows by a slice per
step (:mod:`ervlight.policy.generation.kv_cache`: no per-step concatenation, no attention over unfilled positions,
a ready 4-D mask under SDPA), repeats it ``G`` times along the batch and decodes ``B*G`` rows token by token with
temperature / top-k / top-p sampling (one uniform draw per row), stopping each row at its first EOS. A backbone's
own fast decode step (:attr:`DecoderParts.step_factory`) serves the steps after the prefill where it applies.
Symbols: ``B`` prompts, ``G`` samples per prompt, ``P`` prompt positions, ``L`` completion tokens, ``V`` vocabulary.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import torch

from ervlight.policy.base import PromptContext, SamplingConfig
from ervlight.policy.generation.fast_linear import row_major_linears
from ervlight.policy.generation.kv_cache import GrowingLayer, growing_cache, takes_boolean_4d_mask
from ervlight.policy.generation.parts import (
    DecoderParts,
    DecodeStep,
    next_positions,
    prompt_positions,
    run_decoder,
)

__all__ = ["filter_logits", "sample_completions", "sample_token"]


def filter_logits(logits: torch.Tensor, top_k: int = 0, top_p: float = 1.0) -> torch.Tensor:
    """Mask (to ``-inf``) all but the ``top_k`` largest logits and the smallest set with probability >= ``top_p``."""
    if top_k > 0 and top_k < logits.shape[-1]:
        kth = torch.topk(logits, top_k, dim=-1).values[..., -1:]  # [N, 1]
        logits = logits.masked_fill(logits < kth, float("-inf"))
    if top_p < 1.0:
        sorted_logits, order = torch.sort(logits, dim=-1, descending=True)  # [N, V]
        probs = sorted_logits.softmax(-1)
        # Drop a token when the tokens ranked above it already reach top_p (the first token always stays).
        drop_sorted = (probs.cumsum(-1) - probs) >= top_p  # [N, V]
        drop = torch.zeros_like(drop_sorted).scatter(-1, order, drop_sorted)
        logits = logits.masked_fill(drop, float("-inf"))
    return logits


def sample_token(
    logits: torch.Tensor, sampling: SamplingConfig, generator: torch.Generator | None = None
) -> torch.Tensor:
    """Pick the next token of each row from ``[N, V]`` logits: greedy, or sampled after temperature and filters.

    Sampling inverts the cumulative distribution with ONE uniform draw per row (``torch.multinomial`` draws an
    exponential variate per vocabulary entry, which dominates a small model's decode step on CPU).
    """
    if not sampling.do_sample or sampling.temperature == 0:
        return logits.argmax(-1)  # [N]
    scaled = filter_logits(logits.float() / sampling.temperature, sampling.top_k, sampling.top_p)
    cdf = scaled.softmax(-1).cumsum(-1)  # [N, V]
    total = cdf[:, -1:]  # [N, 1]
    draw = torch.rand(total.shape, generator=generator, device=cdf.device, dtype=cdf.dtype) * total  # [N, 1]
    # Strictly below the total, the first index whose cdf exceeds the draw has a non-zero probability.
    draw = torch.minimum(draw, torch.nextafter(total, torch.zeros_like(total)))
    return torch.searchsorted(cdf, draw, right=True).squeeze(-1)  # [N]


def _step_positions(start: torch.Tensor, step: int) -> torch.Tensor:
    """Position ids ``[N, 1]`` (or ``[3, N, 1]``) of decode step ``step`` from the first completion positions."""
    return (start + step).unsqueeze(-1)


@dataclass(frozen=True)
class _Draw:
    """What every decode step needs besides the model: samples per prompt, how to sample, when to stop, padding."""

    num_samples: int
    sampling: SamplingConfig
    eos: torch.Tensor  # [E] stop token ids
    pad_token_id: int
    generator: torch.Generator | None


def sample_completions(
    parts: DecoderParts,
    context: PromptContext,
    num_samples: int,
    sampling: SamplingConfig,
    eos_token_ids: Sequence[int],
    pad_token_id: int,
    generator: torch.Generator | None = None,
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Sample ``G`` completions per prompt: ``(ids [B*G, L], mask [B*G, L], truncated [B*G])``.

    The prompts are prefilled once with batch ``B``; the cache is then repeated to ``B*G`` rows (group members
    adjacent). ``mask`` is ``True`` up to and including the first EOS; later positions hold ``pad_token_id``.
    Decoding runs in the weights' dtype with autocast off (the preallocated cache holds one dtype); on CPU the
    linear layers multiply by transposed weight copies (:mod:`ervlight.policy.generation.fast_linear`). Where the
    backbone gives a fast step (``parts.step_factory``) and it applies, it decodes; HF's forward prefills and
    serves the rest.
    """
    weight: torch.Tensor = parts.embed_tokens.weight  # type: ignore[assignment]
    embeds = context.embeds.detach().to(weight.dtype)
    plain = PromptContext(embeds, context.attention_mask, context.position_ids, context.extras)
    # The fast step is decided before the linear layers are patched (a patched layer disqualifies a model).
    fast = parts.step_factory(parts.decoder, parts.config) if parts.step_factory is not None else None
    eos = torch.tensor(list(eos_token_ids), device=embeds.device)  # [E]
    draw = _Draw(num_samples, sampling, eos, pad_token_id, generator)
    with (
        torch.inference_mode(),  # less per-op bookkeeping than no_grad: the loop is hundreds of small ops a step
        torch.autocast(device_type=embeds.device.type, enabled=False),
        row_major_linears([parts.decoder, parts.lm_head]),
    ):
        ids, mask, truncated = _sample(parts, plain, draw, fast)
    return (
        ids.clone(),
        mask.clone(),
        truncated.clone(),
    )  # ordinary tensors: inference tensors cannot enter autograd


def _sample(
    parts: DecoderParts, context: PromptContext, draw: _Draw, fast: DecodeStep | None
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """The decode loop of :func:`sample_completions` (no autocast, inference mode; ``fast``: the step to use)."""
    num_samples, sampling, eos, pad_token_id = draw.num_samples, draw.sampling, draw.eos, draw.pad_token_id
    embeds, prompt_mask = context.embeds, context.attention_mask.bool()  # [B, P, D], [B, P]
    batch, length = prompt_mask.shape
    rows, max_new = batch * num_samples, sampling.max_new_tokens
    if max_new < 1:
        raise ValueError(f"max_new_tokens must be >= 1, got {max_new}")
    cache = growing_cache(parts.config, length + max_new)
    positions = prompt_positions(context)
    hidden = run_decoder(parts, embeds, prompt_mask, positions, cache)[:, -1]  # [B, D]
    cache.batch_repeat_interleave(
        num_samples
    )  # prompt prefilled once, its keys/values shared by the G samples
    logits = parts.lm_head(hidden).float().repeat_interleave(num_samples, dim=0)  # [B*G, V]
    full_mask = torch.ones(rows, length + max_new, dtype=torch.bool, device=embeds.device)  # [B*G, P+L]
    full_mask[:, :length] = prompt_mask.repeat_interleave(num_samples, dim=0)
    # A ready [B*G, 1, 1, P+L] view spares HF building a 4-D mask at every step (SDPA, full attention only).
    step_masks = full_mask[:, None, None, :] if takes_boolean_4d_mask(parts.config, cache) else full_mask
    if positions.dim() != 2 or not all(isinstance(layer, GrowingLayer) for layer in cache.layers):
        fast = None  # a fast step takes 1-D positions and writes into growing layers only
    start = next_positions(positions).repeat_interleave(num_samples, dim=-1)  # [B*G] or [3, B*G]
    ids = torch.full((rows, max_new), pad_token_id, dtype=torch.long, device=embeds.device)  # [B*G, L]
    finished = torch.zeros(rows, dtype=torch.bool, device=embeds.device)  # [B*G]
    steps = 0
    for step in range(max_new):
        token = sample_token(logits, sampling, draw.generator)  # [B*G]
        token = token.masked_fill(finished, pad_token_id)
        ids[:, step] = token
        finished |= torch.isin(token, eos)
        steps = step + 1
        if step + 1 == max_new or bool(finished.all()):
            break
        step_embeds = parts.embed_tokens(token.unsqueeze(-1))  # [B*G, 1, D]
        step_mask = step_masks[..., : length + step + 1]  # the cache grows one position a step
        step_positions = _step_positions(start, step)  # [B*G, 1]
        if fast is not None:
            out = fast(step_embeds, full_mask[:, None, None, : length + step + 1], step_positions, cache)
        else:
            out = run_decoder(parts, step_embeds, step_mask, step_positions, cache)  # [B*G, 1, D]
        hidden = out[:, -1]  # [B*G, D]
        logits = parts.lm_head(hidden).float()  # [B*G, V]
    ids = ids[:, :steps]  # [B*G, L]
    is_eos = torch.isin(ids, eos)  # [B*G, L]
    eos_before = is_eos.long().cumsum(-1) - is_eos.long()  # EOS strictly before each position
    mask = eos_before == 0  # [B*G, L]
    truncated = ~is_eos.any(-1)  # [B*G]
    return ids, mask, truncated
