"""``DecoderPolicy``: the shared half of every backbone whose language model is an HF decoder.

A new HF omni/VL model is added as ONE subclass (a file in ``ervlight/policy/backbones/``) whose ``__init__`` puts
the causal LM in ``self.lm`` and that implements :meth:`~ervlight.policy.base.Policy.encode` (prompt text + media
-> a :class:`PromptContext` of merged input embeddings) and :meth:`~ervlight.policy.base.Policy.save_pretrained`;
optionally :meth:`DecoderPolicy.decoder_parts` when its language model is not a plain ``*ForCausalLM`` (which module
is the decoder stack, the LM head, the token embedding), :meth:`DecoderPolicy.finetune_parts` (its freezable towers)
and :meth:`DecoderPolicy.decode_step_factory` (a fast decode step, e.g. the lean Qwen2 one). Generation (own decode
loop, growing KV cache, prompt prefilled once), chunked completion log-probs and entropies, prompt templating,
target tokenisation, the prompt length cap, LoRA/full/frozen fine-tuning, adapter on/off and adapter-aware saving
come from here.

Prompt length cap (``max_prompt_length``, TRL's and the reference's name; the reference uses 256): only TEXT tokens
of the templated prompt count. Media embeddings (TinyOmni's frame and audio tokens, Qwen's video/audio placeholder
runs and their start/end markers) are neither counted nor cut. A longer prompt loses its FIRST text tokens (the
reference truncates the text prompt ids from the left), so the end of the template, where the answer starts, stays.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import torch
from lightning.fabric.utilities.rank_zero import rank_zero_warn
from peft import PeftModel
from torch import nn
from transformers import PreTrainedModel, PreTrainedTokenizerBase

from ervlight.policy.base import Generation, Policy, PromptContext, SamplingConfig, ScoringRequest
from ervlight.policy.finetune import FinetuneConfig, freeze_modules, save_language_model, wrap_lora
from ervlight.policy.generation.parts import DecoderParts, DecodeStepFactory
from ervlight.policy.generation.sampling import sample_completions
from ervlight.policy.generation.scoring import completion_token_scores

__all__ = ["DEFAULT_CHAT_TEMPLATE", "DEFAULT_INSTRUCTION", "DecoderPolicy", "truncate_prompt_ids"]

#: The reference prompt (R1-Omni's question and format sentence; no candidate list).
DEFAULT_INSTRUCTION = (
    "As an emotional recognition expert; throughout the video, which emotion conveyed by the characters is the "
    "most obvious to you?\nOutput the thinking process in <think> </think> and final emotion in <answer> </answer> "
    "tags."
)
#: A Qwen-style chat turn around the instruction; ``{instruction}`` is replaced by the instruction text.
DEFAULT_CHAT_TEMPLATE = "<|im_start|>user\n{instruction}<|im_end|>\n<|im_start|>assistant\n"


def truncate_prompt_ids(
    ids: torch.Tensor,
    mask: torch.Tensor,
    max_length: int,
    pad_token_id: int,
    uncounted: torch.Tensor | None = None,
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Keep the last ``max_length`` counted tokens of each left-padded prompt; returns ids, mask and cut rows.

    Args:
        ids: ``[B, P]`` left-padded prompt ids.
        mask: ``[B, P]`` attention mask (1 on tokens).
        max_length: most counted tokens a prompt keeps.
        pad_token_id: id written into the new left padding.
        uncounted: ``[B, P]`` bool, tokens that are never counted nor cut (media placeholders); ``None``: none.

    Returns ``[B, P']`` ids and mask (still left-padded, ``P' <= P``) and ``[B]`` bool, the rows that lost tokens.
    """
    present = mask.bool()  # [B, P]
    free = uncounted.bool() & present if uncounted is not None else torch.zeros_like(present)  # [B, P]
    counted = present & ~free  # [B, P]
    from_end = counted.flip(-1).long().cumsum(-1).flip(-1)  # [B, P] counted tokens at or after each position
    kept = free | (counted & (from_end <= max_length))  # [B, P]
    cut = (counted & ~kept).any(-1)  # [B]
    order = torch.sort(kept.long(), dim=-1, stable=True).indices  # [B, P] dropped positions first, order kept
    width = int(kept.sum(-1).max()) if kept.numel() else 0
    kept_sorted = kept.gather(-1, order)[:, ids.shape[1] - width :]  # [B, P']
    new_ids = ids.gather(-1, order)[:, ids.shape[1] - width :].masked_fill(~kept_sorted, pad_token_id)
    return new_ids, kept_sorted.to(mask.dtype), cut  # [B, P'], [B, P'], [B]


class DecoderPolicy(Policy):
    """A :class:`Policy` over an HF causal LM: decoding, log-probs, templating, fine-tuning and saving.

    Args:
        tokenizer: the tokenizer of the language model (left padding is used for prompts).
        instruction: the default instruction of every prompt.
        chat_template: a ``str.format`` template with an ``{instruction}`` field, applied to every prompt.
        stop_tokens: tokens that end a completion (default: the tokenizer's EOS); the first one is appended to SFT
            targets.
        max_prompt_length: most text tokens of a prompt (media not counted); longer prompts keep their last
            ``max_prompt_length`` tokens and one warning (rank zero) says how many were cut. ``None``: no cap.
    """

    #: Attribute that holds the causal LM (replaced by its peft wrapper under LoRA).
    language_model_attr = "lm"

    def __init__(
        self,
        tokenizer: PreTrainedTokenizerBase,
        instruction: str = DEFAULT_INSTRUCTION,
        chat_template: str = DEFAULT_CHAT_TEMPLATE,
        stop_tokens: Sequence[str] | None = None,
        max_prompt_length: int | None = None,
    ) -> None:
        super().__init__()
        if max_prompt_length is not None and max_prompt_length < 1:
            raise ValueError(f"max_prompt_length must be >= 1 or None (no cap), got {max_prompt_length}")
        self.max_prompt_length = max_prompt_length
        self._warned_prompt_cut = False
        if "{instruction}" not in chat_template:
            raise ValueError(f"chat_template must contain '{{instruction}}', got {chat_template!r}")
        self.tokenizer = tokenizer
        self.instruction = instruction
        self.chat_template = chat_template
        names = list(stop_tokens) if stop_tokens else [str(tokenizer.eos_token)]
        ids: list[Any] = [tokenizer.convert_tokens_to_ids(name) for name in names]
        if any(not isinstance(i, int) or i == tokenizer.unk_token_id for i in ids):
            raise ValueError(f"stop tokens {names} are not all single tokens of the tokenizer (ids {ids})")
        self.stop_token_ids: list[int] = [int(i) for i in ids]
        pad: Any = tokenizer.pad_token_id
        self.pad_token_id = int(pad) if pad is not None else self.stop_token_ids[0]

    # ----------------------------------------------------------------- backbone hooks
    @property
    def language_model(self) -> nn.Module:
        """The causal LM (possibly wrapped by peft)."""
        model: nn.Module = getattr(self, self.language_model_attr)
        return model

    def decoder_parts(self) -> DecoderParts:
        """Decoder stack, LM head, token embedding and text config of the language model."""
        model = self.language_model
        base = model.get_base_model() if isinstance(model, PeftModel) else model
        assert isinstance(base, PreTrainedModel)
        return DecoderParts(
            decoder=base.get_decoder(),
            lm_head=base.get_output_embeddings(),
            embed_tokens=base.get_input_embeddings(),
            config=base.config.get_text_config(decoder=True),
            step_factory=self.decode_step_factory(),
        )

    def decode_step_factory(self) -> DecodeStepFactory | None:
        """The backbone's fast single-token decode step builder (default ``None``: HF's forward at every step).

        Qwen2-based backbones return :func:`~ervlight.policy.backbones.lean_qwen2.lean_qwen2_step`.
        """
        return None

    def finetune_parts(self) -> dict[str, nn.Module]:
        """Named parts ``FinetuneConfig.freeze`` may refer to (subclasses add their towers)."""
        return {"language_model": self.language_model}

    @property
    def device(self) -> torch.device:
        """Device of the policy's weights."""
        return next(self.parameters()).device

    # ----------------------------------------------------------------- text
    def format_prompts(self, instructions: Sequence[str] | None, count: int) -> list[str]:
        """Apply the chat template to ``count`` instructions (the configured one where ``None``)."""
        if instructions is not None and len(instructions) != count:
            raise ValueError(f"got {len(instructions)} prompts for {count} samples")
        chosen = list(instructions) if instructions is not None else [self.instruction] * count
        return [self.chat_template.format(instruction=text) for text in chosen]

    def tokenize_prompts(self, texts: Sequence[str]) -> tuple[torch.Tensor, torch.Tensor]:
        """Left-padded prompt ids and mask ``[B, P]`` (no special tokens beyond the template's), capped."""
        encoded = self.tokenizer(
            list(texts), padding=True, padding_side="left", add_special_tokens=False, return_tensors="pt"
        )
        ids, mask = self.cap_prompts(encoded["input_ids"], encoded["attention_mask"])  # [B, P]
        return ids.to(self.device), mask.to(self.device)

    def cap_prompts(
        self, ids: torch.Tensor, mask: torch.Tensor, uncounted: torch.Tensor | None = None
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """Apply ``max_prompt_length`` to left-padded ``[B, P]`` prompt ids (``uncounted``: media placeholders)."""
        if self.max_prompt_length is None:
            return ids, mask
        new_ids, new_mask, cut = truncate_prompt_ids(
            ids, mask, self.max_prompt_length, self.pad_token_id, uncounted
        )
        if bool(cut.any()) and not self._warned_prompt_cut:
            self._warned_prompt_cut = True
            counted = mask.bool() if uncounted is None else mask.bool() & ~uncounted.bool()  # [B, P]
            rank_zero_warn(
                f"max_prompt_length={self.max_prompt_length}: {int(cut.sum())} of {len(cut)} prompts had more "
                f"text tokens (longest {int(counted.sum(-1).max())}) and were cut from the left to their last "
                f"{self.max_prompt_length}; media tokens are not counted. This warning is shown once."
            )
        return new_ids, new_mask

    def tokenize_targets(self, targets: Sequence[str]) -> tuple[torch.Tensor, torch.Tensor]:
        """Right-padded target ids ``[B, L]`` with the stop token appended, and their mask (SFT teacher forcing)."""
        rows = [
            self.tokenizer(t, add_special_tokens=False)["input_ids"] + [self.stop_token_ids[0]]
            for t in targets
        ]
        length = max(len(r) for r in rows)
        ids = torch.full((len(rows), length), self.pad_token_id, dtype=torch.long)  # [B, L]
        mask = torch.zeros(len(rows), length, dtype=torch.bool)  # [B, L]
        for i, row in enumerate(rows):
            ids[i, : len(row)] = torch.tensor(row)
            mask[i, : len(row)] = True
        return ids.to(self.device), mask.to(self.device)

    def embed_tokens(self, ids: torch.Tensor) -> torch.Tensor:
        """Token embeddings ``[B, P, D]`` of the language model."""
        embeds: torch.Tensor = self.decoder_parts().embed_tokens(ids)
        return embeds

    def decode_texts(self, ids: torch.Tensor, mask: torch.Tensor) -> list[str]:
        """Decode completions, dropping padding and special tokens."""
        texts: list[str] = self.tokenizer.batch_decode(
            [row[m].tolist() for row, m in zip(ids, mask, strict=True)], skip_special_tokens=True
        )
        return texts

    # ----------------------------------------------------------------- Policy interface
    def generate(
        self,
        context: PromptContext,
        num_samples: int = 1,
        sampling: SamplingConfig | None = None,
        generator: torch.Generator | None = None,
    ) -> Generation:
        """Sample ``num_samples`` completions per prompt (own decode loop, prompt prefilled once, growing KV cache)."""
        ids, mask, truncated = sample_completions(
            self.decoder_parts(),
            context,
            num_samples,
            sampling or SamplingConfig(),
            self.stop_token_ids,
            self.pad_token_id,
            generator,
        )
        return Generation(ids, mask, truncated, self.decode_texts(ids, mask))

    def score_completions(
        self, request: ScoringRequest, with_entropy: bool
    ) -> tuple[torch.Tensor, torch.Tensor | None]:
        """Completion log-probs (and exact token entropies, without grad) from the same LM-head chunks."""
        return completion_token_scores(self.decoder_parts(), request, with_entropy=with_entropy)

    # ----------------------------------------------------------------- fine-tuning and saving
    def apply_finetuning(self, config: FinetuneConfig) -> None:
        """Switch to a fine-tuning mode: LoRA wraps the language model; ``freeze`` parts stop training."""
        if config.mode == "lora":
            if isinstance(self.language_model, PeftModel):
                raise ValueError("the language model already carries LoRA adapters")
            setattr(self, self.language_model_attr, wrap_lora(self.language_model, config))  # type: ignore[arg-type]
        elif config.mode != "full":
            raise ValueError(f"unknown fine-tuning mode {config.mode!r}: use 'full' or 'lora'")
        freeze_modules(self.finetune_parts(), list(config.freeze))

    @property
    def has_adapters(self) -> bool:
        """Whether the language model carries peft adapters."""
        return isinstance(self.language_model, PeftModel)

    @contextlib.contextmanager
    def adapters_disabled(self) -> Iterator[None]:
        """Run the base model (the GRPO reference under LoRA): adapters off inside the ``with`` block."""
        model = self.language_model
        if not isinstance(model, PeftModel):
            raise ValueError("adapters_disabled needs a LoRA policy; this language model has no adapters")
        with model.disable_adapter():
            yield

    def save_language_model(self, folder: str | Path, with_base: bool) -> None:
        """Save the tokenizer and the language model (peft ``adapter/`` and/or ``lm/`` folders) under ``folder``."""
        path = Path(folder)
        path.mkdir(parents=True, exist_ok=True)
        self.tokenizer.save_pretrained(path / "tokenizer")
        save_language_model(self.language_model, path, with_base)  # type: ignore[arg-type]


def load_language_model(folder: Path, base: PreTrainedModel, trainable: bool) -> PreTrainedModel | PeftModel:
    """Attach the peft adapters saved in ``folder/adapter`` to ``base`` (``base`` itself when there are none)."""
    adapter = folder / "adapter"
    if not (adapter / "adapter_config.json").is_file():
        return base
    return PeftModel.from_pretrained(base, adapter, is_trainable=trainable)
