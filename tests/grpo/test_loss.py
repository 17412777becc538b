"""Every loss_type against hand computations, clipping, the KL term and accumulation invariance."""

from __future__ import annotations

import math

import pytest
import torch

from ervlight.grpo.loss import GRPOLoss, k3_kl, normaliser_count

MASK = torch.tensor([[True, True, False], [True, False, False]])  # lengths 2 and 1, L = 3
ADV = torch.tensor([1.0, -2.0])


def _logprobs() -> torch.Tensor:
    return torch.tensor([[-0.5, -1.0, 0.0], [-2.0, 0.0, 0.0]], requires_grad=True)


@pytest.mark.parametrize(
    ("loss_type", "expected", "normaliser"),
    [
        ("grpo", (-1.0 + 2.0) / 2, 2.0),  # per-sequence mean of -A, then mean over 2 sequences
        ("bnpo", (-1.0 * 2 + 2.0 * 1) / 3, 3.0),  # token sum / 3 tokens
        ("dapo", (-1.0 * 2 + 2.0 * 1) / 3, 3.0),
        ("dr_grpo", (-1.0 * 2 + 2.0 * 1) / (2 * 3), 6.0),  # token sum / (2 sequences x max length 3)
    ],
)
def test_loss_types_by_hand(loss_type: str, expected: float, normaliser: float) -> None:
    assert normaliser_count(loss_type, MASK, torch.ones(2), 3).item() == normaliser  # type: ignore[arg-type]
    loss_fn = GRPOLoss(loss_type, beta=0.0)  # type: ignore[arg-type]
    logprobs = _logprobs()
    loss, stats = loss_fn(logprobs, MASK, ADV, normaliser)
    assert loss.item() == pytest.approx(expected)
    loss.backward()
    assert logprobs.grad is not None
    # d loss / d logp = -A * (token weight) / normaliser; padded positions get nothing.
    if loss_type == "grpo":
        grad = torch.tensor([[-1 / 2 / 2, -1 / 2 / 2, 0.0], [2.0 / 1 / 2, 0.0, 0.0]])
    else:
        grad = torch.tensor([[-1.0, -1.0, 0.0], [2.0, 0.0, 0.0]]) / normaliser
    torch.testing.assert_close(logprobs.grad, grad)
    assert stats.tokens.item() == 3
    assert stats.neg_logp_sum.item() == pytest.approx(3.5)
    assert stats.kl_sum.item() == 0.0


def test_k3_kl_and_beta_term() -> None:
    logprobs = torch.tensor([[-1.0, -2.0]])
    ref = torch.tensor([[-1.5, -2.0]])
    kl = k3_kl(logprobs, ref)
    torch.testing.assert_close(kl, torch.tensor([[math.exp(-0.5) + 0.5 - 1, 0.0]]))
    loss_fn = GRPOLoss("grpo", beta=0.04)
    mask = torch.ones(1, 2, dtype=torch.bool)
    loss, stats = loss_fn(logprobs, mask, torch.tensor([0.0]), 1.0, ref_logprobs=ref)
    assert loss.item() == pytest.approx(0.04 * kl.mean().item())
    assert stats.kl_sum.item() == pytest.approx(kl.sum().item())
    with pytest.raises(ValueError, match="beta > 0 needs reference log-probs"):
        loss_fn(logprobs, mask, torch.tensor([0.0]), 1.0)


def test_clipping_with_old_logprobs() -> None:
    # ratios 1.5 (A>0, clipped high), 0.5 (A<0, clipped low), 0.5 (A>0, unclipped), 1.0
    old = torch.log(torch.tensor([[1 / 1.5], [1 / 0.5], [1 / 0.5], [1.0]]))
    logprobs = torch.zeros(4, 1, requires_grad=True)
    adv = torch.tensor([1.0, -1.0, 1.0, 2.0])
    loss_fn = GRPOLoss("grpo", epsilon=0.2, epsilon_high=0.28, beta=0.0)
    loss, stats = loss_fn(logprobs, torch.ones(4, 1, dtype=torch.bool), adv, 4.0, old_logprobs=old)
    per_sequence = [-1.28 * 1.0, 0.8, -0.5, -2.0]  # -min(r*A, clip(r)*A)
    assert loss.item() == pytest.approx(sum(per_sequence) / 4)
    loss.backward()
    assert logprobs.grad is not None
    torch.testing.assert_close(logprobs.grad[:, 0], torch.tensor([0.0, 0.0, -0.5 / 4, -2.0 / 4]))
    assert (stats.clipped_high.item(), stats.clipped_low.item()) == (1.0, 1.0)


def test_without_old_logprobs_the_ratio_is_one() -> None:
    logprobs = torch.tensor([[-3.0, -0.1]], requires_grad=True)
    loss, stats = GRPOLoss("bnpo", beta=0.0)(
        logprobs, torch.ones(1, 2, dtype=torch.bool), torch.tensor([2.0]), 2.0
    )
    assert loss.item() == pytest.approx(-2.0)
    assert stats.clipped_low.item() == stats.clipped_high.item() == 0.0


def test_sequence_weights_leave_sequences_out() -> None:
    weights = torch.tensor([0.0, 1.0])
    assert normaliser_count("grpo", MASK, weights, 3).item() == 1
    assert normaliser_count("dapo", MASK, weights, 3).item() == 1
    loss, stats = GRPOLoss("grpo", beta=0.0)(_logprobs(), MASK, ADV, 1.0, weights=weights)
    assert loss.item() == pytest.approx(2.0)
    assert stats.tokens.item() == 1


def test_unknown_loss_type_is_refused() -> None:
    with pytest.raises(ValueError, match="loss_type must be one of"):
        GRPOLoss("ppo")  # type: ignore[arg-type]


@pytest.mark.parametrize("loss_type", ["grpo", "bnpo", "dr_grpo", "dapo"])
def test_normaliser_is_invariant_under_gradient_accumulation(loss_type: str) -> None:
    generator = torch.Generator().manual_seed(0)
    n, length = 6, 5
    weight = torch.randn(n, length, generator=generator, requires_grad=True)
    lengths = torch.tensor([5, 1, 3, 2, 4, 5])
    mask = torch.arange(length)[None, :] < lengths[:, None]  # [n, L]
    adv = torch.randn(n, generator=generator)
    old = torch.randn(n, length, generator=generator) * 0.1
    ref = torch.randn(n, length, generator=generator) * 0.1
    seq_weights = torch.tensor([1.0, 1.0, 0.0, 1.0, 1.0, 1.0])
    loss_fn = GRPOLoss(loss_type, beta=0.04)  # type: ignore[arg-type]
    normaliser = normaliser_count(loss_type, mask, seq_weights, length)  # type: ignore[arg-type]

    def grads(splits: list[tuple[int, int]]) -> tuple[torch.Tensor, float]:
        weight.grad = None
        total = 0.0
        for a, b in splits:
            logprobs = torch.nn.functional.logsigmoid(weight[a:b])
            loss, _ = loss_fn(logprobs, mask[a:b], adv[a:b], normaliser, seq_weights[a:b], old[a:b], ref[a:b])
            loss.backward()
            total += loss.item()
        assert weight.grad is not None
        return weight.grad.clone(), total

    full_grad, full_loss = grads([(0, 6)])
    for splits in ([(0, 1), (1, 2), (2, 3), (3, 4), (4, 5), (5, 6)], [(0, 4), (4, 6)], [(0, 3), (3, 6)]):
        grad, loss = grads(splits)
        torch.testing.assert_close(grad, full_grad)
        assert loss == pytest.approx(full_loss)
