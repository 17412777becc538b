"""``QwenOmniThinker``: the Qwen2.5-Omni thinker (video + audio -> text) from a local folder, behind the interface.

:meth:`QwenOmniThinker.encode` runs the processor (SigLIP-style video patches, Whisper log-mel), the vision and
audio towers ONCE, merges their features into the placeholder positions of the token embeddings and computes
the M-RoPE position ids (``[3, B, P]``); generation and log-probs then run on the thinker's text model only
(:class:`~ervlight.policy.decoder.DecoderPolicy`), continuing the text positions after the prompt.
Frames arrive normalised by the data layer (``(x - mean) / std``, SigLIP's 0.5/0.5 by default); they are mapped back
to ``[0, 1]`` RGB with ``frame_mean``/``frame_std`` before the processor applies its own normalisation. Audio:
16 kHz mono waveforms.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import torch
from peft import PeftModel
from torch import nn
from transformers import (
    PreTrainedModel,
    Qwen2_5OmniProcessor,
    Qwen2_5OmniThinkerForConditionalGeneration,
)

from ervlight.data.batch import MediaBatch
from ervlight.policy.base import PromptContext
from ervlight.policy.decoder import (
    DEFAULT_CHAT_TEMPLATE,
    DEFAULT_INSTRUCTION,
    DecoderPolicy,
    load_language_model,
)
from ervlight.policy.finetune import FinetuneConfig
from ervlight.policy.generation.parts import DecoderParts

__all__ = ["QwenOmniThinker"]

_SETTINGS_FILE = "policy.json"


class QwenOmniThinker(DecoderPolicy):
    """Qwen2.5-Omni's thinker behind the policy interface (for users with a local checkpoint and a GPU).

    Args:
        model: the thinker, or a local folder (a thinker or full Qwen2.5-Omni checkpoint) to load it from.
        processor: the ``Qwen2_5OmniProcessor`` or its folder (default: the model folder).
        instruction: default instruction of every prompt.
        chat_template: ``str.format`` template with an ``{instruction}`` field; the video and audio placeholders
            are put in front of the instruction.
        stop_tokens: tokens that end a completion (Qwen chat: ``<|im_end|>``).
        max_prompt_length: most TEXT tokens of a prompt: the video/audio placeholder runs the processor expands
            and their start/end markers are neither counted nor cut; longer prompts lose their first text tokens
            (``None``: no cap; saved by :meth:`save_pretrained`).
        finetune: fine-tuning mode (parts: ``vision_encoder``, ``audio_encoder``, ``language_model``).
        dtype: weight dtype when loading (``"bfloat16"`` for real checkpoints).
        fps: frame rate the frames were sampled at (temporal positions of the video patches).
        use_audio: feed the audio track (clips without audio get no audio placeholder).
        frame_mean: per-channel mean the data layer normalised frames with (undone before the processor).
        frame_std: per-channel std the data layer normalised frames with.
        attn_implementation: HF attention backend (``"sdpa"``, ``"flash_attention_2"``…), default HF's choice.
        trust_remote_code: passed to the loaders; only for checkpoints you trust.
    """

    def __init__(
        self,
        model: Qwen2_5OmniThinkerForConditionalGeneration | str,
        processor: Qwen2_5OmniProcessor | str | None = None,
        instruction: str = DEFAULT_INSTRUCTION,
        chat_template: str = DEFAULT_CHAT_TEMPLATE,
        stop_tokens: Sequence[str] | None = ("<|im_end|>",),
        max_prompt_length: int | None = None,
        finetune: FinetuneConfig | None = None,
        dtype: str = "bfloat16",
        fps: float = 2.0,
        use_audio: bool = True,
        frame_mean: tuple[float, float, float] = (0.5, 0.5, 0.5),
        frame_std: tuple[float, float, float] = (0.5, 0.5, 0.5),
        attn_implementation: str | None = None,
        trust_remote_code: bool = False,
    ) -> None:
        if processor is None or isinstance(processor, str):
            source = processor if processor is not None else model
            if not isinstance(source, str):
                raise ValueError("QwenOmniThinker needs a processor when the model is given as an object")
            processor = Qwen2_5OmniProcessor.from_pretrained(source, trust_remote_code=trust_remote_code)
        super().__init__(processor.tokenizer, instruction, chat_template, stop_tokens, max_prompt_length)
        self.processor = processor
        self.fps = fps
        self.use_audio = use_audio
        self.frame_mean, self.frame_std = tuple(frame_mean), tuple(frame_std)
        if isinstance(model, str):
            kwargs: dict[str, Any] = {"dtype": getattr(torch, dtype), "trust_remote_code": trust_remote_code}
            if attn_implementation is not None:
                kwargs["attn_implementation"] = attn_implementation
            model = Qwen2_5OmniThinkerForConditionalGeneration.from_pretrained(model, **kwargs)
        self._check_token_ids(model)
        self.lm: PreTrainedModel | PeftModel = model
        if finetune is not None:
            self.apply_finetuning(finetune)

    def _check_token_ids(self, model: PreTrainedModel) -> None:
        """Give the config the processor's vision start/end ids when it lacks them (transformers 5 needs them)."""
        tokenizer: Any = self.processor.tokenizer
        for name, token in (
            ("vision_start_token_id", "vision_bos_token"),
            ("vision_end_token_id", "vision_eos_token"),
        ):
            if getattr(model.config, name, None) is None:
                setattr(model.config, name, tokenizer.convert_tokens_to_ids(getattr(tokenizer, token)))
        expected = {"video_token_id": tokenizer.video_token_id, "audio_token_id": tokenizer.audio_token_id}
        wrong = {
            k: (getattr(model.config, k), v) for k, v in expected.items() if getattr(model.config, k) != v
        }
        if wrong:
            raise ValueError(
                f"thinker config and processor disagree on placeholder ids (config, processor): {wrong}"
            )

    @property
    def thinker(self) -> Qwen2_5OmniThinkerForConditionalGeneration:
        """The thinker under any peft wrapper."""
        model = self.lm.get_base_model() if isinstance(self.lm, PeftModel) else self.lm
        assert isinstance(model, Qwen2_5OmniThinkerForConditionalGeneration)
        return model

    def decoder_parts(self) -> DecoderParts:
        """The thinker's text model, LM head and token embedding."""
        thinker = self.thinker
        return DecoderParts(
            decoder=thinker.model.language_model,
            lm_head=thinker.lm_head,
            embed_tokens=thinker.model.get_input_embeddings(),
            config=thinker.config.get_text_config(decoder=True),
            step_factory=self.decode_step_factory(),
        )

    def finetune_parts(self) -> dict[str, nn.Module]:
        """Freezable parts: the vision and audio towers and the language model."""
        thinker = self.thinker
        return {
            "vision_encoder": thinker.model.visual,
            "audio_encoder": thinker.model.audio_tower,
            "language_model": thinker.model.language_model,
        }

    def _prompt_texts(self, batch: MediaBatch, prompts: list[str] | None) -> list[str]:
        """Chat-templated prompts with the video (and audio, where present) placeholders before the instruction."""
        processor: Any = self.processor
        video = f"{processor.vision_bos_token}{processor.video_token}{processor.vision_eos_token}"
        audio = f"{processor.audio_bos_token}{processor.audio_token}{processor.audio_eos_token}"
        chosen = list(prompts) if prompts is not None else [self.instruction] * len(batch)
        if len(chosen) != len(batch):
            raise ValueError(f"got {len(chosen)} prompts for {len(batch)} samples")
        with_audio = self._audio_rows(batch)
        return self.format_prompts(
            [video + (audio if i in with_audio else "") + text for i, text in enumerate(chosen)], len(batch)
        )

    def _audio_rows(self, batch: MediaBatch) -> set[int]:
        """Rows whose audio is fed to the model."""
        return {i for i in range(len(batch)) if self.use_audio and bool(batch.has_audio[i])}

    def encode(self, batch: MediaBatch | list[str], prompts: list[str] | None = None) -> PromptContext:
        """Process frames and audio, run the towers once, merge into the embeddings; M-RoPE positions ``[3, B, P]``."""
        if not isinstance(batch, MediaBatch):
            raise TypeError(
                "QwenOmniThinker.encode needs a MediaBatch (frames and audio), got a list of prompts"
            )
        rows = sorted(self._audio_rows(batch))
        mean = torch.tensor(self.frame_mean).view(1, 3, 1, 1)
        std = torch.tensor(self.frame_std).view(1, 3, 1, 1)
        frames = (batch.frames.float().cpu() * std + mean).clamp(0.0, 1.0)  # [B, T, C, H, W] in [0, 1]
        videos = [frames[i][batch.frame_mask[i].bool().cpu()] for i in range(len(batch))]
        audio = [batch.audio[i][batch.audio_mask[i].bool()].float().cpu().numpy() for i in rows]
        inputs = self.processor(
            text=self._prompt_texts(batch, prompts),
            videos=videos,
            audio=audio or None,
            return_tensors="pt",
            padding=True,
            videos_kwargs={"do_rescale": False, "fps": self.fps},
        ).to(self.device)
        ids = inputs["input_ids"]  # [B, P]
        media = torch.isin(ids, torch.tensor(self._media_token_ids(), device=ids.device))  # [B, P]
        inputs["input_ids"], inputs["attention_mask"] = self.cap_prompts(ids, inputs["attention_mask"], media)
        return self._merge(inputs)

    def _media_token_ids(self) -> list[int]:
        """Ids of the video/audio placeholders and their start/end markers (not counted by ``max_prompt_length``)."""
        processor: Any = self.processor
        names = ["video_token", "audio_token", "vision_bos_token", "vision_eos_token"]
        names += ["audio_bos_token", "audio_eos_token"]
        return [int(processor.tokenizer.convert_tokens_to_ids(getattr(processor, name))) for name in names]

    def _merge(self, inputs: Any) -> PromptContext:
        """Token embeddings with video/audio features scattered into their placeholders, and M-RoPE positions."""
        model = self.thinker.model
        ids, mask = inputs["input_ids"], inputs["attention_mask"]  # [B, P]
        embeds = model.get_input_embeddings()(ids)  # [B, P, D]
        video = model.get_video_features(
            inputs["pixel_values_videos"], inputs["video_grid_thw"], return_dict=True
        )
        video_embeds = torch.cat(video.pooler_output, dim=0).to(embeds.dtype)  # [N_video, D]
        embeds = embeds.masked_scatter((ids == model.config.video_token_id).unsqueeze(-1), video_embeds)
        audio_lengths = None
        if "input_features" in inputs:
            features, feature_mask = inputs["input_features"], inputs["feature_attention_mask"]
            audio = model.get_audio_features(features, feature_mask, return_dict=True).last_hidden_state
            embeds = embeds.masked_scatter(
                (ids == model.config.audio_token_id).unsqueeze(-1), audio.to(embeds.dtype)
            )
            audio_lengths = feature_mask.sum(-1)
        positions, _ = model.get_rope_index(
            ids, None, inputs["video_grid_thw"], mask, False, audio_lengths, inputs["video_second_per_grid"]
        )  # [3, B, P]
        return PromptContext(embeds=embeds, attention_mask=mask, position_ids=positions)

    def save_pretrained(self, folder: str | Path) -> None:
        """Save the processor, and the thinker (``lm/``) or its LoRA adapters (``adapter/``, standard peft)."""
        path = Path(folder)
        self.save_language_model(path, with_base=False)
        self.processor.save_pretrained(path / "processor")
        (path / _SETTINGS_FILE).write_text(
            json.dumps({"max_prompt_length": self.max_prompt_length}, indent=2)
        )

    @classmethod
    def from_pretrained(
        cls, folder: str | Path, base_model: str | None = None, trainable: bool = False, **kwargs: Any
    ) -> QwenOmniThinker:
        """Load a saved policy: ``lm/`` from the folder, or ``base_model`` plus the folder's ``adapter/``.

        ``kwargs`` go to the constructor; the saved ``max_prompt_length`` applies unless given there.
        """
        path = Path(folder)
        if (path / _SETTINGS_FILE).is_file():
            kwargs = json.loads((path / _SETTINGS_FILE).read_text()) | kwargs
        source = str(path / "lm") if (path / "lm").is_dir() else base_model
        if source is None:
            raise ValueError(
                f"{path} holds LoRA adapters only: pass base_model (the thinker they were trained on)"
            )
        policy = cls(source, str(path / "processor"), **kwargs)
        policy.lm = load_language_model(path, policy.thinker, trainable)
        return policy
