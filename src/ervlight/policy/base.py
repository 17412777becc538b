"""The policy interface that SFT, GRPO and evaluation use (a contract: every backbone implements it).

The point of the interface is cost: :meth:`Policy.encode` runs the media towers ONCE per prompt, and the returned
:class:`PromptContext` is reused for all ``G`` samples of :meth:`Policy.generate` and for every log-prob pass
(:meth:`Policy.completion_logprobs`) — the reference model's too (with LoRA, the same module with adapters off).
Symbols: ``B`` prompts, ``G`` samples per prompt, ``P`` prompt positions, ``L`` completion tokens, ``D`` hidden size.
"""

from __future__ import annotations

import contextlib
from abc import ABC, abstractmethod
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

import torch
from torch import nn

from ervlight.data.batch import MediaBatch

__all__ = ["Generation", "Policy", "PromptContext", "SamplingConfig", "ScoringRequest"]


@dataclass(frozen=True)
class SamplingConfig:
    """Decoding settings (reference GRPO: temperature 1.0, no top-p; reference evaluation: 0.3 / 0.9 / 512)."""

    temperature: float = 1.0
    top_p: float = 1.0
    top_k: int = 0
    max_new_tokens: int = 512
    do_sample: bool = True


@dataclass
class PromptContext:
    """Encoded prompts, media included, ready to be decoded from or scored against.

    Attributes:
        embeds: ``[B, P, D]`` input embeddings of the prompts (media features already merged in), left-padded.
        attention_mask: ``[B, P]`` long/bool, ``1`` for real prompt positions.
        position_ids: positions the backbone needs for the prompt (``[B, P]``, or ``[3, B, P]`` for M-RoPE models),
            or ``None`` when positions follow from the attention mask.
        extras: backbone-specific tensors that must follow the prompts (for example rope deltas).
    """

    embeds: torch.Tensor
    attention_mask: torch.Tensor
    position_ids: torch.Tensor | None = None
    extras: dict[str, torch.Tensor] | None = None

    @property
    def num_prompts(self) -> int:
        """``B``."""
        return int(self.embeds.shape[0])


@dataclass
class Generation:
    """``G`` sampled completions for each of ``B`` prompts, group members adjacent (row ``b * G + g``).

    Attributes:
        completion_ids: ``[B*G, L]`` long, right-padded with the pad id.
        completion_mask: ``[B*G, L]`` bool, ``True`` up to and including the first EOS.
        truncated: ``[B*G]`` bool, ``True`` where no EOS was produced within ``max_new_tokens``.
        texts: the decoded completions (special tokens removed).
    """

    completion_ids: torch.Tensor
    completion_mask: torch.Tensor
    truncated: torch.Tensor
    texts: list[str]


@dataclass(frozen=True)
class ScoringRequest:
    """Given completions to score against encoded prompts, and how (one object for every scoring entry point).

    Attributes:
        context: the encoded prompts (``B`` rows), reused as they are: media are not re-encoded.
        completion_ids: ``[B*G, L]`` completion tokens, group members adjacent (row ``b * G + g``).
        completion_mask: ``[B*G, L]`` bool, the positions scored; the others get 0.
        num_samples: ``G``, completions per prompt (the context rows are repeated in place).
        chunk_size: completion tokens per LM-head chunk.
        temperature: logits are divided by it first (TRL scores GRPO samples at the sampling temperature).
    """

    context: PromptContext
    completion_ids: torch.Tensor
    completion_mask: torch.Tensor
    num_samples: int = 1
    chunk_size: int = 1024
    temperature: float = 1.0


class Policy(nn.Module, ABC):
    """A multimodal (or text-only) causal LM behind the interface training and evaluation share.

    A backbone implements the five abstract methods (:meth:`encode`, :meth:`generate`, :meth:`score_completions`,
    :meth:`tokenize_targets`, :meth:`save_pretrained`); one that lacks any cannot be instantiated (``TypeError``).
    Tasks call only the methods declared here. A backbone with LoRA-style adapters also overrides
    :attr:`has_adapters` and :meth:`adapters_disabled` (the GRPO reference model is the policy with adapters off).
    """

    @abstractmethod
    def encode(self, batch: MediaBatch | list[str], prompts: list[str] | None = None) -> PromptContext:
        """Tokenise the prompts and run the media towers once: ``B`` prompts in, a :class:`PromptContext` out.

        ``batch`` is a :class:`MediaBatch` (frames and audio), or a list of prompt texts for a text-only policy.
        ``prompts`` overrides the configured instruction per sample.
        """

    @abstractmethod
    def generate(
        self,
        context: PromptContext,
        num_samples: int = 1,
        sampling: SamplingConfig | None = None,
        generator: torch.Generator | None = None,
    ) -> Generation:
        """Sample ``num_samples`` completions per prompt with a KV cache, stopping each at EOS."""

    @abstractmethod
    def score_completions(
        self, request: ScoringRequest, with_entropy: bool
    ) -> tuple[torch.Tensor, torch.Tensor | None]:
        """``[B*G, L]`` log-probs of ``request``'s completions and, with ``with_entropy`` where the backbone can
        give it from the same pass, the ``[B*G, L]`` exact entropy of each scored distribution (detached), else
        ``None``. Both hold 0 outside the mask.
        """

    @abstractmethod
    def tokenize_targets(self, targets: Sequence[str]) -> tuple[torch.Tensor, torch.Tensor]:
        """Right-padded target ids ``[B, L]`` with the stop token appended, and their ``[B, L]`` bool mask."""

    @abstractmethod
    def save_pretrained(self, folder: str | Path) -> None:
        """Write everything needed to load the policy again (weights, tokenizer, settings) under ``folder``."""

    def completion_logprobs(
        self,
        context: PromptContext,
        completion_ids: torch.Tensor,
        completion_mask: torch.Tensor,
        num_samples: int = 1,
        chunk_size: int = 1024,
        temperature: float = 1.0,
    ) -> torch.Tensor:
        """``[B*G, L]`` log-probs of given completions (see :class:`ScoringRequest` for the arguments).

        Positions outside ``completion_mask`` hold 0. The context rows are repeated ``num_samples`` times in
        place (no re-encoding of media).
        """
        request = ScoringRequest(
            context, completion_ids, completion_mask, num_samples, chunk_size, temperature
        )
        return self.score_completions(request, with_entropy=False)[0]

    @property
    def has_adapters(self) -> bool:
        """Whether the policy carries adapters that :meth:`adapters_disabled` can switch off (default: no)."""
        return False

    @contextlib.contextmanager
    def adapters_disabled(self) -> Iterator[None]:
        """Run the base model, adapters off, inside the ``with`` block (the GRPO reference under LoRA)."""
        raise ValueError(f"{type(self).__name__} has no adapters")
        yield  # pragma: no cover - makes this a generator

    def shard_units(self) -> list[nn.Module]:
        """Sub-modules to shard one by one under FSDP (default none: the policy is one unit).

        Every listed module must be called through its own ``forward`` (FSDP gathers its weights there).
        """
        return []

    def gradient_checkpointing_enable(self) -> None:
        """Recompute activations in backward instead of keeping them (default: not supported)."""
        raise ValueError(f"{type(self).__name__} does not support gradient checkpointing")
