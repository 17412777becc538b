"""TinyOmni: media encoded once, generation/log-probs through the interface, fine-tuning modes, saving."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch

from ervlight.policy import FinetuneConfig, SamplingConfig
from ervlight.policy.backbones.tiny_omni import TinyOmni, corpus_texts
from policy.media import synthetic_batch
from tiny_models import tiny_omni_kwargs

SMALL = tiny_omni_kwargs()


@pytest.fixture
def omni() -> TinyOmni:
    """A seeded small TinyOmni in eval mode."""
    torch.manual_seed(0)
    return TinyOmni(**SMALL).eval()


def test_encode_layout_and_masks(omni: TinyOmni) -> None:
    batch = synthetic_batch(["happy", "sad"], frames=4)
    batch.frame_mask[1, 3] = False
    batch.has_audio[1] = False
    context = omni.encode(batch)
    text_ids, _ = omni.tokenize_prompts(omni.format_prompts(None, 2))
    assert context.embeds.shape == (2, 4 + 4 + text_ids.shape[1], 32)
    assert context.attention_mask[0].sum() == context.attention_mask.shape[1]
    assert context.attention_mask[1, :8].tolist() == [1, 1, 1, 0, 0, 0, 0, 0]


def test_media_encoded_once_matches_reencoding_per_completion(omni: TinyOmni) -> None:
    batch = synthetic_batch(["happy", "sad"])
    sampling = SamplingConfig(max_new_tokens=8)
    calls = []
    handle = omni.vision_encoder.register_forward_hook(lambda *_: calls.append(1))
    context = omni.encode(batch)
    once = omni.generate(context, 3, sampling, torch.Generator().manual_seed(7))
    omni.completion_logprobs(context, once.completion_ids, once.completion_mask, 3)
    assert len(calls) == 1  # one tower pass for G samples and the log-prob pass
    repeated = synthetic_batch(["happy", "happy", "happy", "sad", "sad", "sad"])
    again = omni.generate(omni.encode(repeated), 1, sampling, torch.Generator().manual_seed(7))
    handle.remove()
    assert torch.equal(once.completion_ids, again.completion_ids)
    assert once.texts == again.texts


def test_logprobs_equal_plain_forward(omni: TinyOmni) -> None:
    batch = synthetic_batch(["angry", "sad"])
    context = omni.encode(batch)
    out = omni.generate(context, 2, SamplingConfig(max_new_tokens=6), torch.Generator().manual_seed(1))
    logprobs = omni.completion_logprobs(context, out.completion_ids, out.completion_mask, 2, chunk_size=4)
    embeds = torch.cat([context.embeds.repeat_interleave(2, 0), omni.embed_tokens(out.completion_ids)], 1)
    mask = torch.cat([context.attention_mask.repeat_interleave(2, 0), torch.ones_like(out.completion_ids)], 1)
    positions = (mask.cumsum(-1) - 1).clamp(min=0)
    logits = omni.lm(inputs_embeds=embeds, attention_mask=mask, position_ids=positions).logits
    prompt = context.embeds.shape[1]
    expected = (
        logits[:, prompt - 1 : -1].log_softmax(-1).gather(-1, out.completion_ids.unsqueeze(-1)).squeeze(-1)
    )
    torch.testing.assert_close(logprobs, expected * out.completion_mask, atol=1e-5, rtol=1e-5)


def test_audio_features_from_the_batch_are_used(omni: TinyOmni) -> None:
    batch = synthetic_batch(["happy"])
    computed = omni.log_mel(batch.audio)  # [B, M, F]
    batch.audio_features = computed
    batch.audio_feature_mask = torch.ones(1, computed.shape[-1], dtype=torch.bool)
    with_features = omni.encode(batch).embeds
    batch.audio_features, batch.audio_feature_mask = None, None
    torch.testing.assert_close(omni.encode(batch).embeds, with_features)


def test_encode_rejects_text_prompts(omni: TinyOmni) -> None:
    with pytest.raises(TypeError, match="needs a MediaBatch"):
        omni.encode(["hello"])


def test_frozen_audio_encoder_and_lora(omni: TinyOmni) -> None:
    omni.apply_finetuning(
        FinetuneConfig(mode="lora", lora_r=2, target_modules=["q_proj"], freeze=["audio_encoder"])
    )
    trainable = {n for n, p in omni.named_parameters() if p.requires_grad}
    assert not any(n.startswith("audio_encoder.") for n in trainable)
    assert any(n.startswith("vision_encoder.") for n in trainable)
    assert {n for n in trainable if n.startswith("lm.")} == {
        n for n, _ in omni.named_parameters() if n.startswith("lm.") and "lora_" in n
    }


def test_save_and_load_round_trip_with_adapters(omni: TinyOmni, tmp_path: Path) -> None:
    omni.apply_finetuning(FinetuneConfig(mode="lora", lora_r=2, target_modules=["q_proj", "v_proj"]))
    with torch.no_grad():
        for name, parameter in omni.named_parameters():
            if "lora_B" in name:
                parameter.fill_(0.05)
    batch = synthetic_batch(["happy", "sad"])
    context = omni.encode(batch)
    out = omni.generate(context, 2, SamplingConfig(max_new_tokens=5), torch.Generator().manual_seed(3))
    expected = omni.completion_logprobs(context, out.completion_ids, out.completion_mask, 2)
    omni.save_pretrained(tmp_path / "ckpt")
    for name in ("tiny_omni.json", "towers.safetensors", "lm/config.json", "adapter/adapter_config.json"):
        assert (tmp_path / "ckpt" / name).is_file(), name
    loaded = TinyOmni.from_pretrained(tmp_path / "ckpt").eval()
    assert loaded.has_adapters
    actual = loaded.completion_logprobs(loaded.encode(batch), out.completion_ids, out.completion_mask, 2)
    torch.testing.assert_close(actual, expected)


def test_tokenizer_trains_on_the_corpus(tmp_path: Path) -> None:
    corpus = tmp_path / "emer.json"
    corpus.write_text('[{"video": "a.mp4", "conversations": [{"from": "gpt", "value": "zyzzyva zyzzyva"}]}]')
    assert "zyzzyva zyzzyva" in corpus_texts(corpus)
    omni = TinyOmni(tokenizer_corpus=str(corpus), **SMALL)
    assert len(omni.tokenizer.tokenize("zyzzyva")) < len("zyzzyva")
    with pytest.raises(FileNotFoundError, match=r"missing\.json does not exist"):
        corpus_texts(tmp_path / "missing.json")
    with pytest.raises(FileNotFoundError, match="not a TinyOmni checkpoint"):
        TinyOmni(pretrained=str(tmp_path))


def test_modalities_select_the_media_tokens() -> None:
    batch = synthetic_batch(["happy", "sad"], frames=4)
    audio_only = TinyOmni(modalities=["audio"], **SMALL).eval()
    text_ids, _ = audio_only.tokenize_prompts(audio_only.format_prompts(None, 2))
    assert audio_only.encode(batch).embeds.shape[1] == 4 + text_ids.shape[1]
    vision_only = TinyOmni(modalities=["vision"], **SMALL).eval()
    assert vision_only.encode(batch).embeds.shape[1] == 4 + text_ids.shape[1]
    with pytest.raises(ValueError, match="must include 'vision' and/or 'audio'"):
        TinyOmni(modalities=[], **SMALL).encode(batch)


def test_audio_statistics_ignore_masked_frames(omni: TinyOmni) -> None:
    features = torch.randn(1, 128, 40)
    mask = torch.ones(1, 40, dtype=torch.bool)
    padded = torch.cat([features, torch.full((1, 128, 40), 5.0)], dim=-1)
    padded_mask = torch.cat([mask, torch.zeros(1, 40, dtype=torch.bool)], dim=-1)
    torch.testing.assert_close(omni.audio_encoder(padded, padded_mask), omni.audio_encoder(features, mask))


def test_motion_frame_input_sees_changes_not_identity(tmp_path: Path) -> None:
    """``frame_input: motion``: a constant offset on every frame (another face, same movement) changes nothing."""
    torch.manual_seed(0)
    omni = TinyOmni(frame_input="motion", modalities=["vision"], **SMALL).eval()
    batch = synthetic_batch(["happy", "sad"], frames=4)
    shifted = synthetic_batch(["happy", "sad"], frames=4)
    shifted.frames = batch.frames + 0.3  # same movement, different appearance
    with torch.no_grad():
        tokens = omni.vision_encoder(batch.frames)  # [B, T, D]
        torch.testing.assert_close(omni.vision_encoder(shifted.frames), tokens)
        still = omni.vision_encoder(batch.frames[:, :1].expand_as(batch.frames))  # no movement at all
        content = still - omni.vision_encoder.frame_index.weight[:4]  # [B, T, D] without the index embedding
        torch.testing.assert_close(content, content[:, :1].expand_as(content))  # every frame alike
    omni.save_pretrained(tmp_path / "motion")
    assert TinyOmni.from_pretrained(tmp_path / "motion").sizes["frame_input"] == "motion"
    legacy = tmp_path / "motion" / "tiny_omni.json"
    settings = json.loads(legacy.read_text())
    del settings["sizes"]["frame_input"]  # a checkpoint from before the option
    legacy.write_text(json.dumps(settings))
    loaded = TinyOmni.from_pretrained(tmp_path / "motion")
    assert loaded.sizes["frame_input"] == "frames"
    assert not loaded.vision_encoder.motion
    with pytest.raises(ValueError, match="frame_input must be 'frames' or 'motion', got 'flow'"):
        TinyOmni(frame_input="flow", **SMALL)
