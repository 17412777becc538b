"""Parameter counts and decoder shapes for the memory plan, from a model config (built on the ``meta`` device).

A local folder's ``config.json`` is preferred; without one, :data:`KNOWN_MODELS` holds the architecture numbers of
the checkpoints the presets name. Either way the model is built with transformers on the ``meta`` device (no
memory, no weights) and its parameters are counted exactly; the fine-tuning mode is applied with the project's own
:func:`~ervlight.policy.finetune.wrap_lora` and :func:`~ervlight.policy.finetune.freeze_modules`, so the trainable
count is the one training sees.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import torch
from torch import nn
from transformers import (
    AutoConfig,
    AutoModelForCausalLM,
    PretrainedConfig,
    Qwen2_5OmniThinkerConfig,
    Qwen2_5OmniThinkerForConditionalGeneration,
)

from ervlight.policy.finetune import FinetuneConfig, freeze_modules, wrap_lora

__all__ = [
    "KNOWN_MODELS",
    "THINKER_PARTS",
    "DecoderShape",
    "KnownModel",
    "ModelSpec",
    "apply_finetune",
    "build_meta_model",
    "decoder_shape",
    "hf_spec",
    "known_model",
    "load_meta_model",
    "spec_from_module",
]

ModelKind = Literal["qwen_omni_thinker", "causal_lm"]

#: Freezable parts of a Qwen2.5-Omni thinker, by module path (the names ``QwenOmniThinker.finetune_parts`` uses).
THINKER_PARTS = {
    "vision_encoder": "model.visual",
    "audio_encoder": "model.audio_tower",
    "language_model": "model.language_model",
}

_OMNI_VISION = {
    "depth": 32,
    "hidden_size": 1280,
    "intermediate_size": 3420,
    "num_heads": 16,
    "patch_size": 14,
    "spatial_merge_size": 2,
    "temporal_patch_size": 2,
    "window_size": 112,
    "fullatt_block_indexes": [7, 15, 23, 31],
}
_OMNI_AUDIO = {
    "d_model": 1280,
    "encoder_layers": 32,
    "encoder_attention_heads": 20,
    "encoder_ffn_dim": 5120,
    "num_mel_bins": 128,
    "n_window": 100,
}


@dataclass(frozen=True)
class KnownModel:
    """Architecture numbers of a published checkpoint, and where they come from."""

    kind: ModelKind
    config: dict[str, Any]
    source: str


def _omni_thinker(
    vocab: int, hidden: int, intermediate: int, layers: int, heads: int, kv_heads: int
) -> dict[str, Any]:
    """A Qwen2.5-Omni thinker config: the shared towers projecting to ``hidden``, and the text decoder's sizes."""
    text = {
        "vocab_size": vocab,
        "hidden_size": hidden,
        "intermediate_size": intermediate,
        "num_hidden_layers": layers,
        "num_attention_heads": heads,
        "num_key_value_heads": kv_heads,
        "tie_word_embeddings": False,
        "rope_parameters": {"rope_type": "default", "rope_theta": 1e6, "mrope_section": [16, 24, 24]},
    }
    return {
        "vision_config": _OMNI_VISION | {"out_hidden_size": hidden},
        "audio_config": _OMNI_AUDIO | {"output_dim": hidden},
        "text_config": text,
    }


#: Built-in architectures for configs whose model folder is not on this machine (``ervlight plan --model NAME``).
KNOWN_MODELS: dict[str, KnownModel] = {
    "qwen2.5-omni-7b": KnownModel(
        "qwen_omni_thinker",
        _omni_thinker(152064, 3584, 18944, 28, 28, 4),
        "thinker_config of Qwen/Qwen2.5-Omni-7B's config.json (Hugging Face hub)",
    ),
    "qwen2.5-omni-3b": KnownModel(
        "qwen_omni_thinker",
        _omni_thinker(151936, 2048, 11008, 36, 16, 2),
        "thinker_config of Qwen/Qwen2.5-Omni-3B's config.json (Hugging Face hub; untied LM head assumed)",
    ),
    "qwen2-0.5b": KnownModel(
        "causal_lm",
        {
            "model_type": "qwen2",
            "vocab_size": 151936,
            "hidden_size": 896,
            "intermediate_size": 4864,
            "num_hidden_layers": 24,
            "num_attention_heads": 14,
            "num_key_value_heads": 2,
            "tie_word_embeddings": True,
        },
        "Qwen/Qwen2-0.5B's config.json (Hugging Face hub); HumanOmni-0.5B's language model",
    ),
}


@dataclass(frozen=True)
class DecoderShape:
    """What the activation and KV-cache terms need from a transformer stack."""

    hidden: int
    intermediate: int
    layers: int
    heads: int
    kv_heads: int
    head_dim: int
    vocab: int

    @property
    def kv_width(self) -> int:
        """Key (or value) features per token: ``kv_heads * head_dim``."""
        return self.kv_heads * self.head_dim


@dataclass(frozen=True)
class ModelSpec:
    """Parameter counts (after the fine-tuning mode) and shapes of one policy."""

    name: str
    source: str
    total: int
    trainable: int
    trainable_tensors: int
    language_model: int
    largest_layer: int
    decoder: DecoderShape
    vision: DecoderShape | None
    vision_trainable: bool


def known_model(name: str) -> KnownModel:
    """The built-in architecture called ``name``; an unknown name is an error listing the known ones."""
    if name not in KNOWN_MODELS:
        raise ValueError(f"unknown model {name!r}: known models are {sorted(KNOWN_MODELS)}")
    return KNOWN_MODELS[name]


def _config_from_folder(folder: Path) -> tuple[ModelKind, PretrainedConfig]:
    """The thinker or causal-LM config of a local checkpoint folder's ``config.json``."""
    raw = json.loads((folder / "config.json").read_text())
    model_type = raw.get("model_type")
    if model_type == "qwen2_5_omni":
        return "qwen_omni_thinker", Qwen2_5OmniThinkerConfig(**raw["thinker_config"])
    if model_type == "qwen2_5_omni_thinker":
        return "qwen_omni_thinker", Qwen2_5OmniThinkerConfig.from_pretrained(folder)
    return "causal_lm", AutoConfig.from_pretrained(folder)


def build_meta_model(kind: ModelKind, config: PretrainedConfig | dict[str, Any]) -> nn.Module:
    """The model of ``config`` on the ``meta`` device (shapes and counts only, no memory)."""
    if isinstance(config, dict):
        config = (
            Qwen2_5OmniThinkerConfig(**config)
            if kind == "qwen_omni_thinker"
            else AutoConfig.for_model(**config)
        )
    with torch.device("meta"):
        if kind == "qwen_omni_thinker":
            model: nn.Module = Qwen2_5OmniThinkerForConditionalGeneration(config)  # type: ignore[arg-type]
        else:
            model = AutoModelForCausalLM.from_config(config)
    return model


def load_meta_model(folder: Path | None, name: str | None) -> tuple[ModelKind, nn.Module, str]:
    """Build a model on ``meta`` from ``folder/config.json`` when it exists, else from :data:`KNOWN_MODELS`."""
    if folder is not None and (folder / "config.json").is_file():
        kind, config = _config_from_folder(folder)
        return kind, build_meta_model(kind, config), f"{folder / 'config.json'}"
    if name is None:
        raise ValueError(f"no config.json in {folder}: pass --model, one of {sorted(KNOWN_MODELS)}")
    known = known_model(name)
    return known.kind, build_meta_model(known.kind, known.config), known.source


def decoder_shape(config: PretrainedConfig) -> DecoderShape:
    """The text decoder's shape from a (text) config."""
    text = config.get_text_config(decoder=True)
    heads = int(text.num_attention_heads)
    head_dim = getattr(text, "head_dim", None) or text.hidden_size // heads
    return DecoderShape(
        hidden=int(text.hidden_size),
        intermediate=int(text.intermediate_size),
        layers=int(text.num_hidden_layers),
        heads=heads,
        kv_heads=int(getattr(text, "num_key_value_heads", None) or heads),
        head_dim=int(head_dim),
        vocab=int(text.vocab_size),
    )


def _vision_shape(config: PretrainedConfig) -> DecoderShape | None:
    """The Qwen2.5-Omni vision tower as a transformer stack (its attention has no grouped keys)."""
    vision = getattr(config, "vision_config", None)
    if vision is None:
        return None
    heads = int(vision.num_heads)
    return DecoderShape(
        hidden=int(vision.hidden_size),
        intermediate=int(vision.intermediate_size),
        layers=int(vision.depth),
        heads=heads,
        kv_heads=heads,
        head_dim=int(vision.hidden_size) // heads,
        vocab=0,
    )


def _submodule(model: nn.Module, path: str) -> nn.Module:
    """``model.get_submodule(path)`` under a peft wrapper too."""
    for prefix in ("", "base_model.model."):
        try:
            return model.get_submodule(prefix + path)
        except AttributeError:
            continue
    raise ValueError(f"{type(model).__name__} has no submodule {path!r}")


def apply_finetune(model: nn.Module, parts: dict[str, str], finetune: FinetuneConfig | None) -> nn.Module:
    """Apply the fine-tuning mode as the policies do: LoRA on the whole wrapped model, then freeze named parts."""
    if finetune is None:
        return model
    if finetune.mode == "lora":
        model = wrap_lora(model, finetune)  # type: ignore[arg-type]
    elif finetune.mode != "full":
        raise ValueError(f"unknown fine-tuning mode {finetune.mode!r}: use 'full' or 'lora'")
    freeze_modules({name: _submodule(model, path) for name, path in parts.items()}, list(finetune.freeze))
    return model


def _largest_layer(model: nn.Module) -> int:
    """Parameters of the biggest decoder layer (the unit FSDP gathers at a time)."""
    sizes = [
        sum(p.numel() for p in module.parameters())
        for name, module in model.named_modules()
        if name.endswith(("layers", "blocks")) and isinstance(module, nn.ModuleList)
        for module in module
    ]
    return max(sizes, default=0)


def spec_from_module(
    name: str,
    source: str,
    model: nn.Module,
    decoder_config: PretrainedConfig,
    language_model: nn.Module,
    vision: nn.Module | None,
    vision_config: PretrainedConfig | None = None,
) -> ModelSpec:
    """Count a (meta or real) policy model's parameters after its fine-tuning mode was applied."""
    trainable = [p for p in model.parameters() if p.requires_grad]
    return ModelSpec(
        name=name,
        source=source,
        total=sum(p.numel() for p in model.parameters()),
        trainable=sum(p.numel() for p in trainable),
        trainable_tensors=len(trainable),
        language_model=sum(p.numel() for p in language_model.parameters()),
        largest_layer=_largest_layer(model),
        decoder=decoder_shape(decoder_config),
        vision=None if vision_config is None else _vision_shape(vision_config),
        vision_trainable=vision is not None and any(p.requires_grad for p in vision.parameters()),
    )


def hf_spec(folder: Path | None, name: str | None, finetune: FinetuneConfig | None) -> ModelSpec:
    """A thinker's or causal LM's spec from its folder's config or a known architecture, counted on ``meta``."""
    kind, model, source = load_meta_model(folder, name)
    config: Any = model.config
    if kind == "qwen_omni_thinker":
        model = apply_finetune(model, THINKER_PARTS, finetune)
        return spec_from_module(
            name or str(folder),
            source,
            model,
            config,
            _submodule(model, THINKER_PARTS["language_model"]),
            _submodule(model, THINKER_PARTS["vision_encoder"]),
            config,
        )
    model = apply_finetune(model, {"language_model": ""}, finetune)
    return spec_from_module(name or str(folder), source, model, config, model, None)
