"""Gradient checkpointing (TRL's ``gradient_checkpointing``): same loss and gradients, fewer saved activations."""

from __future__ import annotations

import pytest
import torch
from transformers import PreTrainedTokenizerFast

from ervlight.policy import CausalLMPolicy, tiny_qwen2, train_bpe_tokenizer
from ervlight.policy.base import ScoringRequest

CORPUS = [
    "<think>He smiles.</think>\n<answer>happy</answer>",
    "Describe a smiling face. Describe a calm face.",
]


@pytest.fixture(scope="module")
def tokenizer() -> PreTrainedTokenizerFast:
    """A small byte-level BPE tokenizer."""
    return train_bpe_tokenizer(CORPUS * 5, vocab_size=300)


def scored(policy: CausalLMPolicy, samples: int) -> tuple[torch.Tensor, dict[str, torch.Tensor], int]:
    """Loss of a shared-prompt scoring pass with gradient, the gradients, and the elements autograd saved."""
    policy.zero_grad(set_to_none=True)
    saved = [0]

    def pack(tensor: torch.Tensor) -> torch.Tensor:
        saved[0] += tensor.numel()
        return tensor

    with torch.autograd.graph.saved_tensors_hooks(pack, lambda tensor: tensor):
        context = policy.encode(["Describe a smiling face.", "Describe a calm face, please."])
        ids = torch.randint(5, 250, (2 * samples, 7), generator=torch.Generator().manual_seed(0))
        mask = torch.ones_like(ids, dtype=torch.bool)
        mask[1, 4:] = False
        logprobs, _ = policy.score_completions(ScoringRequest(context, ids, mask, samples), with_entropy=True)
        loss = -(logprobs * torch.linspace(0.5, 1.5, ids.numel()).view_as(ids)).sum()
    loss.backward()
    grads = {name: p.grad.clone() for name, p in policy.named_parameters() if p.grad is not None}
    return loss.detach(), grads, saved[0]


@pytest.mark.parametrize("samples", [1, 3])
def test_checkpointing_gives_the_same_loss_and_gradients(
    tokenizer: PreTrainedTokenizerFast, samples: int
) -> None:
    torch.manual_seed(0)
    policy = CausalLMPolicy(
        tiny_qwen2(tokenizer, hidden_size=32, intermediate_size=64, num_layers=3), tokenizer
    )
    policy.eval()  # GRPO's mode: checkpointing must hold there too
    loss, grads, saved = scored(policy, samples)
    assert not policy.gradient_checkpointing
    policy.gradient_checkpointing_enable()
    policy.eval()
    assert policy.gradient_checkpointing
    layers = policy.base_language_model.model.layers
    assert all(layer.training for layer in layers)  # only the layers' own flags
    assert not any(layer.self_attn.training or layer.mlp.training for layer in layers)
    checked_loss, checked_grads, checked_saved = scored(policy, samples)
    torch.testing.assert_close(checked_loss, loss, rtol=1e-6, atol=1e-6)
    assert checked_grads.keys() == grads.keys()
    assert len(grads) == len(list(policy.parameters()))  # every weight gets a gradient
    for name, grad in grads.items():
        torch.testing.assert_close(checked_grads[name], grad, rtol=1e-5, atol=1e-6, msg=name)
    assert checked_saved < saved * 0.8  # the layers' activations are recomputed, not kept
    with torch.no_grad():  # no autograd: nothing is recomputed and the prompt cache is shared as usual
        context = policy.encode(["Describe a smiling face."])
        ids = torch.randint(5, 250, (samples, 5), generator=torch.Generator().manual_seed(1))
        plain = policy.completion_logprobs(context, ids, torch.ones_like(ids, dtype=torch.bool), samples)
    assert plain.shape == (samples, 5)


def test_a_policy_without_support_says_so() -> None:
    from ervlight.policy.base import Policy

    class Bare(Policy):
        encode = generate = score_completions = tokenize_targets = save_pretrained = None  # type: ignore[assignment]

    with pytest.raises(ValueError, match="Bare does not support gradient checkpointing"):
        Bare().gradient_checkpointing_enable()
    assert Bare().shard_units() == []
