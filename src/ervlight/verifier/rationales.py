"""The one rationale scorer: rationales in, per-sentence verifier probabilities and label sets out.

The explanation reward, the verifier judge, the consistency report and ``ervlight verifier score`` all read
rationales through :class:`RationaleScorer`:

1. each rationale is split with :func:`ervlight.parsing.split_sentences` (``None`` or empty: no sentence);
2. the distinct sentences of the whole batch go to the :class:`~ervlight.verifier.scorer.SentenceVerifier` in
   one call (none when there is no sentence);
3. each sentence's label set is ``{k : p_k > threshold}``, the argmax when that is empty, the ``top_k`` most
   probable when it is larger (:func:`select_labels`);
4. the rows are regrouped per rationale as :class:`ScoredRationale` (label sets most probable first).

Symbols: ``S`` distinct sentences of a batch, ``n`` sentences of one rationale, ``K`` verifier labels.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import torch

from ervlight.parsing import split_sentences
from ervlight.verifier.scorer import SentenceVerifier

__all__ = ["RationaleScorer", "ScoredRationale", "SentenceLabels", "select_labels"]


def select_labels(probs: torch.Tensor, threshold: float, top_k: int | None) -> torch.Tensor:
    """``[N, K]`` bool label sets: above ``threshold`` (else the argmax), at most ``top_k`` of them."""
    num_labels = probs.shape[1]
    order = probs.argsort(dim=1, descending=True, stable=True)  # [N, K]
    ranks = torch.empty_like(order).scatter_(1, order, torch.arange(num_labels).expand_as(order))  # [N, K]
    selected = probs > threshold  # [N, K]
    if top_k is not None:
        selected &= ranks < top_k
    empty = ~selected.any(dim=1)  # [N]
    selected[empty] = ranks[empty] == 0
    return selected


@dataclass(frozen=True)
class SentenceLabels:
    """One rationale sentence as the verifier read it.

    Attributes:
        text: the sentence.
        labels: its label set (most probable first).
        probabilities: the probability of every verifier label.
    """

    text: str
    labels: tuple[str, ...]
    probabilities: dict[str, float]


@dataclass(frozen=True)
class ScoredRationale:
    """The sentences of one rationale with their verifier probabilities and label sets.

    Attributes:
        sentences: the rationale's sentences, in order (empty: nothing to score).
        probabilities: ``[n, K]`` float verifier probabilities, one row per sentence.
        selected: ``[n, K]`` bool label sets (:func:`select_labels`).
        labels: the verifier's ``K`` label names.
    """

    sentences: tuple[str, ...]
    probabilities: torch.Tensor
    selected: torch.Tensor
    labels: tuple[str, ...]

    def label_sets(self) -> list[tuple[str, ...]]:
        """Each sentence's label set, most probable label first (ties in label order)."""
        return [
            tuple(self.labels[k] for k in _by_probability(row) if chosen[k])
            for row, chosen in zip(self.probabilities, self.selected, strict=True)
        ]

    def rows(self) -> tuple[SentenceLabels, ...]:
        """Every sentence with its label set and the probability of every verifier label."""
        return tuple(
            SentenceLabels(
                text=text,
                labels=labels,
                probabilities={name: float(p) for name, p in zip(self.labels, row.tolist(), strict=True)},
            )
            for text, labels, row in zip(self.sentences, self.label_sets(), self.probabilities, strict=True)
        )

    def only(self, label: str) -> torch.Tensor:
        """``[n]`` bool: sentences whose label set is exactly ``{label}`` (all ``False`` for an unknown label)."""
        if label not in self.labels:
            return torch.zeros(len(self.sentences), dtype=torch.bool)
        column = self.labels.index(label)
        return self.selected[:, column] & (self.selected.sum(dim=1) == 1)  # [n]


class RationaleScorer:
    """Split rationales, score their distinct sentences in one verifier call and give label sets.

    Args:
        verifier: any :class:`~ervlight.verifier.scorer.SentenceVerifier` (a
            :class:`~ervlight.verifier.scorer.VerifierScorer` batches and caches).
        threshold: a label joins a sentence's set above this probability.
        top_k: at most this many labels per sentence (``None``: no cap).
    """

    def __init__(self, verifier: SentenceVerifier, threshold: float = 0.1, top_k: int | None = 2) -> None:
        if top_k is not None and top_k < 1:
            raise ValueError(f"top_k must be at least 1 or None, got {top_k}")
        self.verifier = verifier
        self.threshold = threshold
        self.top_k = top_k

    @property
    def labels(self) -> tuple[str, ...]:
        """The verifier's label names."""
        return tuple(self.verifier.labels)

    @staticmethod
    def split(rationale: str | None) -> list[str]:
        """The sentences of a rationale (:func:`ervlight.parsing.split_sentences`; ``None``: none)."""
        return split_sentences(rationale or "")

    def score(self, rationales: Sequence[str | None]) -> list[ScoredRationale]:
        """Split and score every rationale of a batch (one verifier call for all distinct sentences)."""
        return self.score_sentences([self.split(r) for r in rationales])

    def score_sentences(self, groups: Sequence[Sequence[str]]) -> list[ScoredRationale]:
        """Score already split rationales: one verifier call over the batch's distinct sentences."""
        flat = [s for group in groups for s in group]
        distinct = list(dict.fromkeys(flat))
        empty = torch.zeros(0, len(self.labels))
        scored = self.verifier.probabilities(distinct) if distinct else empty  # [S, K]
        chosen = select_labels(scored, self.threshold, self.top_k)  # [S, K]
        position = {sentence: i for i, sentence in enumerate(distinct)}
        index = torch.tensor([position[s] for s in flat], dtype=torch.long)  # [sum n]
        probs, selected = scored[index], chosen[index]  # [sum n, K]
        out, start = [], 0
        for group in groups:
            end = start + len(group)
            out.append(ScoredRationale(tuple(group), probs[start:end], selected[start:end], self.labels))
            start = end
        return out


def _by_probability(row: torch.Tensor) -> list[int]:
    """Label indices of a ``[K]`` probability row, most probable first (ties in label order)."""
    indices: list[int] = row.argsort(descending=True, stable=True).tolist()
    return indices
