"""Decode-time linear layers with their weights transposed once into contiguous ``[in, out]`` copies (CPU only).

A decode step multiplies a few rows (``B*G``) by every weight. On CPU, MKL does that ``x @ W_t`` with a contiguous
``[in, out]`` matrix about 1.7x faster than ``F.linear(x, W)`` with the ``[out, in]`` parameter (measured on the
project's machine at 16 rows, hidden 256, one thread: the seven products of a Qwen2 layer take 216 us instead of
396; a whole 64-token decode of ``benchmarks/grpo_step.py``'s model is ~9% faster). At 1000 rows there is no
difference, so only decoding uses it. :func:`row_major_linears` makes the copies when decoding starts (one pass over
the weights) and restores the modules after it. Symbols: ``N`` rows, ``I``/``O`` input/output features.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterable, Iterator

import torch
from torch import nn

__all__ = ["ROW_MAJOR_MAX_BYTES", "row_major_linears"]

#: Largest total size of the transposed copies; above it decoding keeps the parameters as they are (the copies
#: would double the weights' memory for a gain that shrinks as weight streaming dominates large models).
ROW_MAJOR_MAX_BYTES = 1 << 30


class _RowMajorForward:
    """``x @ W_t (+ b)`` with ``W_t`` the transposed contiguous copy of one linear layer's weight."""

    def __init__(self, layer: nn.Linear) -> None:
        self.weight_t = layer.weight.detach().t().contiguous()  # [I, O]
        self.bias = None if layer.bias is None else layer.bias.detach()  # [O]

    def __call__(self, inputs: torch.Tensor) -> torch.Tensor:
        flat = inputs.reshape(-1, inputs.shape[-1])  # [N, I]
        out = (
            flat @ self.weight_t if self.bias is None else torch.addmm(self.bias, flat, self.weight_t)
        )  # [N, O]
        return out.reshape(*inputs.shape[:-1], out.shape[-1])


def _plain_linears(modules: Iterable[nn.Module]) -> list[nn.Linear]:
    """Every module that is exactly ``nn.Linear`` with its class's own ``forward``, once.

    Subclasses (quantised layers…) and layers whose ``forward`` was already replaced on the instance (accelerate's
    hooks) are left alone.
    """
    found: dict[int, nn.Linear] = {}
    for module in modules:
        for sub in module.modules():
            if type(sub) is nn.Linear and "forward" not in vars(sub):
                found[id(sub)] = sub
    return list(found.values())


@contextlib.contextmanager
def row_major_linears(modules: Iterable[nn.Module]) -> Iterator[int]:
    """Inside the block, the plain CPU linear layers of ``modules`` run from transposed weight copies.

    Meant for no-grad decoding (the copies are detached snapshots). Yields the number of layers switched: 0 when
    the weights are not on the CPU or the copies would exceed :data:`ROW_MAJOR_MAX_BYTES`.
    """
    layers = [layer for layer in _plain_linears(modules) if layer.weight.device.type == "cpu"]
    size = sum(layer.weight.numel() * layer.weight.element_size() for layer in layers)
    if size > ROW_MAJOR_MAX_BYTES:
        layers = []
    for layer in layers:
        layer.forward = _RowMajorForward(layer)  # type: ignore[method-assign,assignment]
    try:
        yield len(layers)
    finally:
        for layer in layers:
            del layer.forward
