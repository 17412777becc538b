"""Cached greedy decoding equals the full forward's argmax; generate returns only the new tokens."""

from __future__ import annotations

import torch

from ervlight.policy import SamplingConfig
from ervlight.policy.humanomni import HumanOmni
from policy.media import synthetic_batch


def test_greedy_decoding_equals_full_forward_argmax(policy: HumanOmni) -> None:
    batch = synthetic_batch(["happy", "sad"], frames=4, size=32, seconds=0.5)
    context = policy.encode(batch, ["Which emotion?", "Which emotion is the most obvious to you?"])
    out = policy.generate(context, 1, SamplingConfig(max_new_tokens=6, do_sample=False))
    assert out.completion_ids.shape[1] <= 6
    ids = out.completion_ids
    embeds = torch.cat([context.embeds, policy.embed_tokens(ids)], dim=1)
    mask = torch.cat([context.attention_mask, torch.ones_like(ids)], dim=1)
    positions = (mask.cumsum(-1) - 1).clamp(min=0)
    with torch.no_grad():
        logits = policy.lm(inputs_embeds=embeds, attention_mask=mask, position_ids=positions).logits
    prompt = context.embeds.shape[1]
    expected = logits[:, prompt - 1 : -1].argmax(-1)  # [B, L]
    assert torch.equal(ids[out.completion_mask], expected[out.completion_mask])
    assert out.texts == policy.tokenizer.batch_decode(
        [row[m].tolist() for row, m in zip(ids, out.completion_mask, strict=True)], skip_special_tokens=True
    )
