"""The decode loop's pieces: the growing KV cache, inverse-CDF sampling, the shared-prompt grad pass, recompute."""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any

import pytest
import torch
from torch import nn
from transformers import Qwen2Config, Qwen2Model
from transformers.cache_utils import DynamicLayer

from ervlight.policy import CausalLMPolicy, SamplingConfig
from ervlight.policy.base import ScoringRequest
from ervlight.policy.generation import scoring
from ervlight.policy.generation.kv_cache import GrowingLayer, growing_cache, takes_boolean_4d_mask
from ervlight.policy.generation.parts import DecoderParts, cache_keyword, run_decoder
from ervlight.policy.generation.sampling import sample_token

PROMPTS = ["hi", "a much longer prompt than the first one"]


def _config(**overrides: object) -> Qwen2Config:
    settings: dict[str, object] = dict(
        vocab_size=50, hidden_size=16, num_hidden_layers=3, num_attention_heads=2, num_key_value_heads=1
    )
    return Qwen2Config(**(settings | overrides))


def test_growing_layer_writes_in_place_and_exposes_the_filled_part() -> None:
    layer = GrowingLayer(capacity=5)
    first_k, first_v = torch.randn(2, 1, 3, 4), torch.randn(2, 1, 3, 4)  # [N, H, Q, Dh]
    keys, values = layer.update(first_k, first_v)
    assert keys.shape == (2, 1, 3, 4)
    assert layer.get_seq_length() == 3
    buffer = layer.key_buffer.data_ptr()
    step_k, step_v = torch.randn(2, 1, 1, 4), torch.randn(2, 1, 1, 4)
    keys, values = layer.update(step_k, step_v)
    assert layer.key_buffer.data_ptr() == buffer  # written in place, no reallocation
    assert keys.data_ptr() == buffer  # a view of the buffer
    assert torch.equal(keys, torch.cat([first_k, step_k], dim=2))
    assert torch.equal(values, torch.cat([first_v, step_v], dim=2))
    assert layer.get_max_length() == 5
    with pytest.raises(ValueError, match="growing KV cache overflow: 6 positions for a capacity of 5"):
        layer.update(torch.randn(2, 1, 2, 4), torch.randn(2, 1, 2, 4))


def test_growing_layer_repeats_crops_and_selects_rows() -> None:
    layer = GrowingLayer(capacity=4)
    keys = torch.arange(2 * 2 * 1, dtype=torch.float).reshape(2, 1, 2, 1)  # rows [0, 1] and [2, 3]
    layer.update(keys, keys.clone())
    layer.batch_repeat_interleave(3)
    assert layer.keys is not None
    assert layer.keys.flatten(1).tolist() == [[0, 1], [0, 1], [0, 1], [2, 3], [2, 3], [2, 3]]
    layer.update(torch.full((6, 1, 1, 1), 9.0), torch.full((6, 1, 1, 1), 9.0))
    assert layer.keys.flatten(1).tolist()[3] == [2, 3, 9]
    layer.crop(-2)
    assert layer.get_seq_length() == 1
    assert layer.keys.flatten(1).tolist()[5] == [2]
    layer.batch_select_indices(torch.tensor([0, 5]))
    assert layer.keys.flatten(1).tolist() == [[0], [2]]
    with pytest.raises(ValueError, match="crop takes a negative number"):
        layer.crop(1)
    with pytest.raises(ValueError, match="capacity >= 1, got 0"):
        GrowingLayer(0)


def test_growing_cache_only_for_full_attention_and_4d_mask_only_under_sdpa() -> None:
    config = _config()
    config._attn_implementation = "sdpa"
    cache = growing_cache(config, 7)
    assert [type(layer) for layer in cache.layers] == [GrowingLayer] * 3
    assert takes_boolean_4d_mask(config, cache)
    config._attn_implementation = "eager"
    assert not takes_boolean_4d_mask(config, cache)
    sliding = _config(use_sliding_window=True, sliding_window=4, max_window_layers=1)
    sliding._attn_implementation = "sdpa"
    kept = growing_cache(sliding, 7)
    assert not any(isinstance(layer, GrowingLayer) for layer in kept.layers)
    assert any(type(layer) is not DynamicLayer for layer in kept.layers)  # HF's sliding-window layers stay
    assert not takes_boolean_4d_mask(sliding, kept)


class _OldNameDecoder(nn.Module):
    """A decoder whose forward takes the cache as ``past_key_values`` (transformers <= 5.20) and records it."""

    def forward(
        self, inputs_embeds: torch.Tensor, past_key_values: Any = None, **kwargs: Any
    ) -> SimpleNamespace:
        self.received = (past_key_values, sorted(kwargs))
        return SimpleNamespace(last_hidden_state=inputs_embeds)


def test_the_cache_goes_under_the_keyword_the_decoder_declares() -> None:
    old = _OldNameDecoder()
    parts = DecoderParts(decoder=old, lm_head=nn.Identity(), embed_tokens=nn.Identity(), config=_config())
    assert parts.cache_keyword == "past_key_values"
    cache = growing_cache(_config(), 4)
    embeds = torch.randn(1, 1, 16)  # [N, Q, D]
    hidden = run_decoder(parts, embeds, torch.ones(1, 1, dtype=torch.bool), torch.zeros(1, 1), cache)
    assert hidden is embeds
    assert old.received == (cache, ["attention_mask", "position_ids", "use_cache"])
    with pytest.raises(
        TypeError, match=r"Identity.forward takes no KV cache \(neither `cache` nor `past_key_values`\)"
    ):
        cache_keyword(nn.Identity())


def test_run_decoder_fills_the_growing_cache_of_the_installed_transformers() -> None:
    torch.manual_seed(0)
    model = Qwen2Model(_config(attn_implementation="sdpa")).eval()
    parts = DecoderParts(
        decoder=model, lm_head=nn.Identity(), embed_tokens=model.embed_tokens, config=model.config
    )
    cache = growing_cache(model.config, 6)
    embeds = torch.randn(2, 4, 16)  # [N, P, D]
    mask = torch.ones(2, 4, dtype=torch.bool)  # [N, P]
    with torch.inference_mode():
        hidden = run_decoder(parts, embeds, mask, torch.arange(4).expand(2, 4), cache)  # [N, P, D]
        step = run_decoder(
            parts, embeds[:, :1], torch.ones(2, 5, dtype=torch.bool), torch.full((2, 1), 4), cache
        )
    assert hidden.shape == (2, 4, 16)
    assert step.shape == (2, 1, 16)
    # The prompt and the step were written into this cache, not into one the decoder made for itself.
    assert cache.get_seq_length() == 5
    assert all(isinstance(layer, GrowingLayer) and layer.length == 5 for layer in cache.layers)


def test_sampling_frequencies_follow_the_distribution_and_filters() -> None:
    probs = torch.tensor([0.5, 0.3, 0.15, 0.05])
    logits = probs.log().expand(40_000, 4)  # [N, V]
    sampling = SamplingConfig(temperature=1.0)
    tokens = sample_token(logits, sampling, torch.Generator().manual_seed(0))  # [N]
    frequencies = torch.bincount(tokens, minlength=4).float() / tokens.numel()
    torch.testing.assert_close(frequencies, probs, atol=0.01, rtol=0)
    again = sample_token(logits, sampling, torch.Generator().manual_seed(0))
    assert torch.equal(tokens, again)
    top2 = sample_token(logits, SamplingConfig(top_k=2), torch.Generator().manual_seed(1))
    assert set(top2.tolist()) == {0, 1}
    frequencies = torch.bincount(top2, minlength=2).float() / top2.numel()
    torch.testing.assert_close(frequencies, torch.tensor([0.625, 0.375]), atol=0.01, rtol=0)
    greedy = sample_token(logits[:3], SamplingConfig(do_sample=False))
    assert greedy.tolist() == [0, 0, 0]


def test_a_draw_at_the_top_edge_never_picks_a_filtered_token(monkeypatch: pytest.MonkeyPatch) -> None:
    # A uniform draw that rounds up to the total mass must still land on the last token with probability > 0.
    logits = torch.tensor([[2.0, 1.0, 0.5, 0.1]])
    monkeypatch.setattr(torch, "rand", lambda shape, generator, **kwargs: torch.ones(shape, **kwargs))
    assert sample_token(logits, SamplingConfig(top_k=2)).tolist() == [1]
    assert sample_token(logits, SamplingConfig()).tolist() == [3]


def _plain_logprobs(policy: CausalLMPolicy, completion: torch.Tensor, num_samples: int) -> torch.Tensor:
    """``[B*G, L]`` completion log-probs from a plain forward over the prompts repeated G times."""
    prompt_ids, prompt_mask = policy.tokenize_prompts(policy.format_prompts(PROMPTS, len(PROMPTS)))
    ids = torch.cat([prompt_ids.repeat_interleave(num_samples, 0), completion], 1)
    mask = torch.cat([prompt_mask.repeat_interleave(num_samples, 0), torch.ones_like(completion)], 1)
    positions = (mask.cumsum(-1) - 1).clamp(min=0)
    logits = policy.lm(input_ids=ids, attention_mask=mask, position_ids=positions).logits
    logits = logits[:, prompt_ids.shape[1] - 1 : -1]  # [B*G, L, V]
    return logits.log_softmax(-1).gather(-1, completion.unsqueeze(-1)).squeeze(-1)


def _grads(policy: CausalLMPolicy, loss: torch.Tensor) -> dict[str, torch.Tensor]:
    policy.zero_grad(set_to_none=True)
    loss.backward()
    return {n: p.grad.clone() for n, p in policy.named_parameters() if p.grad is not None}


def test_shared_prompt_grad_pass_equals_the_repeated_prompt_forward(text_policy: CausalLMPolicy) -> None:
    with torch.no_grad():
        context = text_policy.encode(PROMPTS)
    out = text_policy.generate(context, 3, SamplingConfig(max_new_tokens=7), torch.Generator().manual_seed(2))
    weights = (
        torch.linspace(-1, 1, out.completion_ids.numel()).view_as(out.completion_ids) * out.completion_mask
    )
    shared = text_policy.completion_logprobs(context, out.completion_ids, out.completion_mask, 3)
    expected = _plain_logprobs(text_policy, out.completion_ids, 3) * out.completion_mask
    torch.testing.assert_close(shared, expected, atol=1e-5, rtol=1e-5)
    ours = _grads(text_policy, (shared * weights).sum())
    theirs = _grads(text_policy, (expected * weights).sum())
    # The prompt embeddings come from the no-grad encode, so the embedding only learns from completion tokens in
    # ours; every other weight must get the same gradient as with the prompt repeated G times.
    names = [n for n in theirs if "embed_tokens" not in n]
    assert len(names) > 10
    for name in names:
        torch.testing.assert_close(ours[name], theirs[name], atol=1e-5, rtol=1e-4, msg=name)


def test_lm_head_chunks_are_recomputed_only_when_the_logits_are_large(
    text_policy: CausalLMPolicy, monkeypatch: pytest.MonkeyPatch
) -> None:
    with torch.no_grad():
        context = text_policy.encode(PROMPTS)
    out = text_policy.generate(context, 2, SamplingConfig(max_new_tokens=6), torch.Generator().manual_seed(1))
    calls: list[int] = []
    original = scoring.checkpoint

    def counted(*args: object, **kwargs: object) -> object:
        calls.append(1)
        return original(*args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(scoring, "checkpoint", counted)
    tokens = int(out.completion_mask.sum())
    plain = text_policy.completion_logprobs(context, out.completion_ids, out.completion_mask, 2, chunk_size=3)
    plain_grads = _grads(text_policy, plain.sum())
    assert calls == []  # tokens x vocabulary is far below CHECKPOINT_MIN_LOGITS
    monkeypatch.setattr(scoring, "CHECKPOINT_MIN_LOGITS", 1)
    recomputed = text_policy.completion_logprobs(
        context, out.completion_ids, out.completion_mask, 2, chunk_size=3
    )
    recomputed_grads = _grads(text_policy, recomputed.sum())
    assert len(calls) == -(-tokens // 3)  # one checkpointed chunk per 3 completion tokens
    torch.testing.assert_close(recomputed, plain)
    for name, grad in plain_grads.items():
        torch.testing.assert_close(recomputed_grads[name], grad, msg=name)


def test_greedy_decoding_agrees_between_the_4d_and_2d_mask_paths(text_policy: CausalLMPolicy) -> None:
    context = text_policy.encode(PROMPTS)
    sampling = SamplingConfig(max_new_tokens=10, do_sample=False)
    sdpa = text_policy.generate(context, 2, sampling)
    text_policy.lm.set_attn_implementation("eager")  # the decoder builds its own masks from the 2-D mask
    assert not takes_boolean_4d_mask(
        text_policy.decoder_parts().config, growing_cache(text_policy.lm.config, 4)
    )
    eager = text_policy.generate(context, 2, sampling)
    assert torch.equal(sdpa.completion_ids, eager.completion_ids)
    assert torch.equal(sdpa.completion_mask, eager.completion_mask)


def test_scores_give_the_exact_entropy_of_the_scored_distribution(text_policy: CausalLMPolicy) -> None:
    with torch.no_grad():
        context = text_policy.encode(PROMPTS)
    out = text_policy.generate(context, 2, SamplingConfig(max_new_tokens=6), torch.Generator().manual_seed(4))
    ids, mask = out.completion_ids, out.completion_mask
    for temperature in (1.0, 0.5):
        logprobs, entropy = text_policy.score_completions(
            ScoringRequest(context, ids, mask, 2, 4, temperature), with_entropy=True
        )
        assert entropy is not None
        assert logprobs.requires_grad
        assert not entropy.requires_grad
        with torch.no_grad():
            prompt_ids, prompt_mask = text_policy.tokenize_prompts(text_policy.format_prompts(PROMPTS, 2))
            full = torch.cat([prompt_ids.repeat_interleave(2, 0), ids], 1)
            full_mask = torch.cat([prompt_mask.repeat_interleave(2, 0), torch.ones_like(ids)], 1)
            positions = (full_mask.cumsum(-1) - 1).clamp(min=0)
            logits = text_policy.lm(input_ids=full, attention_mask=full_mask, position_ids=positions).logits
            logp = (logits[:, prompt_ids.shape[1] - 1 : -1] / temperature).log_softmax(-1)  # [B*G, L, V]
            expected = -(logp.exp() * logp).sum(-1) * mask  # [B*G, L]
        torch.testing.assert_close(entropy, expected, atol=1e-5, rtol=1e-5)
        plain = text_policy.completion_logprobs(context, ids, mask, 2, 4, temperature)
        torch.testing.assert_close(logprobs, plain)


def test_generation_returns_ordinary_tensors_that_autograd_accepts(text_policy: CausalLMPolicy) -> None:
    context = text_policy.encode(PROMPTS)  # with gradient, as SFT validation may call it
    out = text_policy.generate(context, 2, SamplingConfig(max_new_tokens=4), torch.Generator().manual_seed(0))
    assert not any(torch.is_inference(t) for t in (out.completion_ids, out.completion_mask, out.truncated))
    logprobs = text_policy.completion_logprobs(context, out.completion_ids, out.completion_mask, 2)
    logprobs.sum().backward()  # the sampled ids are saved for the embedding's backward
    assert text_policy.lm.model.embed_tokens.weight.grad is not None
