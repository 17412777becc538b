"""Batched, cached sentence scoring: rationale sentences in, verifier label probabilities out.

The scorer is what :class:`ervlight.verifier.rationales.RationaleScorer` (behind the explanation reward, the
judge, the report and ``ervlight verifier score``) runs on. All sentences of a call are de-duplicated, looked
up in a cache, and the rest are scored in a few padded forward passes under ``torch.inference_mode`` (sorted by
length so each batch pads little). A GRPO group repeats many
sentences across its completions and across steps; the cache returns those without a forward pass.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol, runtime_checkable

import torch
from transformers import PreTrainedModel, PreTrainedTokenizerBase

from ervlight.verifier.backbone import config_labels, config_multi_label, load_classifier

__all__ = ["CacheInfo", "SentenceVerifier", "VerifierScorer"]


@runtime_checkable
class SentenceVerifier(Protocol):
    """Anything that gives label probabilities for sentences: the reward and the judge only need this."""

    labels: tuple[str, ...]

    def probabilities(self, sentences: Sequence[str]) -> torch.Tensor:
        """``[N, K]`` float probabilities on the CPU, one row per sentence, ``K = len(labels)``."""
        ...


@dataclass(frozen=True)
class CacheInfo:
    """Cache statistics: sentences served from the cache, sentences scored by the model, entries held."""

    hits: int
    misses: int
    size: int


class VerifierScorer:
    """Score sentences with a sequence classifier in batches, with an LRU cache of sentence probabilities.

    Args:
        model: a transformers sequence classifier (its config names the labels).
        tokenizer: the model's tokenizer.
        multi_label: sigmoid (``True``) or softmax (``False``) on the logits; ``None`` reads ``problem_type``.
        batch_size: sentences per forward pass.
        max_length: token limit per sentence (``None``: the tokenizer's limit, at most 512, as the reference).
        cache_size: sentences kept in the cache (``0`` switches the cache off).
        device: where the model runs (``None``: where it already is).
    """

    def __init__(
        self,
        model: PreTrainedModel,
        tokenizer: PreTrainedTokenizerBase,
        multi_label: bool | None = None,
        batch_size: int = 64,
        max_length: int | None = None,
        cache_size: int = 100_000,
        device: str | torch.device | None = None,
    ) -> None:
        if batch_size < 1:
            raise ValueError(f"batch_size must be at least 1, got {batch_size}")
        if device is not None:
            model.to(torch.device(device))  # type: ignore[arg-type]
        self.model = model  # scored in eval mode; the caller's mode is restored after each pass
        self.tokenizer = tokenizer
        self.labels: tuple[str, ...] = config_labels(model.config)
        self.multi_label = config_multi_label(model.config) if multi_label is None else multi_label
        self.batch_size = batch_size
        self.max_length = max_length or min(int(getattr(tokenizer, "model_max_length", 512) or 512), 512)
        self.cache_size = cache_size
        self._cache: OrderedDict[str, torch.Tensor] = OrderedDict()
        self._hits = 0
        self._misses = 0

    @classmethod
    def from_pretrained(cls, path: str, trust_remote_code: bool = False, **kwargs: object) -> VerifierScorer:
        """Load a verifier folder (written by ervlight, or any published sequence classifier)."""
        model, tokenizer = load_classifier(path, trust_remote_code=trust_remote_code)
        return cls(model, tokenizer, **kwargs)  # type: ignore[arg-type]

    @property
    def device(self) -> torch.device:
        """Where the model's parameters live."""
        return next(self.model.parameters()).device

    def cache_info(self) -> CacheInfo:
        """Hits, misses and size of the sentence cache."""
        return CacheInfo(self._hits, self._misses, len(self._cache))

    def clear_cache(self) -> None:
        """Forget cached probabilities (call after the model's weights change)."""
        self._cache.clear()
        self._hits = self._misses = 0

    def probabilities(self, sentences: Sequence[str]) -> torch.Tensor:
        """``[N, K]`` probabilities of ``N`` sentences, cached ones without a forward pass."""
        missing = list(dict.fromkeys(s for s in sentences if s not in self._cache))
        self._misses += len(missing)
        self._hits += len(sentences) - len(missing)
        scored = dict(zip(missing, self.score_uncached(missing), strict=True))
        rows = [scored[s] if s in scored else self._lookup(s) for s in sentences]
        for sentence, row in scored.items():
            self._store(sentence, row)
        if not rows:
            return torch.zeros(0, len(self.labels))
        return torch.stack(rows)  # [N, K]

    def score_uncached(self, sentences: Sequence[str]) -> list[torch.Tensor]:
        """Probabilities of each sentence (``[K]`` rows), in length-sorted batches, without the cache."""
        order = sorted(range(len(sentences)), key=lambda i: len(sentences[i]), reverse=True)
        rows: list[torch.Tensor] = [torch.empty(0)] * len(sentences)
        for start in range(0, len(order), self.batch_size):
            chunk = order[start : start + self.batch_size]
            probs = self.forward_texts([sentences[i] for i in chunk])  # [b, K]
            for i, row in zip(chunk, probs, strict=True):
                rows[i] = row
        return rows

    def forward_texts(self, texts: list[str]) -> torch.Tensor:
        """One padded forward pass under inference mode: ``[b, K]`` probabilities on the CPU."""
        was_training = self.model.training
        self.model.eval()
        inputs = self.tokenizer(
            texts, padding=True, truncation=True, max_length=self.max_length, return_tensors="pt"
        ).to(self.device)
        with torch.inference_mode():
            logits = self.model(**inputs).logits.float()  # [b, K]
        self.model.train(was_training)
        probs = logits.sigmoid() if self.multi_label else logits.softmax(dim=-1)
        return probs.cpu()

    def _lookup(self, sentence: str) -> torch.Tensor:
        """A cached row, marked as recently used."""
        self._cache.move_to_end(sentence)
        return self._cache[sentence]

    def _store(self, sentence: str, row: torch.Tensor) -> None:
        """Cache a row, evicting the least recently used beyond ``cache_size``."""
        if self.cache_size <= 0:
            return
        self._cache[sentence] = row
        while len(self._cache) > self.cache_size:
            self._cache.popitem(last=False)
