"""The verifier as a judge: one emotion of a dataset's label list for a whole rationale (EEA/EPC/FCR).

Rule (documented for the evaluation reports):

1. split the rationale and score every sentence with the
   :class:`~ervlight.verifier.rationales.RationaleScorer` the explanation reward and the report also use;
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
from ervlight.verifier.rationales import RationaleScorer, ScoredRationale
from ervlight.verifier.scorer import SentenceVerifier, VerifierScorer
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
        self.scorer = RationaleScorer(verifier, threshold, top_k)
        self.name = name
        self.skip_neutral = skip_neutral
        self.neutral_label = neutral_label

    @property
    def verifier(self) -> SentenceVerifier:
        """The sentence verifier the judge reads with."""
        return self.scorer.verifier

    def columns(self, space: LabelSpace) -> tuple[list[str], list[list[int]]]:
        """The dataset labels the verifier can name and, for each, its verifier label columns."""
        index = {label: k for k, label in enumerate(self.scorer.labels)}
        labels, columns = [], []
        for label in space.labels:
            names = verifier_labels_of(space, label, index)
            if names is None:
                continue
            labels.append(label)
            columns.append([index[n] for n in names])
        return labels, columns

    def scores(self, rationales: list[str], dataset: str) -> tuple[list[str], torch.Tensor]:
        """Dataset labels and ``[B, C]`` mean sentence probabilities per rationale (NaN rows: no sentence)."""
        labels, columns = self.columns(get_label_space(dataset))
        out = torch.full((len(rationales), len(labels)), float("nan"))  # [B, C]
        for row, scored in enumerate(self.scorer.score(rationales)):
            if not scored.sentences:
                continue
            probs = scored.probabilities  # [n, K]
            per_label = (
                torch.stack([probs[:, cols].mean(dim=1) for cols in columns], dim=1)
                if columns
                else probs[:, :0]
            )  # [n, C]
            keep = self._informative(scored)  # [n]
            chosen = keep if keep.any() else torch.ones(len(scored.sentences), dtype=torch.bool)  # [n]
            out[row] = per_label[chosen].mean(dim=0)
        return labels, out

    def _informative(self, scored: ScoredRationale) -> torch.Tensor:
        """``[n]`` bool: sentences whose label set is not exactly ``{neutral}`` (all, without the rule)."""
        if not self.skip_neutral or self.neutral_label not in scored.labels:
            return torch.ones(len(scored.sentences), dtype=torch.bool)
        return ~scored.only(self.neutral_label)

    def judge(self, rationales: list[str], dataset: str) -> list[str | None]:
        """One label of ``dataset`` per rationale, or ``None`` when there is nothing to judge."""
        labels, scores = self.scores(rationales, dataset)
        if not labels:
            return [None] * len(rationales)
        best = scores.nan_to_num(-1.0).argmax(dim=1).tolist()
        return [None if torch.isnan(row).all() else labels[k] for row, k in zip(scores, best, strict=True)]
