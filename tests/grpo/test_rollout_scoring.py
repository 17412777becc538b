"""No-grad scoring passes of a rollout: micro-batched like one pass, ordinary tensors for the loss."""

from __future__ import annotations

from collections.abc import Callable

import torch

from ervlight.grpo.rollout import scored_logprobs
from ervlight.policy import CausalLMPolicy, SamplingConfig


def test_scored_logprobs_match_one_pass_and_can_enter_the_loss(
    make_policy: Callable[..., CausalLMPolicy],
) -> None:
    policy = make_policy()
    with torch.no_grad():
        context = policy.encode(["Describe a smiling face.", "Describe a crying face."])
    out = policy.generate(context, 3, SamplingConfig(max_new_tokens=5), torch.Generator().manual_seed(0))
    ids, mask = out.completion_ids, out.completion_mask  # [6, L]
    with torch.no_grad():
        expected = policy.completion_logprobs(context, ids, mask, 3, 4, 0.8)
    whole = scored_logprobs(policy, context, ids, mask, 3, None, 4, 0.8)
    cut = scored_logprobs(policy, context, ids, mask, 3, 4, 4, 0.8)  # 4 rows: one whole group, then a cut one
    torch.testing.assert_close(whole, expected)
    torch.testing.assert_close(cut, expected, atol=1e-5, rtol=1e-5)
    assert not torch.is_inference(whole)
    assert not whole.requires_grad
    current = policy.completion_logprobs(context, ids, mask, 3, 4, 0.8)
    kl = (
        torch.exp(whole - current) - (whole - current) - 1
    ).sum()  # k3, as the loss uses reference log-probs
    kl.backward()
    assert policy.lm.model.layers[0].mlp.up_proj.weight.grad is not None
