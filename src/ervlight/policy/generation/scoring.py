"""The log-prob pass shared by every decoder backbone: given completions scored against encoded prompts, chunked.

:func:`completion_token_scores` scores given completions: with ``G > 1`` the prompt is run once per prompt and its
keys/values shared by the ``G`` completions (with or without autograd), and only the hidden states of completion
positions go through the LM head, in chunks, so no ``[B*G, P+L, V]`` logits tensor ever exists (under autograd,
chunks are recomputed in backward when the logits would be large: :data:`CHECKPOINT_MIN_LOGITS`).
Symbols: ``B`` prompts, ``G`` samples per prompt, ``P`` prompt positions, ``L`` completion tokens, ``V`` vocabulary,
``N`` scored positions, ``D`` hidden size.
"""

from __future__ import annotations

import torch
from torch import nn
from torch.utils.checkpoint import checkpoint
from transformers import DynamicCache

from ervlight.policy.base import ScoringRequest
from ervlight.policy.generation.parts import DecoderParts, next_positions, prompt_positions, run_decoder

__all__ = ["CHECKPOINT_MIN_LOGITS", "completion_token_scores"]

#: Under autograd, LM-head chunks are recomputed in backward (activation checkpointing) only when the step's
#: completion logits hold at least this many elements (``N * V``; 2**25 fp32 values = 128 MiB, each kept twice
#: by softmax and its input). Below it, recomputing costs more time than the memory it saves is worth.
CHECKPOINT_MIN_LOGITS = 1 << 25


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


def _completion_hidden(parts: DecoderParts, request: ScoringRequest) -> torch.Tensor:
    """``[B*G, L, D]`` hidden states that predict each completion token (see :func:`completion_token_scores`)."""
    context, completion_ids, num_samples = request.context, request.completion_ids, request.num_samples
    completion_mask = request.completion_mask
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
        hidden = run_decoder(parts, embeds, attention_mask, all_positions, None)  # [B, P+L, D]
        return hidden[:, prompt_len - 1 : prompt_len + length - 1]  # [B, L, D] predicts each completion token
    # The prompt is run once per prompt and its keys/values shared by the G completions (with autograd too).
    cache = DynamicCache(config=parts.config)
    last = run_decoder(parts, context.embeds, context.attention_mask.bool(), prompt_positions(context), cache)
    cache.batch_repeat_interleave(num_samples)
    hidden = last[:, -1:].repeat_interleave(num_samples, dim=0)  # [B*G, 1, D] predicts the first token
    if length > 1:  # the completion tokens but the last predict the rest
        follow = run_decoder(
            parts, token_embeds[:, :-1], attention_mask[:, :-1], completion_positions[..., :-1], cache
        )  # [B*G, L-1, D]
        hidden = torch.cat([hidden, follow], dim=1)  # [B*G, L, D]
    return hidden


def completion_token_scores(
    parts: DecoderParts, request: ScoringRequest, with_entropy: bool = True
) -> tuple[torch.Tensor, torch.Tensor | None]:
    """``([B*G, L] log-probs, [B*G, L] entropies or None)`` of the completion tokens, 0 outside the mask.

    With ``num_samples > 1`` (GRPO's policy, reference and old-policy passes) the prompt is run once per prompt and
    its keys/values repeated for the ``G`` completions, under autograd too (gradients of the shared prompt positions
    add up over the group, as they would over ``G`` copies); with one sample, one pass over prompt + completion.
    Media are never re-encoded. The LM head only sees hidden states of masked completion positions, ``chunk_size``
    rows at a time. With ``with_entropy`` the exact entropy of each position's scored distribution
    (``softmax(logits / temperature)``) comes from the same chunks: no extra pass, no gradient.
    """
    completion_ids, chunk_size, temperature = request.completion_ids, request.chunk_size, request.temperature
    rows, length = completion_ids.shape
    hidden = _completion_hidden(parts, request)  # [B*G, L, D]
    selected = request.completion_mask.bool()  # [B*G, L]
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
