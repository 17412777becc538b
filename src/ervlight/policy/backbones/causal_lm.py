"""``CausalLMPolicy``: a text-only HF causal LM behind the policy interface (GRPO benchmarks, text baselines)."""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path

import torch
from peft import PeftModel
from transformers import (
    AutoModelForCausalLM,
    AutoTokenizer,
    PreTrainedModel,
    PreTrainedTokenizerBase,
    Qwen2ForCausalLM,
)

from ervlight.data.batch import MediaBatch
from ervlight.policy.backbones.lean_qwen2 import lean_qwen2_step
from ervlight.policy.base import PromptContext
from ervlight.policy.decoder import (
    DEFAULT_CHAT_TEMPLATE,
    DEFAULT_INSTRUCTION,
    DecoderPolicy,
    load_language_model,
)
from ervlight.policy.finetune import FinetuneConfig
from ervlight.policy.generation.parts import DecodeStepFactory

__all__ = ["CausalLMPolicy"]

_SETTINGS_FILE = "policy.json"


class CausalLMPolicy(DecoderPolicy):
    """A text-only causal LM (any HF ``*ForCausalLM``); media in a :class:`MediaBatch` are ignored.

    Args:
        model: a loaded causal LM, or a local folder / hub id to load with ``AutoModelForCausalLM``.
        tokenizer: its tokenizer, or a folder / hub id (default: the model folder).
        instruction: default instruction of every prompt.
        chat_template: ``str.format`` template with an ``{instruction}`` field.
        stop_tokens: tokens that end a completion (default: the tokenizer's EOS).
        max_prompt_length: most prompt tokens; longer prompts keep their last ones (``None``: no cap; saved).
        finetune: fine-tuning mode (``None`` leaves every weight trainable).
        dtype: weight dtype when loading from a folder (``"float32"``, ``"bfloat16"``…).
        trust_remote_code: passed to the HF loaders; only set it for a model you trust.
    """

    def __init__(
        self,
        model: PreTrainedModel | str,
        tokenizer: PreTrainedTokenizerBase | str | None = None,
        instruction: str = DEFAULT_INSTRUCTION,
        chat_template: str = DEFAULT_CHAT_TEMPLATE,
        stop_tokens: Sequence[str] | None = None,
        max_prompt_length: int | None = None,
        finetune: FinetuneConfig | None = None,
        dtype: str = "float32",
        trust_remote_code: bool = False,
    ) -> None:
        if isinstance(tokenizer, str) or tokenizer is None:
            source = tokenizer if tokenizer is not None else model
            if not isinstance(source, str):
                raise ValueError("CausalLMPolicy needs a tokenizer when the model is given as an object")
            tokenizer = AutoTokenizer.from_pretrained(source, trust_remote_code=trust_remote_code)
        super().__init__(tokenizer, instruction, chat_template, stop_tokens, max_prompt_length)
        if isinstance(model, str):
            model = AutoModelForCausalLM.from_pretrained(
                model, dtype=getattr(torch, dtype), trust_remote_code=trust_remote_code
            )
        self.lm: PreTrainedModel | PeftModel = model
        if finetune is not None:
            self.apply_finetuning(finetune)

    def decode_step_factory(self) -> DecodeStepFactory | None:
        """The lean Qwen2 decode step when the LM is a Qwen2 causal LM, else ``None`` (HF's forward)."""
        model = self.language_model
        base = model.get_base_model() if isinstance(model, PeftModel) else model
        return lean_qwen2_step if isinstance(base, Qwen2ForCausalLM) else None

    def encode(self, batch: MediaBatch | list[str], prompts: list[str] | None = None) -> PromptContext:
        """Template and tokenise the prompts: a list of instructions, or one (configured) per batch sample."""
        if isinstance(batch, MediaBatch):
            texts = self.format_prompts(prompts, len(batch))
        else:
            texts = self.format_prompts(prompts if prompts is not None else batch, len(batch))
        ids, mask = self.tokenize_prompts(texts)  # [B, P]
        return PromptContext(embeds=self.embed_tokens(ids), attention_mask=mask)

    def save_pretrained(self, folder: str | Path) -> None:
        """Save adapters (peft folder ``adapter/``) or the full model (``lm/``), the tokenizer and the settings."""
        path = Path(folder)
        self.save_language_model(path, with_base=False)
        settings = {
            "instruction": self.instruction,
            "chat_template": self.chat_template,
            "stop_tokens": self.tokenizer.convert_ids_to_tokens(self.stop_token_ids),
            "max_prompt_length": self.max_prompt_length,
        }
        (path / _SETTINGS_FILE).write_text(json.dumps(settings, indent=2))

    @classmethod
    def from_pretrained(
        cls, folder: str | Path, base_model: PreTrainedModel | str | None = None, trainable: bool = False
    ) -> CausalLMPolicy:
        """Load a saved policy; an adapter-only folder needs ``base_model`` (the model the adapters were made for)."""
        path = Path(folder)
        settings = json.loads((path / _SETTINGS_FILE).read_text())
        if (path / "lm").is_dir():
            base: PreTrainedModel = AutoModelForCausalLM.from_pretrained(path / "lm")
        elif base_model is None:
            raise ValueError(
                f"{path} holds LoRA adapters only: pass base_model (the model they were trained on)"
            )
        else:
            base = (
                AutoModelForCausalLM.from_pretrained(base_model)
                if isinstance(base_model, str)
                else base_model
            )
        tokenizer = AutoTokenizer.from_pretrained(path / "tokenizer")
        policy = cls(base, tokenizer, **settings)
        policy.lm = load_language_model(path, base, trainable)
        return policy
