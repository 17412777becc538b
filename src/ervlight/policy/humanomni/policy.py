"""``HumanOmni``: the policy of the ERV paper and R1-Omni (SigLIP + Whisper + BERT-gated projector + Qwen2).

:meth:`HumanOmni.encode` tokenises the templated prompts with media sentinels, runs SigLIP, the gated projector and
Whisper ONCE, and splices the visual and audio tokens into the token embeddings; generation, log-probs, LoRA and
saving come from :class:`~ervlight.policy.decoder.DecoderPolicy`. Weights load from a released checkpoint folder
(:mod:`.checkpoint`); by default, as in the reference, SigLIP and Whisper are then reloaded from their ORIGINAL
folders (``encoder_weights``). ``ervlight humanomni compare-encoders`` reports how far the two copies differ.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any, Literal

import torch
from peft import PeftModel
from safetensors.torch import save_file
from torch import nn
from transformers import (
    AutoTokenizer,
    PreTrainedModel,
    PreTrainedTokenizerBase,
    Qwen2ForCausalLM,
    WhisperFeatureExtractor,
)

from ervlight.data.batch import MediaBatch
from ervlight.policy.base import PromptContext
from ervlight.policy.decoder import DEFAULT_INSTRUCTION, DecoderPolicy, load_language_model
from ervlight.policy.finetune import FinetuneConfig, base_state_dict
from ervlight.policy.humanomni.checkpoint import checkpoint_state, load_checkpoint, load_original_encoder
from ervlight.policy.humanomni.config import HumanOmniConfig, read_json
from ervlight.policy.humanomni.media import HumanOmniMedia
from ervlight.policy.humanomni.processing import (
    GRPO_TEMPLATE,
    PromptStyle,
    checkpoint_template,
    siglip_pixels,
    whisper_features,
)
from ervlight.policy.humanomni.splicing import SENTINELS, pad_left, splice, tokenize_with_sentinels

__all__ = ["EncoderWeights", "HumanOmni", "HumanOmniModel"]

#: Where SigLIP and Whisper weights come from: ``reference`` (SigLIP original; Whisper original unless the config
#: says ``unfreeze_mm_audio_tower``), ``original`` (both from their folders) or ``checkpoint`` (both copies).
EncoderWeights = Literal["reference", "original", "checkpoint"]
_SETTINGS_FILE = "policy.json"
_BERT_TOKENIZER = "bert_tokenizer"


class HumanOmniModel(nn.Module):
    """The language model (``lm``) and the media parts (``media``) built from a config, random weights."""

    def __init__(self, config: HumanOmniConfig) -> None:
        super().__init__()
        self.config = config
        self.lm = Qwen2ForCausalLM(config.text_config())
        self.media = HumanOmniMedia(config, self.lm.config.hidden_size)

    @property
    def tied(self) -> bool:
        """Whether the LM head shares the token embedding."""
        return bool(self.lm.config.tie_word_embeddings)


def _encoder_sources(
    config: HumanOmniConfig, mode: EncoderWeights, vision: str | None, audio: str | None
) -> dict[str, tuple[str, str]]:
    """Module prefix -> (original folder, key prefix) of the encoders to reload from their original releases."""
    wanted = {"vision": mode != "checkpoint", "audio": mode == "original"}
    if mode == "reference":
        wanted["audio"] = not config.unfreeze_audio_tower
    sources = {}
    for name, folder, prefix, key_prefix in (
        ("vision", vision, "media.vision_tower.vision_tower.", "vision_model."),
        ("audio", audio, "media.audio_tower.encoder.", "model.encoder."),
    ):
        if wanted[name]:
            if folder is None:
                raise ValueError(
                    f"encoder_weights={mode!r} reloads the {name} encoder from its original release: pass its folder"
                )
            sources[prefix] = (folder, key_prefix)
    return sources


def load_model(
    checkpoint: str,
    vision_encoder: str | None,
    audio_encoder: str | None,
    bert: str | None,
    encoder_weights: EncoderWeights,
    dtype: torch.dtype,
) -> HumanOmniModel:
    """Build from ``checkpoint/config.json`` and load the released weights (and original encoders)."""
    config = HumanOmniConfig.from_folders(checkpoint, vision_encoder, audio_encoder, bert)
    model = HumanOmniModel(config)
    sources = _encoder_sources(config, encoder_weights, vision_encoder, audio_encoder)
    load_checkpoint(model, checkpoint, tied=model.tied, skip=list(sources))
    for prefix, (folder, key_prefix) in sources.items():
        load_original_encoder(model.get_submodule(prefix.rstrip(".")), folder, key_prefix)
    if model.tied:
        model.lm.lm_head.weight = model.lm.model.embed_tokens.weight
    return model.to(dtype)


class HumanOmni(DecoderPolicy):
    """HumanOmni behind the policy interface (LoRA/full/frozen parts, SFT and GRPO, media encoded once).

    Args:
        model: a released checkpoint folder (config.json, safetensors, tokenizer) or a built :class:`HumanOmniModel`.
        tokenizer: the LM tokenizer or its folder (default: the checkpoint folder).
        bert_tokenizer: the gate's BERT tokenizer or its folder (default: ``bert``, else ``<model>/bert_tokenizer``).
        vision_encoder: the original SigLIP folder (``google/siglip-base-patch16-224`` for 0.5B).
        audio_encoder: the original Whisper folder (``openai/whisper-large-v3``).
        bert: the ``bert-base-uncased`` folder (its config and tokenizer; the weights come from the checkpoint).
        encoder_weights: ``reference`` (default, as the reference loads), ``original`` or ``checkpoint``.
        prompt_style: ``eval`` (the checkpoint's chat template, the reference evaluation) or ``grpo`` (the
            Qwen2-VL template of R1-Omni's GRPO training).
        chat_template: a ``str.format`` template with ``{instruction}`` replacing the style's template.
        instruction: the question (the gate reads it too).
        stop_tokens: tokens that end a completion (default: the tokenizer's EOS).
        max_prompt_length: most TEXT tokens of a prompt (media tokens not counted).
        finetune: fine-tuning mode; parts: ``vision_encoder``, ``audio_encoder``, ``projectors``, ``gate``,
            ``language_model``.
        dtype: weight dtype when loading a folder.
        frame_mean: per-channel mean the data layer normalised frames with.
        frame_std: per-channel std the data layer normalised frames with.
        frame_padding: ``black`` (reference) or ``repeat`` for frames the clip could not supply.
        branch: force the gate to one branch (``video``, ``body``, ``face``) for ablations; ``None``: the gate.
    """

    def __init__(
        self,
        model: HumanOmniModel | str,
        tokenizer: PreTrainedTokenizerBase | str | None = None,
        bert_tokenizer: PreTrainedTokenizerBase | str | None = None,
        vision_encoder: str | None = None,
        audio_encoder: str | None = None,
        bert: str | None = None,
        encoder_weights: EncoderWeights = "reference",
        prompt_style: PromptStyle = "eval",
        chat_template: str | None = None,
        instruction: str = DEFAULT_INSTRUCTION,
        stop_tokens: Sequence[str] | None = None,
        max_prompt_length: int | None = None,
        finetune: FinetuneConfig | None = None,
        dtype: str = "float32",
        frame_mean: tuple[float, float, float] = (0.5, 0.5, 0.5),
        frame_std: tuple[float, float, float] = (0.5, 0.5, 0.5),
        frame_padding: Literal["black", "repeat"] = "black",
        branch: str | None = None,
    ) -> None:
        folder = model if isinstance(model, str) else None
        if isinstance(model, str):
            model = load_model(
                model, vision_encoder, audio_encoder, bert, encoder_weights, getattr(torch, dtype)
            )
        if tokenizer is None or isinstance(tokenizer, str):
            source = tokenizer or folder
            if source is None:
                raise ValueError("HumanOmni needs a tokenizer when the model is given as an object")
            tokenizer = AutoTokenizer.from_pretrained(source)
        if bert_tokenizer is None or isinstance(bert_tokenizer, str):
            bert_source = bert_tokenizer or bert or (str(Path(folder) / _BERT_TOKENIZER) if folder else None)
            if bert_source is None:
                raise ValueError("HumanOmni needs the BERT tokenizer of its gate (bert_tokenizer or bert)")
            bert_tokenizer = AutoTokenizer.from_pretrained(bert_source)
        if chat_template is None:
            chat_template = (
                GRPO_TEMPLATE
                if prompt_style == "grpo"
                else checkpoint_template(tokenizer, model.config.use_x_start_end)
            )
        super().__init__(tokenizer, instruction, chat_template, stop_tokens, max_prompt_length)
        self.bert_tokenizer = bert_tokenizer
        self.config = model.config
        self.tied = model.tied
        self.lm: PreTrainedModel | PeftModel = model.lm
        self.media = model.media
        self.settings: dict[str, Any] = {
            "prompt_style": prompt_style,
            "chat_template": chat_template,
            "instruction": instruction,
            "max_prompt_length": max_prompt_length,
            "frame_mean": list(frame_mean),
            "frame_std": list(frame_std),
            "frame_padding": frame_padding,
            "branch": branch,
        }
        audio = model.media.audio_tower
        self.feature_extractor = WhisperFeatureExtractor(
            feature_size=audio.encoder.config.num_mel_bins, chunk_length=audio.num_mel_frames // 100
        )
        if folder is not None:
            self.lm = load_language_model(Path(folder), model.lm, trainable=True)
        if finetune is not None:
            self.apply_finetuning(finetune)

    def finetune_parts(self) -> dict[str, nn.Module]:
        """Freezable parts: the two encoders, the projectors, the BERT gate and the language model."""
        media = self.media
        return {
            "vision_encoder": media.vision_tower,
            "audio_encoder": media.audio_tower,
            "projectors": nn.ModuleList([media.mm_projector, media.audio_projector]),
            "gate": nn.ModuleList([media.bert_model, media.bert_gate]),
            "language_model": self.language_model,
        }

    # ----------------------------------------------------------------- encoding
    def prompt_ids(self, instructions: Sequence[str]) -> tuple[torch.Tensor, torch.Tensor]:
        """Templated prompts as left-padded ``[B, P]`` ids with media sentinels, capped to ``max_prompt_length``."""
        texts = self.format_prompts(list(instructions), len(instructions))
        ids, mask = pad_left([tokenize_with_sentinels(self.tokenizer, t) for t in texts], self.pad_token_id)
        ids, mask = self.cap_prompts(ids, mask, uncounted=ids < 0)  # [B, P]
        return ids.to(self.device), mask.to(self.device)

    def gate_inputs(self, instructions: Sequence[str]) -> dict[str, torch.Tensor]:
        """The BERT tokenizer's padded, truncated encoding of the instructions (special tokens added)."""
        encoded = self.bert_tokenizer(list(instructions), padding=True, truncation=True, return_tensors="pt")
        return {k: v.to(self.device) for k, v in encoded.items()}

    def audio_features(self, batch: MediaBatch) -> torch.Tensor:
        """``[B, M, F]`` Whisper features: the batch's own when they have Whisper's shape, else computed."""
        expected = (self.feature_extractor.feature_size, self.media.audio_tower.num_mel_frames)
        given = batch.audio_features
        if given is not None and tuple(given.shape[1:]) == expected:
            return given.to(self.device)
        return whisper_features(batch.audio, batch.audio_mask, self.feature_extractor).to(self.device)

    def encode(self, batch: MediaBatch | list[str], prompts: list[str] | None = None) -> PromptContext:
        """Frames and audio through the encoders once, spliced at ``<video>``/``<audio>``: ``[B, P', D]``."""
        if not isinstance(batch, MediaBatch):
            raise TypeError("HumanOmni.encode needs a MediaBatch (frames and audio), got a list of prompts")
        instructions = list(prompts) if prompts is not None else [self.instruction] * len(batch)
        ids, mask = self.prompt_ids(instructions)  # [B, P]
        pixels = siglip_pixels(
            batch.frames.to(self.device),
            batch.frame_mask,
            self.settings["frame_mean"],
            self.settings["frame_std"],
            self.media.vision_tower.image_size,
            self.settings["frame_padding"],
        )  # [B, T, 3, S, S]
        visual = self.media.visual_tokens(pixels, self.gate_inputs(instructions), self.settings["branch"])
        audio = self.media.audio_tokens(self.audio_features(batch))  # [B, A, D]
        media = {SENTINELS["<video>"]: visual, SENTINELS["<image>"]: visual, SENTINELS["<audio>"]: audio}
        spliced = splice(ids, mask, self.embed_tokens, media)
        return PromptContext(embeds=spliced.embeds, attention_mask=spliced.attention_mask)

    # ----------------------------------------------------------------- saving
    def save_pretrained(self, folder: str | Path) -> None:
        """Write a folder that loads as a released checkpoint: config.json, model.safetensors in the released key
        layout (base weights under LoRA, adapters in ``adapter/``), the tokenizers and the policy settings."""
        path = Path(folder)
        path.mkdir(parents=True, exist_ok=True)
        (path / "config.json").write_text(json.dumps(self.config.to_json(), indent=2))
        lm = self.language_model
        if isinstance(lm, PeftModel):
            lm.save_pretrained(str(path / "adapter"))
            base: dict[str, Any] = {f"lm.{k}": v for k, v in base_state_dict(lm).items()}
        else:
            base = {f"lm.{k}": v for k, v in lm.state_dict().items()}
        state = {**base, **{f"media.{k}": v for k, v in self.media.state_dict().items()}}
        save_file(
            checkpoint_state(state, self.tied), str(path / "model.safetensors"), metadata={"format": "pt"}
        )
        self.tokenizer.save_pretrained(path)
        self.bert_tokenizer.save_pretrained(path / _BERT_TOKENIZER)
        (path / _SETTINGS_FILE).write_text(json.dumps(self.settings, indent=2))

    @classmethod
    def from_pretrained(cls, folder: str | Path, **kwargs: Any) -> HumanOmni:
        """Load a folder written by :meth:`save_pretrained` (encoders from its own copies unless told otherwise)."""
        path = Path(folder)
        settings = read_json(path / _SETTINGS_FILE) if (path / _SETTINGS_FILE).is_file() else {}
        settings.pop("prompt_style", None)
        options: dict[str, Any] = {"encoder_weights": "checkpoint"} | settings | kwargs
        for name in ("frame_mean", "frame_std"):
            if name in options:
                options[name] = tuple(options[name])
        return cls(str(path), **options)
