"""``TinyOmni``: a small built-in omni policy (frames + audio -> R1-format text) that trains on CPU in minutes.

Frames go through :class:`FrameEncoder` (one token per frame), audio through log-mel + :class:`AudioEncoder`
(``A`` tokens), linear projectors map both into a small Qwen2 causal LM built from a transformers config, and a
byte-level BPE tokenizer is trained in-process on the training text. Prompt layout per clip:
``[frame tokens][audio tokens][templated instruction]`` (instruction left-padded; positions follow the mask, so
masked frames, missing audio and padding take no position). Media are encoded once in :meth:`TinyOmni.encode`.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import torch
from peft import PeftModel
from safetensors.torch import load_file, save_file
from torch import nn
from transformers import AutoTokenizer, PreTrainedModel, PreTrainedTokenizerBase, Qwen2ForCausalLM

from ervlight.data.batch import MediaBatch
from ervlight.labels import EMOTION_FORMS
from ervlight.parsing import format_target
from ervlight.policy.backbones.lean_qwen2 import lean_qwen2_step
from ervlight.policy.backbones.tiny_lm import tiny_qwen2
from ervlight.policy.backbones.towers import AudioEncoder, FrameEncoder, LogMel
from ervlight.policy.base import PromptContext
from ervlight.policy.decoder import (
    DEFAULT_CHAT_TEMPLATE,
    DEFAULT_INSTRUCTION,
    DecoderPolicy,
    load_language_model,
)
from ervlight.policy.finetune import FinetuneConfig
from ervlight.policy.generation.parts import DecodeStepFactory
from ervlight.policy.tokenizer import train_bpe_tokenizer

__all__ = ["TinyOmni", "corpus_texts"]

_CONFIG_FILE = "tiny_omni.json"
_TOWERS_FILE = "towers.safetensors"


def _strings(value: Any) -> Iterator[str]:
    """Every string inside a JSON value."""
    if isinstance(value, str):
        yield value
    elif isinstance(value, dict):
        for item in value.values():
            yield from _strings(item)
    elif isinstance(value, list):
        for item in value:
            yield from _strings(item)


def corpus_texts(path: str | Path) -> list[str]:
    """Training text for the tokenizer: every string of a JSON file (R1-Omni/EMER records), or a text file's lines."""
    file = Path(path)
    if not file.is_file():
        raise FileNotFoundError(f"tokenizer corpus {file} does not exist")
    if file.suffix == ".json":
        try:
            return list(_strings(json.loads(file.read_text(encoding="utf-8"))))
        except json.JSONDecodeError as error:
            raise ValueError(f"tokenizer corpus {file} is not valid JSON: {error}") from error
    return [line for line in file.read_text(encoding="utf-8").splitlines() if line.strip()]


def _builtin_texts(instruction: str, chat_template: str) -> list[str]:
    """Text every TinyOmni tokenizer sees: the prompt, and the R1 format around every emotion word form."""
    forms = [form for words in EMOTION_FORMS.values() for form in words]
    return [chat_template.format(instruction=instruction)] + [
        format_target(f"The person looks {form}.", form) for form in forms
    ]


class TinyOmni(DecoderPolicy):
    """The built-in small omni policy (vision + audio towers, projectors, Qwen2-style LM, in-process BPE).

    Args:
        pretrained: a folder written by :meth:`save_pretrained`; when given, sizes and tokenizer come from it and the
            remaining size arguments are ignored.
        tokenizer_corpus: JSON (R1-Omni/EMER records) or text file whose text trains the tokenizer (besides the
            prompt and the label words); ``None`` trains on those alone.
        vocab_size: BPE vocabulary size (an upper bound: small corpora give fewer tokens).
        hidden_size: language-model width ``D``.
        num_layers: decoder layers.
        num_heads: attention heads.
        num_kv_heads: key/value heads (grouped-query attention).
        intermediate_size: MLP width.
        vision_channels: frame-encoder conv width.
        image_size: frames are resized to this square size (``0`` keeps the input size).
        max_frames: most frames per clip.
        frame_input: what the frame encoder sees: ``frames`` (the frames) or ``motion`` (each frame minus the
            clip's first frame: expression movement without identity, see :class:`FrameEncoder`). Checkpoints
            saved before this option existed load as ``frames``.
        n_mels: mel bins of the audio features (128, Whisper-style).
        audio_channels: audio-encoder conv width.
        audio_tokens: tokens per clip from the audio encoder.
        modalities: media the prompt carries, ``vision`` and/or ``audio`` (ablations, or a modality the
            training set is too small to generalise from).
        instruction: default instruction of every prompt.
        chat_template: ``str.format`` template with an ``{instruction}`` field.
        max_prompt_length: most TEXT tokens of the templated instruction (frame and audio tokens are not counted);
            longer ones keep their last tokens. ``None``: no cap, or with ``pretrained`` the saved cap.
        finetune: fine-tuning mode (LoRA on the LM, frozen parts: ``vision_encoder``, ``audio_encoder``,
            ``projectors``, ``language_model``).
    """

    def __init__(
        self,
        pretrained: str | None = None,
        tokenizer_corpus: str | None = None,
        vocab_size: int = 1024,
        hidden_size: int = 128,
        num_layers: int = 2,
        num_heads: int = 4,
        num_kv_heads: int = 2,
        intermediate_size: int = 256,
        vision_channels: int = 16,
        image_size: int = 64,
        max_frames: int = 32,
        frame_input: str = "frames",
        n_mels: int = 128,
        audio_channels: int = 64,
        audio_tokens: int = 4,
        modalities: Sequence[str] = ("vision", "audio"),
        instruction: str = DEFAULT_INSTRUCTION,
        chat_template: str = DEFAULT_CHAT_TEMPLATE,
        max_prompt_length: int | None = None,
        finetune: FinetuneConfig | None = None,
    ) -> None:
        sizes = {
            k: v
            for k, v in locals().items()
            if k not in ("self", "pretrained", "tokenizer_corpus", "finetune", "max_prompt_length")
        }
        sizes.pop("__class__", None)
        if frame_input not in ("frames", "motion"):
            raise ValueError(f"frame_input must be 'frames' or 'motion', got {frame_input!r}")
        tokenizer: PreTrainedTokenizerBase
        if pretrained is not None:
            folder = Path(pretrained)
            if not (folder / _CONFIG_FILE).is_file():
                raise FileNotFoundError(f"{folder} is not a TinyOmni checkpoint (no {_CONFIG_FILE})")
            saved = json.loads((folder / _CONFIG_FILE).read_text())
            sizes.update({"frame_input": "frames"} | saved["sizes"])  # older checkpoints: plain frames
            if max_prompt_length is None:
                max_prompt_length = saved.get("max_prompt_length")
            tokenizer = AutoTokenizer.from_pretrained(folder / "tokenizer")
        else:
            texts = _builtin_texts(instruction, chat_template)
            texts += corpus_texts(tokenizer_corpus) if tokenizer_corpus else []
            tokenizer = train_bpe_tokenizer(texts, vocab_size=vocab_size)
        super().__init__(
            tokenizer, sizes["instruction"], sizes["chat_template"], max_prompt_length=max_prompt_length
        )
        self.sizes = sizes
        hidden = sizes["hidden_size"]
        self.vision_encoder = FrameEncoder(
            hidden,
            sizes["vision_channels"],
            sizes["image_size"],
            sizes["max_frames"],
            motion=sizes["frame_input"] == "motion",
        )
        self.log_mel = LogMel(sizes["n_mels"])
        self.audio_encoder = AudioEncoder(
            hidden, sizes["n_mels"], sizes["audio_channels"], sizes["audio_tokens"]
        )
        self.projectors = nn.ModuleDict(
            {"vision": nn.Linear(hidden, hidden), "audio": nn.Linear(hidden, hidden)}
        )
        self.lm: PreTrainedModel | PeftModel = self._build_lm(tokenizer, sizes, pretrained)
        if pretrained is not None:
            self._load_towers(Path(pretrained) / _TOWERS_FILE)
            self.lm = load_language_model(Path(pretrained), self.lm, trainable=True)
        if finetune is not None:
            self.apply_finetuning(finetune)

    @staticmethod
    def _build_lm(
        tokenizer: PreTrainedTokenizerBase, sizes: dict[str, Any], pretrained: str | None
    ) -> PreTrainedModel:
        """The Qwen2 LM: loaded from ``pretrained/lm`` or built from the sizes with random weights."""
        if pretrained is not None:
            loaded: PreTrainedModel = Qwen2ForCausalLM.from_pretrained(Path(pretrained) / "lm")
            return loaded
        return tiny_qwen2(
            tokenizer,
            hidden_size=sizes["hidden_size"],
            num_layers=sizes["num_layers"],
            num_heads=sizes["num_heads"],
            num_kv_heads=sizes["num_kv_heads"],
            intermediate_size=sizes["intermediate_size"],
        )

    def _load_towers(self, file: Path) -> None:
        """Load tower and projector weights; a missing or unexpected tensor is an error naming the file."""
        result = self.load_state_dict(load_file(file), strict=False)
        missing = [key for key in result.missing_keys if not key.startswith("lm.")]
        if missing or result.unexpected_keys:
            raise ValueError(
                f"{file} does not match this TinyOmni: missing {missing}, unexpected {result.unexpected_keys}"
            )

    def decode_step_factory(self) -> DecodeStepFactory:
        """The lean Qwen2 decode step (the LM is a Qwen2; the step checks the rest, e.g. LoRA, when decoding)."""
        return lean_qwen2_step

    def finetune_parts(self) -> dict[str, nn.Module]:
        """Freezable parts: the two towers, the projectors and the language model."""
        return {
            "vision_encoder": self.vision_encoder,
            "audio_encoder": self.audio_encoder,
            "projectors": self.projectors,
            "language_model": self.language_model,
        }

    def encode_media(self, batch: MediaBatch) -> tuple[torch.Tensor, torch.Tensor]:
        """Run the towers once: media tokens ``[B, T+A, D]`` and their mask ``[B, T+A]`` (configured modalities)."""
        device, tokens, masks = self.device, [], []
        if "vision" in self.sizes["modalities"]:
            tokens.append(
                self.projectors["vision"](self.vision_encoder(batch.frames.to(device)))
            )  # [B, T, D]
            masks.append(batch.frame_mask.to(device).bool())  # [B, T]
        if "audio" in self.sizes["modalities"]:
            features, feature_mask = batch.audio_features, batch.audio_feature_mask
            if features is None or features.shape[1] != self.audio_encoder.n_mels:
                features, feature_mask = self.log_mel(batch.audio.to(device)), None  # [B, M, F]
            audio = self.projectors["audio"](
                self.audio_encoder(features.to(device), feature_mask)
            )  # [B, A, D]
            tokens.append(audio)
            masks.append(batch.has_audio.to(device).bool().unsqueeze(1).expand(-1, audio.shape[1]))  # [B, A]
        if not tokens:
            raise ValueError(
                f"TinyOmni modalities must include 'vision' and/or 'audio', got {self.sizes['modalities']}"
            )
        return torch.cat(tokens, dim=1), torch.cat(masks, dim=1)  # [B, T+A, D], [B, T+A]

    def encode(self, batch: MediaBatch | list[str], prompts: list[str] | None = None) -> PromptContext:
        """Media tokens followed by the templated instruction: ``[B, T+A+P, D]`` embeddings and mask."""
        if not isinstance(batch, MediaBatch):
            raise TypeError("TinyOmni.encode needs a MediaBatch (frames and audio), got a list of prompts")
        media, media_mask = self.encode_media(batch)  # [B, T+A, D], [B, T+A]
        ids, text_mask = self.tokenize_prompts(self.format_prompts(prompts, len(batch)))  # [B, P]
        text = self.embed_tokens(ids).to(media.dtype)  # [B, P, D]
        embeds = torch.cat([media, text], dim=1)  # [B, T+A+P, D]
        mask = torch.cat([media_mask, text_mask.bool()], dim=1).long()  # [B, T+A+P]
        return PromptContext(embeds=embeds, attention_mask=mask)

    def save_pretrained(self, folder: str | Path) -> None:
        """Write sizes, tokenizer, towers (safetensors), the LM (``lm/``) and LoRA adapters (``adapter/``)."""
        path = Path(folder)
        self.save_language_model(path, with_base=True)
        towers = {k: v.contiguous() for k, v in self.state_dict().items() if not k.startswith("lm.")}
        save_file(towers, str(path / _TOWERS_FILE))
        settings = {"sizes": self.sizes, "max_prompt_length": self.max_prompt_length}
        (path / _CONFIG_FILE).write_text(json.dumps(settings, indent=2))

    @classmethod
    def from_pretrained(
        cls, folder: str | Path, finetune: FinetuneConfig | None = None, max_prompt_length: int | None = None
    ) -> TinyOmni:
        """Load a saved TinyOmni (LoRA adapters reattached, trainable; ``max_prompt_length`` replaces the saved)."""
        return cls(pretrained=str(folder), finetune=finetune, max_prompt_length=max_prompt_length)

    def describe(self) -> dict[str, Sequence[int] | int]:
        """Parameter counts per part (for logs and reports)."""
        parts = self.finetune_parts()
        counts: dict[str, Sequence[int] | int] = {
            n: sum(p.numel() for p in m.parameters()) for n, m in parts.items()
        }
        counts["vocab"] = len(self.tokenizer)
        return counts
