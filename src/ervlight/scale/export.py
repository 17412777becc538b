"""Exports a user can load with transformers alone: merged LoRA, and a thinker back inside a full Qwen2.5-Omni.

* :func:`export_merged` folds a saved policy's peft adapters into its base model (``merge_and_unload``) and writes
  one plain HF folder: weights, config, and the tokenizer or processor beside them.
* :func:`export_omni` puts a trained thinker back into the original Qwen2.5-Omni checkpoint: every ``thinker.*``
  tensor is replaced, the talker, token2wav and every other file of the original folder (``spk_dict.pt``, configs,
  processor files) are kept, so ``Qwen2_5OmniForConditionalGeneration.from_pretrained`` loads the result. The full
  model is held in host memory once (about 2 bytes per parameter in bf16, ~22 GB for Qwen2.5-Omni-7B).
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import torch
from peft import PeftModel
from transformers import (
    AutoModelForCausalLM,
    AutoTokenizer,
    PreTrainedModel,
    Qwen2_5OmniForConditionalGeneration,
    Qwen2_5OmniProcessor,
    Qwen2_5OmniThinkerForConditionalGeneration,
)

__all__ = ["export_merged", "export_omni", "load_policy_lm"]


def _is_thinker(folder: Path) -> bool:
    """Whether a model folder's config is a Qwen2.5-Omni thinker."""
    config = json.loads((folder / "config.json").read_text())
    return config.get("model_type") == "qwen2_5_omni_thinker"


def _load_base(folder: Path, dtype: torch.dtype) -> PreTrainedModel:
    """A thinker or causal LM from a local folder."""
    if _is_thinker(folder):
        thinker: PreTrainedModel = Qwen2_5OmniThinkerForConditionalGeneration.from_pretrained(
            folder, dtype=dtype
        )
        return thinker
    model: PreTrainedModel = AutoModelForCausalLM.from_pretrained(folder, dtype=dtype)
    return model


def load_policy_lm(policy: Path, base: Path | None, dtype: torch.dtype = torch.float32) -> PreTrainedModel:
    """A saved policy's language model with its adapters merged: ``lm/``, or ``base`` + ``adapter/`` merged."""
    adapter = policy / "adapter"
    if (adapter / "adapter_config.json").is_file():
        if base is None:
            raise ValueError(f"{policy} holds LoRA adapters: pass the base model folder they were trained on")
        wrapped = PeftModel.from_pretrained(_load_base(base, dtype), adapter)
        merged: PreTrainedModel = wrapped.merge_and_unload()
        return merged
    if (policy / "lm" / "config.json").is_file():
        return _load_base(policy / "lm", dtype)
    raise ValueError(f"{policy} is not a saved policy (no lm/ and no adapter/)")


def _save_text_side(policy: Path, out: Path) -> None:
    """Save the policy's processor (``processor/``) or tokenizer (``tokenizer/``) into ``out``."""
    if (policy / "processor").is_dir():
        Qwen2_5OmniProcessor.from_pretrained(policy / "processor").save_pretrained(out)
    elif (policy / "tokenizer").is_dir():
        AutoTokenizer.from_pretrained(policy / "tokenizer").save_pretrained(out)
    else:
        raise ValueError(f"{policy} has neither processor/ nor tokenizer/")


def export_merged(
    policy: Path, out: Path, base: Path | None = None, dtype: torch.dtype = torch.float32
) -> Path:
    """Write ``out``: the policy's model with LoRA merged (plain HF weights + config) and its tokenizer/processor."""
    model = load_policy_lm(policy, base, dtype)
    out.mkdir(parents=True, exist_ok=True)
    model.save_pretrained(out)
    _save_text_side(policy, out)
    return out


def _copy_other_files(original: Path, out: Path) -> None:
    """Copy the original folder's files that ``save_pretrained`` does not write (``spk_dict.pt``, processor files)."""
    for item in original.iterdir():
        weights = item.suffix == ".safetensors" or item.name.endswith(".safetensors.index.json")
        if item.is_file() and not weights and not (out / item.name).exists():
            shutil.copy2(item, out / item.name)


def _replace_thinker(
    full: Qwen2_5OmniForConditionalGeneration, trained: PreTrainedModel, original: Path
) -> None:
    """Load the trained thinker's weights into the full model's thinker (every tensor must match)."""
    if not isinstance(trained, Qwen2_5OmniThinkerForConditionalGeneration):
        raise ValueError("the policy does not hold a Qwen2.5-Omni thinker")
    result = full.thinker.load_state_dict(trained.state_dict(), strict=False)
    if result.missing_keys or result.unexpected_keys:
        raise ValueError(
            f"the policy's thinker does not match {original}: missing {result.missing_keys[:3]}, "
            f"unexpected {result.unexpected_keys[:3]}"
        )


def export_omni(policy: Path, original: Path, out: Path, dtype: torch.dtype | None = None) -> Path:
    """Write ``out``: the original Qwen2.5-Omni folder with its thinker replaced by the policy's.

    A policy of LoRA adapters (``adapter/``) is merged into the original's own thinker; a full one (``lm/``) replaces
    it tensor by tensor. transformers loads and saves the full model, so its own checkpoint naming applies;
    ``dtype`` is the saved dtype (default: the original's).
    """
    config = json.loads((original / "config.json").read_text())
    if config.get("model_type") != "qwen2_5_omni":
        raise ValueError(
            f"{original / 'config.json'} is not a full Qwen2.5-Omni checkpoint (model_type qwen2_5_omni)"
        )
    full = Qwen2_5OmniForConditionalGeneration.from_pretrained(original, dtype=dtype or "auto")
    if (policy / "adapter" / "adapter_config.json").is_file():  # LoRA on the original's own thinker
        full.thinker = PeftModel.from_pretrained(full.thinker, policy / "adapter").merge_and_unload()
    else:
        _replace_thinker(full, load_policy_lm(policy, None, next(full.thinker.parameters()).dtype), original)
    out.mkdir(parents=True, exist_ok=True)
    full.save_pretrained(out)
    _copy_other_files(original, out)
    if (policy / "processor").is_dir():
        Qwen2_5OmniProcessor.from_pretrained(policy / "processor").save_pretrained(out)
    return out
