"""Decode-time linear layers from transposed weight copies: same outputs, restored afterwards, skipped when unsafe."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from ervlight.policy.generation import fast_linear
from ervlight.policy.generation.fast_linear import row_major_linears


class _Quantised(nn.Linear):
    """Stands for a Linear subclass with its own kernel (left alone)."""


def _model() -> nn.Sequential:
    torch.manual_seed(0)
    return nn.Sequential(nn.Linear(8, 16), nn.ReLU(), nn.Linear(16, 4, bias=False), _Quantised(4, 4))


def test_outputs_match_and_modules_are_restored() -> None:
    model = _model()
    inputs = torch.randn(3, 5, 8)  # [B, T, I]
    expected = model(inputs)
    with torch.no_grad(), row_major_linears([model, model[0]]) as switched:
        assert switched == 2  # the two plain Linear layers, counted once although model[0] is listed twice
        assert "forward" in vars(model[0])
        assert "forward" in vars(model[2])
        assert "forward" not in vars(model[3])  # a subclass keeps its own forward
        torch.testing.assert_close(model(inputs), expected, atol=1e-6, rtol=1e-5)
    assert all("forward" not in vars(layer) for layer in model)
    assert torch.equal(model(inputs), expected)


def test_layers_with_replaced_forward_or_too_large_weights_are_left_alone(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    model = _model()
    hooked = model[0].forward
    model[0].forward = hooked  # type: ignore[method-assign]  # as accelerate's hooks do
    with row_major_linears([model]) as switched:
        assert switched == 1
        assert model[0].forward is hooked
    assert model[0].forward is hooked  # the instance attribute survives the block
    fresh = _model()
    monkeypatch.setattr(fast_linear, "ROW_MAJOR_MAX_BYTES", 16 * 8 * 4 - 1)
    with row_major_linears([fresh[2]]) as switched:
        assert switched == 1  # 4 x 16 floats (256 bytes) fit under the cap
    with row_major_linears([fresh]) as switched:
        assert switched == 0  # with the 16 x 8 weight (512 bytes) the copies would exceed it
    assert all("forward" not in vars(layer) for layer in fresh)


def test_restored_even_when_the_block_raises() -> None:
    model = _model()
    with pytest.raises(RuntimeError, match="boom"), row_major_linears([model]):
        raise RuntimeError("boom")
    assert all("forward" not in vars(layer) for layer in model)
