"""What the decode loop and the log-prob pass need from a backbone, and the prompt positions both of them use.

A backbone hands the generic code a :class:`DecoderParts`: its decoder stack, LM head, token embedding and text
config, plus, optionally, a :data:`DecodeStepFactory` — a builder of a faster single-token decode step that the
backbone knows applies to its decoder (Qwen2-based backbones give :func:`ervlight.policy.backbones.lean_qwen2
.lean_qwen2_step`). The generic loop only calls the factory; it imports no backbone.
Symbols: ``B`` prompts, ``N`` rows, ``P`` prompt positions, ``Q`` new positions, ``K`` cached positions, ``D`` hidden.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Protocol

import torch
from torch import nn
from transformers import Cache, DynamicCache, PreTrainedConfig

from ervlight.policy.base import PromptContext

__all__ = [
    "DecodeStep",
    "DecodeStepFactory",
    "DecoderParts",
    "next_positions",
    "prompt_positions",
    "run_decoder",
]


class DecodeStep(Protocol):
    """One decode step over a prefilled growing KV cache: final-normed hidden states ``[N, 1, D]`` of new tokens.

    Called as ``step(embeds [N, 1, D], mask [N, 1, 1, K] bool, positions [N, 1], cache)``; it appends the new
    keys/values to ``cache`` (a cache of :class:`~ervlight.policy.generation.kv_cache.GrowingLayer`).
    """

    def __call__(
        self, embeds: torch.Tensor, mask: torch.Tensor, positions: torch.Tensor, cache: DynamicCache
    ) -> torch.Tensor:
        """Hidden states ``[N, 1, D]`` of one new token per row."""
        ...


#: Builds a :class:`DecodeStep` for ``(decoder, config)``, or returns ``None`` where it does not apply (then HF's
#: forward serves every step). Called once per generation, before the linear layers are patched for decoding.
DecodeStepFactory = Callable[[nn.Module, PreTrainedConfig], DecodeStep | None]


@dataclass
class DecoderParts:
    """What the shared loop needs from a backbone: the decoder stack, the LM head, token embeddings, the config.

    ``decoder`` is called as ``decoder(inputs_embeds=, attention_mask=, position_ids=, cache=, use_cache=)`` and
    returns an object with ``last_hidden_state`` (HF ``*Model`` classes, e.g. ``Qwen2Model``). ``step_factory``
    is the backbone's fast decode step, if it has one (see the module docstring).
    """

    decoder: nn.Module
    lm_head: nn.Module
    embed_tokens: nn.Module
    config: PreTrainedConfig
    step_factory: DecodeStepFactory | None = None


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


def run_decoder(
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
