"""The verifier as a judge: one emotion of a dataset's label list for a whole rationale (EEA/EPC/FCR).

Rule (documented for the evaluation reports):

1. split the rationale with :func:`ervlight.parsing.split_sentences` and score every sentence;
2. give each sentence its label set as the explanation reward does (above ``threshold``, else the argmax, at
   most ``top_k``); sentences whose set is exactly ``{neutral}`` are left out, unless every sentence is
   neutral (``skip_neutral=False`` keeps all);
3. for each dataset label, average the probability of its verifier label over the remaining sentences (a
   compound label takes the mean over its emotions' labels);
4. the judged emotion is the dataset label with the highest average.

A rationale with no sentence, or a verifier that covers none of the dataset's labels, gives ``None``
("unjudged"), never "neutral". Dataset labels reach the verifier's labels as in the explanation reward: the
verifier's own label of the same name, else :data:`ervlight.labels.GOEMOTIONS_OF_EMOTION`
(:func:`ervlight.verifier.targets.verifier_labels_of`). Any
:class:`SentenceVerifier` is pluggable, so a second, independently trained verifier can judge a policy trained
with the first.
"""

from __future__ import annotations

import torch

from ervlight.labels import LabelSpace, get_label_space
from ervlight.parsing import split_sentences
from ervlight.verifier.scorer import SentenceVerifier, VerifierScorer, select_labels
from ervlight.verifier.targets import verifier_labels_of

__all__ = ["VerifierJudge"]


class VerifierJudge:
    """Judge rationales with a sentence verifier (a :class:`VerifierScorer`, a folder path, or a look-alike).

    Args:
        verifier: the verifier, or the folder of a saved one.
        name: the judge's name in reports.
        skip_neutral: leave out sentences labelled only neutral (unless all are).
        threshold: label-set threshold for the neutral test (the reward's).
        top_k: label-set size cap for the neutral test (the reward's).
        neutral_label: the verifier's neutral label.
        device: where a verifier loaded from a folder runs.
    """

    def __init__(
        self,
        verifier: SentenceVerifier | str,
        name: str = "verifier",
        skip_neutral: bool = True,
        threshold: float = 0.1,
        top_k: int | None = 2,
        neutral_label: str = "neutral",
        device: str | None = None,
    ) -> None:
        if isinstance(verifier, str):
            verifier = VerifierScorer.from_pretrained(verifier, device=device)
        self.verifier = verifier
        self.name = name
        self.skip_neutral = skip_neutral
        self.threshold = threshold
        self.top_k = top_k
        self.neutral_label = neutral_label
        self._index = {label: k for k, label in enumerate(verifier.labels)}

    def columns(self, space: LabelSpace) -> tuple[list[str], list[list[int]]]:
        """The dataset labels the verifier can name and, for each, its verifier label columns."""
        labels, columns = [], []
        for label in space.labels:
            names = verifier_labels_of(space, label, self._index)
            if names is None:
                continue
            labels.append(label)
            columns.append([self._index[n] for n in names])
        return labels, columns

    def scores(self, rationales: list[str], dataset: str) -> tuple[list[str], torch.Tensor]:
        """Dataset labels and ``[B, C]`` mean sentence probabilities per rationale (NaN rows: no sentence)."""
        space = get_label_space(dataset)
        labels, columns = self.columns(space)
        sentences = [split_sentences(r or "") for r in rationales]
        flat = [s for group in sentences for s in group]
        probs = self.verifier.probabilities(flat) if flat else torch.zeros(0, len(self._index))  # [S, K]
        per_label = (
            torch.stack([probs[:, cols].mean(dim=1) for cols in columns], dim=1) if columns else probs[:, :0]
        )
        keep = self._informative(probs)  # [S]
        out = torch.full((len(rationales), len(labels)), float("nan"))  # [B, C]
        start = 0
        for row, group in enumerate(sentences):
            end = start + len(group)
            if group:
                chosen = (
                    keep[start:end] if keep[start:end].any() else torch.ones(len(group), dtype=torch.bool)
                )
                out[row] = per_label[start:end][chosen].mean(dim=0)
            start = end
        return labels, out

    def _informative(self, probs: torch.Tensor) -> torch.Tensor:
        """``[S]`` bool: sentences whose label set is not exactly ``{neutral}`` (all, without the rule)."""
        neutral = self._index.get(self.neutral_label)
        if not self.skip_neutral or neutral is None:
            return torch.ones(len(probs), dtype=torch.bool)
        selected = select_labels(probs, self.threshold, self.top_k)  # [S, K]
        only_neutral = selected[:, neutral] & (selected.sum(dim=1) == 1)  # [S]
        return ~only_neutral

    def judge(self, rationales: list[str], dataset: str) -> list[str | None]:
        """One label of ``dataset`` per rationale, or ``None`` when there is nothing to judge."""
        labels, scores = self.scores(rationales, dataset)
        if not labels:
            return [None] * len(rationales)
        best = scores.nan_to_num(-1.0).argmax(dim=1).tolist()
        return [None if torch.isnan(row).all() else labels[k] for row, k in zip(scores, best, strict=True)]
