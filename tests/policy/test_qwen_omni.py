"""QwenOmniThinker: a tiny random Qwen2.5-Omni thinker + processor (saved to and loaded from a folder)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import torch

from ervlight.policy import FinetuneConfig, SamplingConfig
from ervlight.policy.backbones.qwen_omni import QwenOmniThinker
from policy.media import synthetic_batch
from policy.omni_folder import build_omni_folder


@pytest.fixture(scope="module")
def omni_folder(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A local folder with a tiny random thinker and its processor (BPE tokenizer trained in-process)."""
    return build_omni_folder(tmp_path_factory.mktemp("qwen_omni"))


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


def interleaved_inputs(policy: QwenOmniThinker, batch: Any, rows: list[int]) -> Any:
    """The processor's own video-with-sound inputs (audio of clip ``rows[k]`` interleaved into its video)."""
    return policy.processor(
        text=policy._prompt_texts(batch, None),
        videos=list(batch.frames),
        audio=[batch.audio[i].numpy() for i in rows],
        audio_from_video_indices=rows,
        load_audio_from_video=True,
        return_tensors="pt",
        padding=True,
        videos_kwargs={"do_rescale": False, "fps": 2.0},
    )


def test_audio_in_video_interleaves_and_matches_the_models_rope_index(omni_folder: Path) -> None:
    policy = QwenOmniThinker(
        str(omni_folder), dtype="float32", frame_mean=(0.0, 0.0, 0.0), frame_std=(1.0, 1.0, 1.0),
        use_audio_in_video=True,
    ).eval()  # fmt: skip
    batch = synthetic_batch(["happy", "sad"], frames=8, size=56, seconds=1.0)
    processor: Any = policy.processor
    assert processor.audio_token not in policy._prompt_texts(batch, None)[0]  # no separate audio segment
    inputs = interleaved_inputs(policy, batch, [0, 1])
    token = processor.tokenizer.convert_tokens_to_ids
    row = inputs["input_ids"][0].tolist()
    inner = row[row.index(token(processor.audio_bos_token)) + 1 : row.index(token(processor.audio_eos_token))]
    runs = [(inner[0], 1)]
    for item in inner[1:]:
        runs[-1:] = [(item, runs[-1][1] + 1)] if item == runs[-1][0] else [runs[-1], (item, 1)]
    video, audio = token(processor.video_token), token(processor.audio_token)
    assert [kind for kind, _ in runs] == [
        video,
        audio,
        video,
    ]  # 2 s chunks: frames 0-3, the audio, frames 4-7
    assert runs[0][1] == runs[2][1]  # the same frames per chunk
    assert runs[1][1] == row.count(audio)  # all of the clip's audio sits between them
    context = policy.encode(batch)
    assert torch.equal(context.attention_mask, inputs["attention_mask"])
    expected, _ = policy.thinker.model.get_rope_index(
        inputs["input_ids"], None, inputs["video_grid_thw"], inputs["attention_mask"], True,
        inputs["feature_attention_mask"].sum(-1), inputs["video_second_per_grid"],
    )  # fmt: skip
    assert context.position_ids is not None
    assert torch.equal(context.position_ids, expected)
    plain, _ = policy.thinker.model.get_rope_index(
        inputs["input_ids"], None, inputs["video_grid_thw"], inputs["attention_mask"], False,
        inputs["feature_attention_mask"].sum(-1), inputs["video_second_per_grid"],
    )  # fmt: skip
    assert not torch.equal(plain, expected)  # the mode changes the positions


def test_audio_in_video_logprobs_equal_the_thinker_forward(omni_folder: Path, tmp_path: Path) -> None:
    policy = QwenOmniThinker(
        str(omni_folder), dtype="float32", frame_mean=(0.0, 0.0, 0.0), frame_std=(1.0, 1.0, 1.0),
        use_audio_in_video=True,
    ).eval()  # fmt: skip
    batch = synthetic_batch(["angry", "sad"], frames=8, size=56, seconds=1.0)
    batch.has_audio[1] = False  # a silent clip keeps a plain video segment in the same batch
    context = policy.encode(batch)
    completion = torch.randint(10, 250, (2, 4), generator=torch.Generator().manual_seed(3))
    mask = torch.ones_like(completion, dtype=torch.bool)
    ours = policy.completion_logprobs(context, completion, mask)
    for row, audio_rows in ((0, [0]), (1, [])):
        single = synthetic_batch(["angry", "sad"][row : row + 1], frames=8, size=56, seconds=1.0)
        single.frames = batch.frames[row : row + 1]
        single.audio = batch.audio[row : row + 1]
        single.has_audio = batch.has_audio[row : row + 1]
        if audio_rows:
            inputs = interleaved_inputs(policy, single, audio_rows)
        else:  # no audio at all: the processor gets none
            inputs = policy.processor(
                text=policy._prompt_texts(single, None), videos=list(single.frames), return_tensors="pt",
                padding=True, videos_kwargs={"do_rescale": False, "fps": 2.0},
            )  # fmt: skip
        prompt = inputs["input_ids"].shape[1]
        ids = torch.cat([inputs["input_ids"], completion[row : row + 1]], 1)
        extra = {k: inputs[k] for k in ("input_features", "feature_attention_mask") if k in inputs}
        logits = policy.thinker(
            input_ids=ids, attention_mask=torch.ones_like(ids), pixel_values_videos=inputs["pixel_values_videos"],
            video_grid_thw=inputs["video_grid_thw"], video_second_per_grid=inputs["video_second_per_grid"],
            use_audio_in_video=bool(audio_rows), **extra,
        ).logits  # fmt: skip
        expected = logits[0, prompt - 1 : -1].log_softmax(-1).gather(-1, completion[row, :, None]).squeeze(-1)
        torch.testing.assert_close(ours[row], expected, atol=1e-4, rtol=1e-4)
    policy.save_pretrained(tmp_path / "saved")
    assert QwenOmniThinker.from_pretrained(tmp_path / "saved", dtype="float32").use_audio_in_video
