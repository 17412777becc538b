"""A decode-time KV cache preallocated once, exposing a growing slice (no per-step concatenation or full-length
attention).

HF's ``DynamicCache`` concatenates every layer's keys/values at each decode step (copying the whole cache, which
dominates a small model's CPU decode step), and ``StaticCache`` makes every step attend over the full preallocated
length. :func:`growing_cache` writes new positions in place into a buffer sized for prompt + completion and hands
attention a view of the filled part only. It is meant for decoding without autograd (the buffer is written in
place). Symbols: ``N`` rows, ``H`` key/value heads, ``C`` capacity (positions), ``Dh`` head size.
"""

from __future__ import annotations

from typing import Any

import torch
from transformers import DynamicCache, PreTrainedConfig
from transformers.cache_utils import DynamicLayer

__all__ = ["GrowingLayer", "growing_cache", "takes_boolean_4d_mask"]


class GrowingLayer(DynamicLayer):
    """One layer's keys/values in a buffer preallocated for ``capacity`` positions, filled from the left.

    Args:
        capacity: the most positions the layer will hold (prompt + new tokens).
    """

    def __init__(self, capacity: int) -> None:
        super().__init__()
        if capacity < 1:
            raise ValueError(f"a growing KV cache needs capacity >= 1, got {capacity}")
        self.capacity = capacity
        self.length = 0

    def lazy_initialization(self, key_states: torch.Tensor, value_states: torch.Tensor) -> None:
        """Allocate the buffers from the first keys/values (their rows, heads, dtype and device)."""
        self.device = key_states.device
        rows, heads = key_states.shape[:2]
        self.key_buffer = key_states.new_empty(
            rows, heads, self.capacity, key_states.shape[-1]
        )  # [N, H, C, Dh]
        self.value_buffer = value_states.new_empty(rows, heads, self.capacity, value_states.shape[-1])
        self.is_initialized = True

    def _expose(self) -> tuple[torch.Tensor, torch.Tensor]:
        """Point ``keys``/``values`` at the filled part of the buffers (views, no copy) and return them."""
        keys = self.key_buffer[:, :, : self.length]  # [N, H, length, Dh]
        values = self.value_buffer[:, :, : self.length]  # [N, H, length, Dh]
        self.keys, self.values = keys, values
        return keys, values

    def update(
        self, key_states: torch.Tensor, value_states: torch.Tensor, *args: Any, **kwargs: Any
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """Write ``[N, H, Q, Dh]`` new keys/values after the filled part; return views of everything filled."""
        if not self.is_initialized:
            self.lazy_initialization(key_states, value_states)
        end = self.length + key_states.shape[-2]
        if end > self.capacity:
            raise ValueError(f"growing KV cache overflow: {end} positions for a capacity of {self.capacity}")
        self.key_buffer[:, :, self.length : end] = key_states
        self.value_buffer[:, :, self.length : end] = value_states
        self.length = end
        return self._expose()

    def get_seq_length(self) -> int:
        """Positions filled so far."""
        return self.length

    def get_max_length(self) -> int:
        """The capacity."""
        return self.capacity

    def batch_repeat_interleave(self, repeats: int) -> None:
        """Repeat every row ``repeats`` times (rows ``n*repeats + r``), e.g. one prefilled prompt for G samples."""
        if self.is_initialized:
            self.key_buffer = self.key_buffer.repeat_interleave(repeats, dim=0)  # [N*repeats, H, C, Dh]
            self.value_buffer = self.value_buffer.repeat_interleave(repeats, dim=0)
            self._expose()

    def reset(self) -> None:
        """Forget the filled positions (the buffers are kept)."""
        self.length = 0
        if self.is_initialized:
            self._expose()

    def crop(self, tokens_to_remove: int) -> None:
        """Drop the last ``-tokens_to_remove`` positions (HF's convention: a negative count)."""
        if tokens_to_remove > 0:
            raise ValueError(f"crop takes a negative number of positions to remove, got {tokens_to_remove}")
        if self.is_initialized:
            self.length = max(0, self.length + tokens_to_remove)
            self._expose()

    def batch_select_indices(self, indices: torch.Tensor) -> None:
        """Keep rows ``indices`` only."""
        if self.is_initialized:
            self.key_buffer, self.value_buffer = self.key_buffer[indices], self.value_buffer[indices]
            self._expose()


def growing_cache(config: PreTrainedConfig, capacity: int) -> DynamicCache:
    """A cache of :class:`GrowingLayer` for ``capacity`` positions where the model's layers all attend fully.

    Models with sliding-window or other special layers keep HF's own ``DynamicCache`` layers (correct, slower).
    """
    cache = DynamicCache(config=config)
    if cache.layers and all(type(layer) is DynamicLayer for layer in cache.layers):
        cache.layers = [GrowingLayer(capacity) for _ in cache.layers]
    return cache


def takes_boolean_4d_mask(config: PreTrainedConfig, cache: DynamicCache) -> bool:
    """Whether a ready ``[N, 1, Q, K]`` boolean mask (``True`` = attend) can be passed as is (HF then builds none).

    True for SDPA attention over full-attention layers only (``cache`` made by :func:`growing_cache`).
    """
    full = bool(cache.layers) and all(isinstance(layer, GrowingLayer) for layer in cache.layers)
    return full and getattr(config, "_attn_implementation", None) == "sdpa"
