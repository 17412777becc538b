"""The lean Qwen2 decode step: same hidden states as HF's forward, same tokens, and used only where it applies."""

from __future__ import annotations

from typing import Any

import pytest
import torch
from transformers import DynamicCache, Qwen2Config, Qwen2Model
from transformers.models.qwen2_5_omni.configuration_qwen2_5_omni import Qwen2_5OmniTextConfig
from transformers.models.qwen2_5_omni.modeling_qwen2_5_omni import Qwen2_5OmniThinkerTextModel

from ervlight.policy import CausalLMPolicy, SamplingConfig
from ervlight.policy.backbones.lean_qwen2 import LeanQwen2Step, lean_qwen2_step
from ervlight.policy.finetune import FinetuneConfig
from ervlight.policy.generation.kv_cache import growing_cache

ROPES: dict[str, dict[str, Any]] = {
    "default": {"rope_type": "default", "rope_theta": 10000.0},
    "linear-scaled": {"rope_type": "linear", "rope_theta": 10000.0, "factor": 4.0},
}


def _qwen2(**overrides: Any) -> Qwen2Model:
    """A seeded 3-layer GQA Qwen2Model (4 query heads, 2 key/value heads), SDPA, eval mode."""
    settings: dict[str, Any] = dict(
        vocab_size=40,
        hidden_size=32,
        intermediate_size=48,
        num_hidden_layers=3,
        num_attention_heads=4,
        num_key_value_heads=2,
        rms_norm_eps=1e-5,
        attn_implementation="sdpa",
    )
    torch.manual_seed(0)
    return Qwen2Model(Qwen2Config(**(settings | overrides))).eval()


@pytest.mark.parametrize(
    ("rope", "dtype", "tolerance"),
    [
        ("default", torch.float32, 1e-5),
        ("linear-scaled", torch.float32, 1e-5),
        ("default", torch.bfloat16, 2e-2),
    ],
)
def test_lean_steps_equal_hf_forward_on_left_padded_gqa_batches(
    rope: str, dtype: torch.dtype, tolerance: float
) -> None:
    model = _qwen2(rope_parameters=ROPES[rope]).to(dtype)
    lean = lean_qwen2_step(model, model.config)
    assert isinstance(lean, LeanQwen2Step)
    assert (lean.query_heads, lean.kv_heads, lean.head_dim) == (4, 2, 8)
    rows, prompt, steps = 3, 6, 5
    mask = torch.ones(rows, prompt + steps, dtype=torch.bool)  # [N, P+L]
    mask[0, :4] = False  # left padding of different lengths
    mask[1, :1] = False
    positions = (mask[:, :prompt].long().cumsum(-1) - 1).clamp(min=0)  # [N, P]
    embeds = torch.randn(rows, prompt + steps, 32, dtype=dtype)  # [N, P+L, D]
    reference, cache = DynamicCache(config=model.config), growing_cache(model.config, prompt + steps)
    with torch.inference_mode():
        for past in (reference, cache):  # the same prompt prefilled into both caches by HF's forward
            model(inputs_embeds=embeds[:, :prompt], attention_mask=mask[:, :prompt], position_ids=positions,
                  cache=past, use_cache=True)  # fmt: skip
        for step in range(steps):
            width = prompt + step + 1
            step_positions = positions[:, -1:] + step + 1  # [N, 1]
            token = embeds[:, prompt + step : width]  # [N, 1, D]
            expected = model(
                inputs_embeds=token,
                attention_mask=mask[:, :width],
                position_ids=step_positions,
                cache=reference,
                use_cache=True,
            ).last_hidden_state  # [N, 1, D]
            got = lean(token, mask[:, None, None, :width], step_positions, cache)
            assert got.shape == (rows, 1, 32)
            assert got.dtype == dtype
            torch.testing.assert_close(got, expected, atol=tolerance, rtol=tolerance)
            assert cache.get_seq_length() == width
            for mine, theirs in zip(cache.layers, reference.layers, strict=True):
                torch.testing.assert_close(mine.keys, theirs.keys, atol=tolerance, rtol=tolerance)
                torch.testing.assert_close(mine.values, theirs.values, atol=tolerance, rtol=tolerance)


def _generate(
    policy: CausalLMPolicy, sampling: SamplingConfig, seed: int
) -> tuple[torch.Tensor, torch.Tensor]:
    """Completion ids and mask of two left-padded prompts, three samples each, from a seeded generator."""
    context = policy.encode(["hi", "a much longer prompt than the first one"])
    generation = policy.generate(context, 3, sampling, torch.Generator().manual_seed(seed))
    return generation.completion_ids, generation.completion_mask


@pytest.mark.parametrize(
    "sampling",
    [SamplingConfig(max_new_tokens=12, do_sample=False), SamplingConfig(max_new_tokens=12, temperature=1.0)],
    ids=["greedy", "sampled"],
)
def test_generation_gives_the_same_tokens_as_the_hf_path(
    text_policy: CausalLMPolicy, sampling: SamplingConfig, monkeypatch: pytest.MonkeyPatch
) -> None:
    calls: list[int] = []
    original = LeanQwen2Step.__call__

    def counted(self: LeanQwen2Step, *args: Any) -> torch.Tensor:
        calls.append(1)
        return original(self, *args)

    monkeypatch.setattr(LeanQwen2Step, "__call__", counted)
    lean_ids, lean_mask = _generate(text_policy, sampling, seed=7)
    assert lean_ids.shape[0] == 6
    assert lean_ids.shape[1] > 2
    assert len(calls) == lean_ids.shape[1] - 1  # every decode step after the prefill, and only those
    # No fast step from the backbone: HF's forward at every step.
    monkeypatch.setattr(CausalLMPolicy, "decode_step_factory", lambda self: None)
    hf_ids, hf_mask = _generate(text_policy, sampling, seed=7)
    assert len(calls) == lean_ids.shape[1] - 1
    assert torch.equal(lean_ids, hf_ids)
    assert torch.equal(lean_mask, hf_mask)


def test_not_used_for_lora_adapted_layers(text_policy: CausalLMPolicy) -> None:
    parts = text_policy.decoder_parts()
    assert lean_qwen2_step(parts.decoder, parts.config) is not None
    text_policy.apply_finetuning(FinetuneConfig(mode="lora", lora_r=2, target_modules=["q_proj"]))
    parts = text_policy.decoder_parts()
    assert type(parts.decoder) is Qwen2Model  # peft keeps the model class, but replaces the projections
    assert lean_qwen2_step(parts.decoder, parts.config) is None


def test_not_used_for_sliding_windows_mrope_hooks_or_other_attention() -> None:
    sliding = _qwen2(use_sliding_window=True, sliding_window=4, max_window_layers=1)
    assert "sliding_attention" in sliding.config.layer_types
    assert lean_qwen2_step(sliding, sliding.config) is None
    text_config = Qwen2_5OmniTextConfig(
        vocab_size=40,
        hidden_size=32,
        intermediate_size=48,
        num_hidden_layers=1,
        num_attention_heads=4,
        num_key_value_heads=2,
        rope_parameters={"rope_type": "default", "rope_theta": 10000.0, "mrope_section": [1, 1, 2]},
    )
    thinker_text = Qwen2_5OmniThinkerTextModel(text_config)
    assert lean_qwen2_step(thinker_text, text_config) is None
    eager = _qwen2(attn_implementation="eager")
    assert lean_qwen2_step(eager, eager.config) is not None
    flex = _qwen2(attn_implementation="flex_attention")
    assert lean_qwen2_step(flex, flex.config) is None
    dropout = _qwen2(attention_dropout=0.1)
    assert lean_qwen2_step(dropout, dropout.config) is not None  # eval mode: no dropout
    assert lean_qwen2_step(dropout.train(), dropout.config) is None
    hooked = _qwen2()
    handle = hooked.layers[1].mlp.register_forward_hook(lambda *args: None)
    assert lean_qwen2_step(hooked, hooked.config) is None
    handle.remove()
    assert lean_qwen2_step(hooked, hooked.config) is not None
    hooked.norm.forward = lambda hidden: hidden  # type: ignore[method-assign]
    assert lean_qwen2_step(hooked, hooked.config) is None
