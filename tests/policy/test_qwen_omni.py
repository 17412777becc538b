"""QwenOmniThinker: a tiny random Qwen2.5-Omni thinker + processor (saved to and loaded from a folder)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import torch
from transformers import (
    PreTrainedTokenizerFast,
    Qwen2_5OmniProcessor,
    Qwen2_5OmniThinkerConfig,
    Qwen2_5OmniThinkerForConditionalGeneration,
    WhisperFeatureExtractor,
)
from transformers.models.qwen2_vl import Qwen2VLImageProcessor
from transformers.models.qwen2_vl.video_processing_qwen2_vl import Qwen2VLVideoProcessor

from ervlight.policy import FinetuneConfig, SamplingConfig, train_bpe_tokenizer
from ervlight.policy.backbones.qwen_omni import QwenOmniThinker
from policy.media import synthetic_batch

MEDIA_TOKENS = {
    "image_token": "<|IMAGE|>",
    "video_token": "<|VIDEO|>",
    "audio_token": "<|AUDIO|>",
    "vision_bos_token": "<|vision_bos|>",
    "vision_eos_token": "<|vision_eos|>",
    "audio_bos_token": "<|audio_bos|>",
    "audio_eos_token": "<|audio_eos|>",
}


@pytest.fixture(scope="module")
def omni_folder(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A local folder with a tiny random thinker and its processor (BPE tokenizer trained in-process)."""
    folder = tmp_path_factory.mktemp("qwen_omni")
    base = train_bpe_tokenizer(["<think>The face is sad.</think>\n<answer>sad</answer>"] * 5, vocab_size=300)
    base.add_special_tokens({"additional_special_tokens": list(MEDIA_TOKENS.values())})  # type: ignore[dict-item]
    base.save_pretrained(folder / "tokenizer")
    tokenizer = PreTrainedTokenizerFast.from_pretrained(
        folder / "tokenizer", extra_special_tokens=MEDIA_TOKENS
    )
    processor = Qwen2_5OmniProcessor(
        image_processor=Qwen2VLImageProcessor(min_pixels=28 * 28, max_pixels=56 * 56),
        video_processor=Qwen2VLVideoProcessor(
            min_pixels=28 * 28, max_pixels=56 * 56, cap_pixels_per_frame=True
        ),
        feature_extractor=WhisperFeatureExtractor(feature_size=128, chunk_length=1),
        tokenizer=tokenizer,
    )
    processor.save_pretrained(folder)
    token: Any = tokenizer.convert_tokens_to_ids
    config = Qwen2_5OmniThinkerConfig(
        audio_config={
            "num_mel_bins": 128,
            "encoder_layers": 1,
            "encoder_attention_heads": 2,
            "encoder_ffn_dim": 32,
            "d_model": 16,
            "output_dim": 32,
            "n_window": 50,
        },
        vision_config={
            "depth": 1,
            "hidden_size": 16,
            "intermediate_size": 32,
            "num_heads": 2,
            "out_hidden_size": 32,
            "fullatt_block_indexes": [0],
        },
        text_config={
            "vocab_size": len(tokenizer),
            "hidden_size": 32,
            "intermediate_size": 64,
            "num_hidden_layers": 2,
            "num_attention_heads": 4,
            "num_key_value_heads": 2,
            "pad_token_id": tokenizer.pad_token_id,
            "rope_parameters": {"rope_type": "default", "rope_theta": 10000.0, "mrope_section": [1, 1, 2]},
        },
        audio_token_index=token("<|AUDIO|>"),
        video_token_index=token("<|VIDEO|>"),
        image_token_index=token("<|IMAGE|>"),
        audio_start_token_id=token("<|audio_bos|>"),
        audio_end_token_id=token("<|audio_eos|>"),
    )
    torch.manual_seed(0)
    Qwen2_5OmniThinkerForConditionalGeneration(config).save_pretrained(folder)
    return folder


@pytest.fixture
def thinker_policy(omni_folder: Path) -> QwenOmniThinker:
    """The tiny thinker loaded from its folder, float32, eval mode."""
    return QwenOmniThinker(
        str(omni_folder), dtype="float32", frame_mean=(0.0, 0.0, 0.0), frame_std=(1.0, 1.0, 1.0)
    ).eval()


def hf_inputs(policy: QwenOmniThinker, batch: Any) -> Any:
    """The processor's inputs for a batch, as HF's own generate/forward take them."""
    rows = [i for i in range(len(batch)) if batch.has_audio[i]]
    return policy.processor(
        text=policy._prompt_texts(batch, None),
        videos=list(batch.frames),
        audio=[batch.audio[i].numpy() for i in rows],
        return_tensors="pt",
        padding=True,
        videos_kwargs={"do_rescale": False, "fps": 2.0},
    )


def test_generates_from_frames_and_audio_like_hf_generate(thinker_policy: QwenOmniThinker) -> None:
    batch = synthetic_batch(["happy", "sad"], frames=4, size=56, seconds=0.5)
    batch.has_audio[1] = False
    context = thinker_policy.encode(batch)
    assert context.position_ids is not None
    assert context.position_ids.shape == (3, *context.attention_mask.shape)
    ours = thinker_policy.generate(context, 1, SamplingConfig(max_new_tokens=6, do_sample=False))
    inputs = hf_inputs(thinker_policy, batch)
    theirs = thinker_policy.thinker.generate(**inputs, max_new_tokens=6, do_sample=False)
    reference = theirs[:, inputs["input_ids"].shape[1] :]
    assert torch.equal(
        reference[:, : ours.completion_ids.shape[1]][ours.completion_mask],
        ours.completion_ids[ours.completion_mask],
    )
    sampled = thinker_policy.generate(
        context, 3, SamplingConfig(max_new_tokens=5), torch.Generator().manual_seed(0)
    )
    assert sampled.completion_ids.shape[0] == 6
    assert len(sampled.texts) == 6


def test_logprobs_equal_the_thinker_forward(thinker_policy: QwenOmniThinker) -> None:
    batch = synthetic_batch(["angry"], frames=4, size=56, seconds=0.5)
    context = thinker_policy.encode(batch)
    completion = torch.randint(10, 250, (2, 5), generator=torch.Generator().manual_seed(1))  # no media ids
    completion_mask = torch.tensor([[True] * 5, [True] * 3 + [False] * 2])
    ours = thinker_policy.completion_logprobs(context, completion, completion_mask, 2, chunk_size=3)
    inputs = hf_inputs(thinker_policy, batch)
    prompt = inputs["input_ids"].shape[1]
    ids = torch.cat([inputs["input_ids"].repeat(2, 1), completion], 1)
    mask = torch.cat([inputs["attention_mask"].repeat(2, 1), torch.ones_like(completion)], 1)
    logits = thinker_policy.thinker(
        input_ids=ids,
        attention_mask=mask,
        pixel_values_videos=inputs["pixel_values_videos"].repeat(2, 1),
        video_grid_thw=inputs["video_grid_thw"].repeat(2, 1),
        video_second_per_grid=inputs["video_second_per_grid"].repeat(2),
        input_features=inputs["input_features"].repeat(2, 1, 1),
        feature_attention_mask=inputs["feature_attention_mask"].repeat(2, 1),
    ).logits
    expected = logits[:, prompt - 1 : -1].log_softmax(-1).gather(-1, completion.unsqueeze(-1)).squeeze(-1)
    torch.testing.assert_close(ours, expected * completion_mask, atol=1e-4, rtol=1e-4)
    with torch.no_grad():  # the shared-prompt path continues M-RoPE positions after a cached prompt
        shared = thinker_policy.completion_logprobs(context, completion, completion_mask, 2, chunk_size=3)
    torch.testing.assert_close(shared, expected * completion_mask, atol=1e-4, rtol=1e-4)


def test_lora_with_frozen_audio_tower_saves_a_peft_folder(
    thinker_policy: QwenOmniThinker, tmp_path: Path
) -> None:
    thinker_policy.apply_finetuning(
        FinetuneConfig(mode="lora", lora_r=2, target_modules=["q_proj", "v_proj"], freeze=["audio_encoder"])
    )
    trainable = [n for n, p in thinker_policy.named_parameters() if p.requires_grad]
    assert trainable
    assert all("lora_" in n for n in trainable)
    thinker_policy.save_pretrained(tmp_path / "ckpt")
    assert (tmp_path / "ckpt" / "adapter" / "adapter_config.json").is_file()
    assert (tmp_path / "ckpt" / "processor" / "processor_config.json").is_file()
    with pytest.raises(ValueError, match="holds LoRA adapters only"):
        QwenOmniThinker.from_pretrained(tmp_path / "ckpt")


def test_full_thinker_round_trips(thinker_policy: QwenOmniThinker, tmp_path: Path) -> None:
    batch = synthetic_batch(["sad"], frames=2, size=56, seconds=0.5)
    context = thinker_policy.encode(batch)
    out = thinker_policy.generate(
        context, 1, SamplingConfig(max_new_tokens=4), torch.Generator().manual_seed(2)
    )
    expected = thinker_policy.completion_logprobs(context, out.completion_ids, out.completion_mask)
    thinker_policy.save_pretrained(tmp_path / "full")
    loaded = QwenOmniThinker.from_pretrained(
        tmp_path / "full", dtype="float32", frame_mean=(0.0, 0.0, 0.0), frame_std=(1.0, 1.0, 1.0)
    ).eval()
    actual = loaded.completion_logprobs(loaded.encode(batch), out.completion_ids, out.completion_mask)
    torch.testing.assert_close(actual, expected)
