"""The explanation (ERV) reward: how far the rationale's sentences express the target emotion.

The rule (method.md, "Rewards"; defaults reproduce the reference):

1. No closed ``<think>…</think>`` block, or no non-empty sentence in it -> 0.
2. The rationale is split with :func:`ervlight.parsing.split_sentences` (after ``.``/``!``/``?`` and white
   space, never inside double quotes).
3. Each sentence gets the verifier's probabilities ``p``; its label set is ``{k : p_k > threshold}``, the
   argmax when that is empty, the ``top_k`` most probable when it is larger.
4. The target is the verifier label of the gold emotion (``target="predicted"``: of the completion's own
   answer), through :data:`ervlight.labels.GOEMOTIONS_OF_EMOTION` for a GoEmotions verifier, the label
   itself for a verifier over the dataset's own labels, or ``label_map``.
5. ``m`` sentences contain the target, ``n`` sentences in all, ``u`` sentences whose set is not exactly
   ``{neutral}``; the reward is ``m/n`` for a neutral target, else ``m/u`` (0 when ``u = 0``). With
   ``neutral_rule=False`` it is always ``m/n``.

Steps 2-3 are :class:`ervlight.verifier.rationales.RationaleScorer` (shared with the judge and the report):
the distinct sentences of a call are scored in one call of the verifier (batched and cached by
:class:`ervlight.verifier.VerifierScorer`). In a GRPO reward list::

    - {name: explanation, init_args: {verifier: runs/verifier_demo/verifier, threshold: 0.1, top_k: 2}}
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Literal

import torch

from ervlight.labels import LabelSpace, get_label_space
from ervlight.parsing import extract_think, parse_completion
from ervlight.rewards.base import RewardInputs
from ervlight.verifier.rationales import RationaleScorer, ScoredRationale, SentenceLabels
from ervlight.verifier.scorer import SentenceVerifier, VerifierScorer
from ervlight.verifier.targets import verifier_labels_of

__all__ = ["ExplanationResult", "ExplanationReward", "SentenceLabels"]


@dataclass(frozen=True)
class ExplanationResult:
    """The explanation reward of one completion with its parts.

    Attributes:
        reward: the reward in ``[0, 1]``.
        target: the verifier labels the sentences are checked against (empty when the target is unknown).
        sentences: every sentence with its labels and probabilities.
        matched: ``m``, sentences whose set contains a target label.
        non_neutral: ``u``, sentences whose set is not exactly ``{neutral}``.
    """

    reward: float
    target: tuple[str, ...]
    sentences: tuple[SentenceLabels, ...]
    matched: int
    non_neutral: int


class ExplanationReward:
    """The ERV reward over a sentence verifier (a :class:`VerifierScorer`, a folder path, or any look-alike).

    Args:
        verifier: a :class:`~ervlight.verifier.SentenceVerifier` or the folder of a saved verifier.
        threshold: a label joins a sentence's set above this probability.
        top_k: at most this many labels per sentence (``None``: no cap).
        neutral_rule: divide by the non-neutral sentences ``u`` unless the target is neutral (``False``: by
            ``n`` always).
        target: ``"gold"`` (the reference) or ``"predicted"`` (the completion's own answer; an unparseable
            answer scores 0).
        label_map: dataset emotion -> verifier label, keyed by canonical label or emotion noun
            (``"happiness"``); entries override the default map.
        neutral_label: the verifier's neutral label.
        require_closed_think: the reference reads only a closed ``<think>…</think>``; ``False`` also reads a
            truncated rationale (an unclosed ``<think>`` up to ``<answer>`` or the end).
        device: where a verifier loaded from a folder runs.
    """

    name = "explanation"

    def __init__(
        self,
        verifier: SentenceVerifier | str,
        threshold: float = 0.1,
        top_k: int | None = 2,
        neutral_rule: bool = True,
        target: Literal["gold", "predicted"] = "gold",
        label_map: Mapping[str, str] | None = None,
        neutral_label: str = "neutral",
        require_closed_think: bool = True,
        device: str | None = None,
    ) -> None:
        if target not in ("gold", "predicted"):
            raise ValueError(f"target must be 'gold' or 'predicted', got {target!r}")
        if isinstance(verifier, str):
            verifier = VerifierScorer.from_pretrained(verifier, device=device)
        self.scorer = RationaleScorer(verifier, threshold, top_k)
        self.neutral_rule = neutral_rule
        self.target = target
        self.label_map = dict(label_map or {})
        self.neutral_label = neutral_label
        self.require_closed_think = require_closed_think
        self._index = {label: i for i, label in enumerate(verifier.labels)}

    @property
    def verifier(self) -> SentenceVerifier:
        """The sentence verifier the reward reads with (the judge of validation reuses it)."""
        return self.scorer.verifier

    def __call__(self, inputs: RewardInputs) -> torch.Tensor:
        """``[N]`` float rewards in ``[0, 1]``."""
        return torch.tensor([result.reward for result in self.explain(inputs)])

    def explain(self, inputs: RewardInputs) -> list[ExplanationResult]:
        """The reward of every completion with its sentences, their label sets and probabilities."""
        return self.explain_scored(inputs, self.scorer.score([self.rationale(c) for c in inputs.completions]))

    def explain_scored(
        self, inputs: RewardInputs, scored: Sequence[ScoredRationale]
    ) -> list[ExplanationResult]:
        """The reward rule over rationales already scored by :attr:`scorer` (one per completion)."""
        if len(scored) != len(inputs.completions):
            raise ValueError(f"{len(scored)} scored rationales for {len(inputs.completions)} completions")
        return [
            self._result(rationale, self.target_labels(completion, label, dataset))
            for rationale, completion, label, dataset in zip(
                scored, inputs.completions, inputs.labels, inputs.datasets, strict=True
            )
        ]

    def rationale(self, completion: str) -> str | None:
        """The rationale the reward reads: the ``<think>`` content (``None`` without a (closed) block)."""
        think = extract_think(completion)
        if think is None or (self.require_closed_think and "</think>" not in completion):
            return None
        return think

    def sentences(self, completion: str) -> list[str]:
        """The rationale sentences the reward reads (empty without a (closed) ``<think>`` block)."""
        return self.scorer.split(self.rationale(completion))

    def target_labels(self, completion: str, label: str, dataset: str) -> tuple[str, ...]:
        """The verifier labels of the target emotion (gold, or the completion's answer); empty if unknown."""
        space = get_label_space(dataset)
        if self.target == "predicted":
            label = space.normalize(parse_completion(completion).answer_or_text(completion)) or ""
        canonical = space.normalize(label)
        if canonical is None:
            if self.target == "predicted":
                return ()
            raise ValueError(f"gold label {label!r} is not a label of {space.name}")
        return self._verifier_labels(space, canonical)

    def _verifier_labels(self, space: LabelSpace, label: str) -> tuple[str, ...]:
        """Map a canonical dataset label onto verifier labels (:func:`verifier_labels_of`), or raise."""
        names = verifier_labels_of(space, label, self._index, self.label_map)
        if names is None:
            raise ValueError(
                f"emotion {label!r} maps to names that are not labels of the verifier "
                f"({', '.join(self.verifier.labels)}); pass label_map"
            )
        return names

    def _result(self, scored: ScoredRationale, target: tuple[str, ...]) -> ExplanationResult:
        """Count matches and non-neutral sentences of one completion and apply the reward rule."""
        rows = scored.rows()
        matched = sum(any(t in row.labels for t in target) for row in rows)
        non_neutral = sum(row.labels != (self.neutral_label,) for row in rows)
        neutral_target = target == (self.neutral_label,)
        denominator = len(rows) if (neutral_target or not self.neutral_rule) else non_neutral
        reward = matched / denominator if denominator and target else 0.0
        return ExplanationResult(reward, target, rows, matched, non_neutral)
