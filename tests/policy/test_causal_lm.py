"""CausalLMPolicy: own decode loop against plain forward passes, chunked log-probs, sampling filters, saving."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from ervlight.policy import CausalLMPolicy, FinetuneConfig, SamplingConfig
from ervlight.policy.generation.sampling import filter_logits

PROMPTS = ["hi", "a much longer prompt than the first one"]


def reference_logits(policy: CausalLMPolicy, completion: torch.Tensor, num_samples: int) -> torch.Tensor:
    """Full-vocabulary logits ``[B*G, L, V]`` of a plain forward pass over prompt ids + completion ids."""
    prompt_ids, prompt_mask = policy.tokenize_prompts(policy.format_prompts(PROMPTS, len(PROMPTS)))
    ids = torch.cat([prompt_ids.repeat_interleave(num_samples, 0), completion], 1)
    mask = torch.cat([prompt_mask.repeat_interleave(num_samples, 0), torch.ones_like(completion)], 1)
    positions = (mask.cumsum(-1) - 1).clamp(min=0)
    logits = policy.lm(input_ids=ids, attention_mask=mask, position_ids=positions).logits
    return logits[:, prompt_ids.shape[1] - 1 : -1]


def test_generate_shapes_masks_and_texts(text_policy: CausalLMPolicy) -> None:
    context = text_policy.encode(PROMPTS)
    out = text_policy.generate(context, 3, SamplingConfig(max_new_tokens=9), torch.Generator().manual_seed(0))
    rows, length = out.completion_ids.shape
    assert rows == 6
    assert 1 <= length <= 9
    assert length == 9 or not out.truncated.any()  # the loop stops early only when every row has ended
    assert out.completion_mask.shape == out.completion_ids.shape
    assert len(out.texts) == 6
    eos = text_policy.stop_token_ids[0]
    for row, mask, truncated in zip(out.completion_ids, out.completion_mask, out.truncated, strict=True):
        hits = (row == eos).nonzero().flatten().tolist()
        assert truncated.item() == (not hits)
        length = hits[0] + 1 if hits else row.shape[0]
        assert mask.tolist() == [True] * length + [False] * (row.shape[0] - length)
        assert (row[length:] == text_policy.pad_token_id).all()


def test_greedy_decoding_equals_plain_forward_argmax(text_policy: CausalLMPolicy) -> None:
    context = text_policy.encode(PROMPTS)
    out = text_policy.generate(context, 2, SamplingConfig(max_new_tokens=10, do_sample=False))
    logits = reference_logits(text_policy, out.completion_ids, 2)
    expected = logits.argmax(-1)  # [B*G, L]
    assert torch.equal(expected[out.completion_mask], out.completion_ids[out.completion_mask])
    assert torch.equal(out.completion_ids[0::2], out.completion_ids[1::2])  # greedy: group members agree


def test_logprobs_equal_plain_forward(text_policy: CausalLMPolicy) -> None:
    context = text_policy.encode(PROMPTS)
    out = text_policy.generate(
        context, 3, SamplingConfig(max_new_tokens=12), torch.Generator().manual_seed(3)
    )
    logprobs = text_policy.completion_logprobs(
        context, out.completion_ids, out.completion_mask, 3, chunk_size=5
    )
    logits = reference_logits(text_policy, out.completion_ids, 3)
    expected = logits.log_softmax(-1).gather(-1, out.completion_ids.unsqueeze(-1)).squeeze(-1)
    expected = expected * out.completion_mask
    assert logprobs.shape == out.completion_ids.shape
    torch.testing.assert_close(logprobs, expected, atol=1e-5, rtol=1e-5)
    assert (logprobs[~out.completion_mask] == 0).all()
    with torch.no_grad():  # the shared-prompt path (prompt run once, its cache repeated G times)
        shared = text_policy.completion_logprobs(
            context, out.completion_ids, out.completion_mask, 3, chunk_size=5
        )
    torch.testing.assert_close(shared, expected, atol=1e-5, rtol=1e-5)
    halved = text_policy.completion_logprobs(
        context, out.completion_ids, out.completion_mask, 3, temperature=0.5
    )
    expected_half = (logits / 0.5).log_softmax(-1).gather(-1, out.completion_ids.unsqueeze(-1)).squeeze(-1)
    torch.testing.assert_close(halved, expected_half * out.completion_mask, atol=1e-5, rtol=1e-5)


@pytest.mark.parametrize("length", [1, 2])
def test_short_completions_score_the_same_with_and_without_autograd(
    text_policy: CausalLMPolicy, length: int
) -> None:
    # Completions that all end at their first token (EOS straight away) are common early in GRPO.
    context = text_policy.encode(PROMPTS)
    ids = torch.tensor([[5, 6][:length], [7, 8][:length], [9, 10][:length], [11, 12][:length]])  # [B*G, L]
    mask = torch.ones_like(ids, dtype=torch.bool)
    logits = reference_logits(text_policy, ids, 2)
    expected = logits.log_softmax(-1).gather(-1, ids.unsqueeze(-1)).squeeze(-1)
    torch.testing.assert_close(text_policy.completion_logprobs(context, ids, mask, 2), expected)
    with torch.no_grad():
        shared = text_policy.completion_logprobs(context, ids, mask, 2)
    assert shared.shape == (4, length)
    torch.testing.assert_close(shared, expected, atol=1e-5, rtol=1e-5)


def test_logprobs_backpropagate_through_checkpointed_chunks(text_policy: CausalLMPolicy) -> None:
    context = text_policy.encode(PROMPTS)
    out = text_policy.generate(context, 2, SamplingConfig(max_new_tokens=6), torch.Generator().manual_seed(1))
    text_policy.completion_logprobs(
        context, out.completion_ids, out.completion_mask, 2, chunk_size=3
    ).sum().backward()
    grad = text_policy.lm.model.layers[0].self_attn.q_proj.weight.grad
    assert grad is not None
    assert grad.abs().sum() > 0


def test_seeded_generation_is_deterministic(text_policy: CausalLMPolicy) -> None:
    context = text_policy.encode(PROMPTS)
    sampling = SamplingConfig(max_new_tokens=8, temperature=0.7, top_p=0.9, top_k=20)
    first = text_policy.generate(context, 4, sampling, torch.Generator().manual_seed(11))
    second = text_policy.generate(context, 4, sampling, torch.Generator().manual_seed(11))
    assert torch.equal(first.completion_ids, second.completion_ids)
    assert first.texts == second.texts


def test_prefill_once_equals_prompts_repeated(text_policy: CausalLMPolicy) -> None:
    sampling = SamplingConfig(max_new_tokens=8)
    once = text_policy.generate(text_policy.encode(PROMPTS), 3, sampling, torch.Generator().manual_seed(5))
    repeated_prompts = [p for p in PROMPTS for _ in range(3)]
    again = text_policy.generate(
        text_policy.encode(repeated_prompts), 1, sampling, torch.Generator().manual_seed(5)
    )
    assert torch.equal(once.completion_ids, again.completion_ids)


def test_filter_logits_top_k_and_top_p() -> None:
    logits = torch.log(torch.tensor([[0.5, 0.3, 0.15, 0.05]]))
    assert torch.isinf(filter_logits(logits, top_k=2)).tolist() == [[False, False, True, True]]
    assert torch.isinf(filter_logits(logits, top_p=0.8)).tolist() == [[False, False, True, True]]
    assert torch.isinf(filter_logits(logits, top_p=0.81)).tolist() == [[False, False, False, True]]
    assert torch.isinf(filter_logits(logits, top_p=0.1)).tolist() == [[False, True, True, True]]


def test_lora_trains_adapters_only_and_round_trips(text_policy: CausalLMPolicy, tmp_path: Path) -> None:
    text_policy.apply_finetuning(FinetuneConfig(mode="lora", lora_r=4, target_modules=["q_proj", "v_proj"]))
    trainable = {n for n, p in text_policy.named_parameters() if p.requires_grad}
    assert trainable
    assert all("lora_" in n for n in trainable)
    before = {n: p.detach().clone() for n, p in text_policy.named_parameters()}
    context = text_policy.encode(PROMPTS)
    out = text_policy.generate(context, 2, SamplingConfig(max_new_tokens=5), torch.Generator().manual_seed(2))
    optimizer = torch.optim.SGD([p for p in text_policy.parameters() if p.requires_grad], lr=0.5)
    for _ in range(2):
        optimizer.zero_grad()
        text_policy.completion_logprobs(
            context, out.completion_ids, out.completion_mask, 2
        ).sum().neg().backward()
        optimizer.step()
    moved = {n for n, p in text_policy.named_parameters() if not torch.equal(p, before[n])}
    assert moved
    assert moved <= trainable
    assert any("lora_B" in n for n in moved)
    tuned = text_policy.completion_logprobs(context, out.completion_ids, out.completion_mask, 2)
    with text_policy.adapters_disabled():
        base = text_policy.completion_logprobs(context, out.completion_ids, out.completion_mask, 2)
    assert not torch.allclose(tuned, base)
    text_policy.save_pretrained(tmp_path / "ckpt")
    assert (tmp_path / "ckpt" / "adapter" / "adapter_config.json").is_file()
    assert not (tmp_path / "ckpt" / "lm").exists()
    with pytest.raises(ValueError, match="holds LoRA adapters only"):
        CausalLMPolicy.from_pretrained(tmp_path / "ckpt")
    base_model = text_policy.lm.get_base_model()
    with text_policy.adapters_disabled():
        base_state = {
            k.replace(".base_layer", ""): v.clone()
            for k, v in base_model.state_dict().items()
            if "lora_" not in k
        }
    fresh = type(base_model)(base_model.config)
    fresh.load_state_dict(base_state)
    loaded = CausalLMPolicy.from_pretrained(tmp_path / "ckpt", base_model=fresh).eval()
    reloaded = loaded.completion_logprobs(loaded.encode(PROMPTS), out.completion_ids, out.completion_mask, 2)
    torch.testing.assert_close(reloaded, tuned)


def test_full_model_round_trips(text_policy: CausalLMPolicy, tmp_path: Path) -> None:
    text_policy.save_pretrained(tmp_path / "full")
    loaded = CausalLMPolicy.from_pretrained(tmp_path / "full").eval()
    context = text_policy.encode(PROMPTS)
    out = text_policy.generate(context, 1, SamplingConfig(max_new_tokens=6), torch.Generator().manual_seed(4))
    expected = text_policy.completion_logprobs(context, out.completion_ids, out.completion_mask)
    actual = loaded.completion_logprobs(loaded.encode(PROMPTS), out.completion_ids, out.completion_mask)
    torch.testing.assert_close(actual, expected)
    assert loaded.chat_template == text_policy.chat_template


def test_bad_settings_raise_clear_errors(text_policy: CausalLMPolicy) -> None:
    with pytest.raises(ValueError, match="must contain '\\{instruction\\}'"):
        CausalLMPolicy(text_policy.lm, text_policy.tokenizer, chat_template="no field")
    with pytest.raises(ValueError, match="got 1 prompts for 2 samples"):
        text_policy.format_prompts(["one"], 2)
    with pytest.raises(ValueError, match="no adapters"), text_policy.adapters_disabled():
        pass
    with pytest.raises(ValueError, match="parts are \\['language_model'\\]"):
        text_policy.apply_finetuning(FinetuneConfig(freeze=["vision_encoder"]))
