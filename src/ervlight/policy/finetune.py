"""Fine-tuning modes from config: full, LoRA (peft) on the language model, frozen towers; adapter-aware saving."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from peft import LoraConfig, PeftModel, get_peft_model
from torch import nn
from transformers import PreTrainedModel

__all__ = ["FinetuneConfig", "base_state_dict", "freeze_modules", "wrap_lora"]


@dataclass
class FinetuneConfig:
    """How a policy is trained.

    Attributes:
        mode: ``"full"`` (every weight of the language model trains) or ``"lora"`` (peft LoRA adapters on
            ``target_modules`` of the language model; its base weights freeze).
        lora_r: LoRA rank.
        lora_alpha: LoRA scaling numerator.
        lora_dropout: dropout on the LoRA input.
        target_modules: names of the language-model linear layers that get adapters.
        freeze: parts of the policy to freeze whatever the mode (backbone-specific names, e.g. ``"audio_encoder"``,
            ``"vision_encoder"``, ``"projectors"``, ``"language_model"``); the reference SFT freezes the audio encoder.
    """

    mode: Literal["full", "lora"] = "full"
    lora_r: int = 8
    lora_alpha: int = 16
    lora_dropout: float = 0.0
    target_modules: list[str] = field(default_factory=lambda: ["q_proj", "k_proj", "v_proj", "o_proj"])
    freeze: list[str] = field(default_factory=list)


def wrap_lora(model: PreTrainedModel, config: FinetuneConfig) -> PeftModel:
    """Wrap a causal LM with LoRA adapters (base weights frozen by peft)."""
    lora = LoraConfig(
        r=config.lora_r,
        lora_alpha=config.lora_alpha,
        lora_dropout=config.lora_dropout,
        target_modules=list(config.target_modules),
        bias="none",
        task_type="CAUSAL_LM",
    )
    wrapped: PeftModel = get_peft_model(model, lora)
    return wrapped


def freeze_modules(parts: dict[str, nn.Module], names: list[str]) -> None:
    """Set ``requires_grad=False`` on the named parts; an unknown name is an error that lists the known ones."""
    unknown = sorted(set(names) - set(parts))
    if unknown:
        raise ValueError(f"cannot freeze {unknown}: this policy's parts are {sorted(parts)}")
    for name in names:
        for parameter in parts[name].parameters():
            parameter.requires_grad_(False)


def base_state_dict(model: PeftModel) -> dict[str, object]:
    """The wrapped model's own weights without adapters, under the original (unwrapped) parameter names."""
    state = {}
    for key, value in model.get_base_model().state_dict().items():
        if "lora_" in key:
            continue
        state[key.replace(".base_layer.", ".")] = value
    return state


def save_language_model(model: PreTrainedModel | PeftModel, folder: Path, with_base: bool) -> None:
    """Save the LM: a peft adapter folder ``adapter/`` (plus ``lm/`` base weights if ``with_base``), else ``lm/``."""
    if isinstance(model, PeftModel):
        model.save_pretrained(str(folder / "adapter"))
        if with_base:
            base: Any = model.get_base_model()
            base.save_pretrained(folder / "lm", state_dict=base_state_dict(model))
    else:
        model.save_pretrained(folder / "lm")
