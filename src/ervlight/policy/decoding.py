"""The decode loop and the log-prob pass shared by every decoder backbone (no HF ``generate``).

:func:`sample_completions` prefills the ``B`` prompts ONCE into a preallocated KV cache that grows by a slice per
step (:mod:`ervlight.policy.kv_cache`: no per-step concatenation, no attention over unfilled positions, a ready 4-D
mask under SDPA), repeats it ``G`` times along the batch and decodes ``B*G`` rows token by token with temperature /
top-k / top-p sampling (one uniform draw per row), stopping each row at its first EOS.
:func:`completion_token_scores` scores given completions: with ``G > 1`` the prompt is run once per prompt and its
keys/values shared by the ``G`` completions (with or without autograd), and only the hidden states of completion
positions go through the LM head, in chunks, so no ``[B*G, P+L, V]`` logits tensor ever exists (under autograd,
chunks are recomputed in backward when the logits would be large: :data:`CHECKPOINT_MIN_LOGITS`).
Symbols: ``B`` prompts, ``G`` samples per prompt, ``P`` prompt positions, ``L`` completion tokens, ``V`` vocabulary.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import torch
from torch import nn
from torch.utils.checkpoint import checkpoint
from transformers import Cache, DynamicCache, PreTrainedConfig

from ervlight.policy.base import PromptContext, SamplingConfig
from ervlight.policy.fast_decode import LeanQwen2Step, lean_qwen2_step
from ervlight.policy.fast_linear import row_major_linears
from ervlight.policy.kv_cache import GrowingLayer, growing_cache, takes_boolean_4d_mask

__all__ = [
    "CHECKPOINT_MIN_LOGITS",
    "DecoderParts",
    "completion_token_scores",
    "filter_logits",
    "next_positions",
    "prompt_positions",
    "sample_completions",
    "sample_token",
]


#: Under autograd, LM-head chunks are recomputed in backward (activation checkpointing) only when the step's
#: completion logits hold at least this many elements (``N * V``; 2**25 fp32 values = 128 MiB, each kept twice
#: by softmax and its input). Below it, recomputing costs more time than the memory it saves is worth.
CHECKPOINT_MIN_LOGITS = 1 << 25


@dataclass
class DecoderParts:
    """What the shared loop needs from a backbone: the decoder stack, the LM head, token embeddings, the config.

    ``decoder`` is called as ``decoder(inputs_embeds=, attention_mask=, position_ids=, cache=, use_cache=)`` and
    returns an object with ``last_hidden_state`` (HF ``*Model`` classes, e.g. ``Qwen2Model``).
    """

    decoder: nn.Module
    lm_head: nn.Module
    embed_tokens: nn.Module
    config: PreTrainedConfig


def prompt_positions(context: PromptContext) -> torch.Tensor:
    """Prompt position ids: the context's own, else counted over real positions of the left-padded mask."""
    if context.position_ids is not None:
        return context.position_ids
    mask = context.attention_mask.long()  # [B, P]
    return (mask.cumsum(-1) - 1).clamp(min=0)  # [B, P]


def next_positions(positions: torch.Tensor) -> torch.Tensor:
    """Position of the first completion token: one past the largest prompt position (``[B]`` or ``[3, B]``).

    For M-RoPE (``[3, B, P]``) the maximum is taken over all three axes, as HF's ``rope_deltas`` do: text after
    the prompt advances the three axes together.
    """
    if positions.dim() == 3:
        return (positions.amax(dim=(0, 2)) + 1).expand(positions.shape[0], -1)  # [3, B]
    return positions.amax(dim=-1) + 1  # [B]


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


def _run_decoder(
    parts: DecoderParts,
    embeds: torch.Tensor,
    attention_mask: torch.Tensor,
    positions: torch.Tensor,
    cache: Cache | None,
) -> torch.Tensor:
    """Hidden states ``[N, Q, D]`` of the decoder stack for ``Q`` new positions."""
    out = parts.decoder(
        inputs_embeds=embeds,
        attention_mask=attention_mask,
        position_ids=positions,
        cache=cache,
        use_cache=cache is not None,
    )
    hidden: torch.Tensor = out.last_hidden_state
    return hidden


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
    linear layers multiply by transposed weight copies (:mod:`ervlight.policy.fast_linear`). Plain Qwen2 decoders
    decode with the lean step of :mod:`ervlight.policy.fast_decode` (HF's forward prefills and serves the rest).
    """
    weight: torch.Tensor = parts.embed_tokens.weight  # type: ignore[assignment]
    embeds = context.embeds.detach().to(weight.dtype)
    plain = PromptContext(embeds, context.attention_mask, context.position_ids, context.extras)
    lean = lean_qwen2_step(parts.decoder, parts.config)  # decided before the linear layers are patched
    with (
        torch.inference_mode(),  # less per-op bookkeeping than no_grad: the loop is hundreds of small ops a step
        torch.autocast(device_type=embeds.device.type, enabled=False),
        row_major_linears([parts.decoder, parts.lm_head]),
    ):
        ids, mask, truncated = _sample(
            parts, plain, num_samples, sampling, eos_token_ids, pad_token_id, generator, lean
        )
    return (
        ids.clone(),
        mask.clone(),
        truncated.clone(),
    )  # ordinary tensors: inference tensors cannot enter autograd


def _sample(
    parts: DecoderParts,
    context: PromptContext,
    num_samples: int,
    sampling: SamplingConfig,
    eos_token_ids: Sequence[int],
    pad_token_id: int,
    generator: torch.Generator | None = None,
    lean: LeanQwen2Step | None = None,
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """The decode loop of :func:`sample_completions` (no autocast, inference mode; ``lean``: the step to use)."""
    embeds, prompt_mask = context.embeds, context.attention_mask.bool()  # [B, P, D], [B, P]
    batch, length = prompt_mask.shape
    rows, max_new = batch * num_samples, sampling.max_new_tokens
    if max_new < 1:
        raise ValueError(f"max_new_tokens must be >= 1, got {max_new}")
    cache = growing_cache(parts.config, length + max_new)
    positions = prompt_positions(context)
    hidden = _run_decoder(parts, embeds, prompt_mask, positions, cache)[:, -1]  # [B, D]
    cache.batch_repeat_interleave(
        num_samples
    )  # prompt prefilled once, its keys/values shared by the G samples
    logits = parts.lm_head(hidden).float().repeat_interleave(num_samples, dim=0)  # [B*G, V]
    full_mask = torch.ones(rows, length + max_new, dtype=torch.bool, device=embeds.device)  # [B*G, P+L]
    full_mask[:, :length] = prompt_mask.repeat_interleave(num_samples, dim=0)
    # A ready [B*G, 1, 1, P+L] view spares HF building a 4-D mask at every step (SDPA, full attention only).
    step_masks = full_mask[:, None, None, :] if takes_boolean_4d_mask(parts.config, cache) else full_mask
    if positions.dim() != 2 or not all(isinstance(layer, GrowingLayer) for layer in cache.layers):
        lean = None  # the lean step takes 1-D positions and writes into growing layers only
    start = next_positions(positions).repeat_interleave(num_samples, dim=-1)  # [B*G] or [3, B*G]
    eos = torch.tensor(list(eos_token_ids), device=embeds.device)
    ids = torch.full((rows, max_new), pad_token_id, dtype=torch.long, device=embeds.device)  # [B*G, L]
    finished = torch.zeros(rows, dtype=torch.bool, device=embeds.device)  # [B*G]
    steps = 0
    for step in range(max_new):
        token = sample_token(logits, sampling, generator)  # [B*G]
        token = token.masked_fill(finished, pad_token_id)
        ids[:, step] = token
        finished |= torch.isin(token, eos)
        steps = step + 1
        if step + 1 == max_new or bool(finished.all()):
            break
        step_embeds = parts.embed_tokens(token.unsqueeze(-1))  # [B*G, 1, D]
        step_mask = step_masks[..., : length + step + 1]  # the cache grows one position a step
        step_positions = _step_positions(start, step)  # [B*G, 1]
        if lean is not None:
            out = lean(step_embeds, full_mask[:, None, None, : length + step + 1], step_positions, cache)
        else:
            out = _run_decoder(parts, step_embeds, step_mask, step_positions, cache)  # [B*G, 1, D]
        hidden = out[:, -1]  # [B*G, D]
        logits = parts.lm_head(hidden).float()  # [B*G, V]
    ids = ids[:, :steps]  # [B*G, L]
    is_eos = torch.isin(ids, eos)  # [B*G, L]
    eos_before = is_eos.long().cumsum(-1) - is_eos.long()  # EOS strictly before each position
    mask = eos_before == 0  # [B*G, L]
    truncated = ~is_eos.any(-1)  # [B*G]
    return ids, mask, truncated


def _vocab_size(parts: DecoderParts) -> int:
    """``V``: rows of the LM head's weight."""
    weight: torch.Tensor = parts.lm_head.weight  # type: ignore[assignment]
    return int(weight.shape[0])


def _chunk_scores(
    hidden: torch.Tensor, targets: torch.Tensor, lm_head: nn.Module, temperature: float, with_entropy: bool
) -> tuple[torch.Tensor, torch.Tensor]:
    """Log-probs ``[N]`` of ``targets`` under ``lm_head(hidden) / temperature`` for one chunk of rows, and the
    detached entropy ``[N]`` of that distribution (empty unless ``with_entropy``)."""
    logp = (lm_head(hidden).float() / temperature).log_softmax(-1)  # [N, V]
    with torch.no_grad():
        entropy = -(logp.exp() * logp).sum(-1) if with_entropy else logp.new_empty(0)  # [N]
    return logp.gather(-1, targets.unsqueeze(-1)).squeeze(-1), entropy


def _completion_hidden(
    parts: DecoderParts,
    context: PromptContext,
    completion_ids: torch.Tensor,
    completion_mask: torch.Tensor,
    num_samples: int,
) -> torch.Tensor:
    """``[B*G, L, D]`` hidden states that predict each completion token (see :func:`completion_token_scores`)."""
    rows, length = completion_ids.shape
    prompt_len = context.attention_mask.shape[1]
    if rows != context.num_prompts * num_samples:
        raise ValueError(
            f"completion rows ({rows}) must equal prompts ({context.num_prompts}) x num_samples ({num_samples})"
        )
    token_embeds = parts.embed_tokens(completion_ids).to(context.embeds.dtype)  # [B*G, L, D]
    prompt_mask = context.attention_mask.bool().repeat_interleave(num_samples, dim=0)  # [B*G, P]
    attention_mask = torch.cat([prompt_mask, torch.ones_like(completion_mask, dtype=torch.bool)], dim=1)
    positions = prompt_positions(context).repeat_interleave(num_samples, dim=-2)  # [B*G, P] or [3, B*G, P]
    steps = torch.arange(length, device=completion_ids.device)  # [L]
    completion_positions = next_positions(positions).unsqueeze(-1) + steps  # [B*G, L] or [3, B*G, L]
    if num_samples == 1:  # one pass over prompt + completion
        embeds = torch.cat([context.embeds, token_embeds], dim=1)  # [B, P+L, D]
        all_positions = torch.cat([positions, completion_positions], dim=-1)
        hidden = _run_decoder(parts, embeds, attention_mask, all_positions, None)  # [B, P+L, D]
        return hidden[:, prompt_len - 1 : prompt_len + length - 1]  # [B, L, D] predicts each completion token
    # The prompt is run once per prompt and its keys/values shared by the G completions (with autograd too).
    cache = DynamicCache(config=parts.config)
    last = _run_decoder(
        parts, context.embeds, context.attention_mask.bool(), prompt_positions(context), cache
    )
    cache.batch_repeat_interleave(num_samples)
    hidden = last[:, -1:].repeat_interleave(num_samples, dim=0)  # [B*G, 1, D] predicts the first token
    if length > 1:  # the completion tokens but the last predict the rest
        follow = _run_decoder(
            parts, token_embeds[:, :-1], attention_mask[:, :-1], completion_positions[..., :-1], cache
        )  # [B*G, L-1, D]
        hidden = torch.cat([hidden, follow], dim=1)  # [B*G, L, D]
    return hidden


def completion_token_scores(
    parts: DecoderParts,
    context: PromptContext,
    completion_ids: torch.Tensor,
    completion_mask: torch.Tensor,
    num_samples: int = 1,
    chunk_size: int = 1024,
    temperature: float = 1.0,
    with_entropy: bool = True,
) -> tuple[torch.Tensor, torch.Tensor | None]:
    """``([B*G, L] log-probs, [B*G, L] entropies or None)`` of the completion tokens, 0 outside the mask.

    With ``num_samples > 1`` (GRPO's policy, reference and old-policy passes) the prompt is run once per prompt and
    its keys/values repeated for the ``G`` completions, under autograd too (gradients of the shared prompt positions
    add up over the group, as they would over ``G`` copies); with one sample, one pass over prompt + completion.
    Media are never re-encoded. The LM head only sees hidden states of masked completion positions, ``chunk_size``
    rows at a time. With ``with_entropy`` the exact entropy of each position's scored distribution
    (``softmax(logits / temperature)``) comes from the same chunks: no extra pass, no gradient.
    """
    rows, length = completion_ids.shape
    hidden = _completion_hidden(parts, context, completion_ids, completion_mask, num_samples)  # [B*G, L, D]
    selected = completion_mask.bool()  # [B*G, L]
    flat_hidden, flat_targets = hidden[selected], completion_ids[selected]  # [N, D], [N]
    recompute = (
        torch.is_grad_enabled() and flat_targets.shape[0] * _vocab_size(parts) >= CHECKPOINT_MIN_LOGITS
    )
    pieces: list[torch.Tensor] = []
    entropies: list[torch.Tensor] = []
    for begin in range(0, flat_targets.shape[0], chunk_size):
        args = (flat_hidden[begin : begin + chunk_size], flat_targets[begin : begin + chunk_size])
        if recompute:
            out = checkpoint(
                _chunk_scores, *args, parts.lm_head, temperature, with_entropy, use_reentrant=False
            )
        else:
            out = _chunk_scores(*args, parts.lm_head, temperature, with_entropy)
        pieces.append(out[0])
        entropies.append(out[1])
    logprobs = torch.zeros(rows, length, dtype=torch.float32, device=completion_ids.device)  # [B*G, L]
    entropy = torch.zeros_like(logprobs) if with_entropy else None  # [B*G, L]
    if pieces:
        logprobs = logprobs.masked_scatter(selected, torch.cat(pieces))
        entropy = None if entropy is None else entropy.masked_scatter(selected, torch.cat(entropies))
    return logprobs, entropy
