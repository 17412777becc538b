"""The demo's independent judge: a bag-of-words verifier trained on its own corpus seed, with its held-out figures.

The reward verifier is MiniLM fine-tuned on the demo's verifier corpus; the judge is another model family
(:class:`~ervlight.verifier.bag_of_words.BagOfWordsVerifier`) fitted on a corpus drawn with another seed, so the
policy that GRPO shapes against the reward verifier is judged by a model that shares neither its weights nor its
sentences. ``judge.json`` beside the saved judge records its held-out accuracy (the corpus's ``test`` split, whose
phrasings are partly unseen in training) and its agreement with the reward verifier on the same sentences.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import torch

from ervlight.data.text_sources import TextExample, read_verifier_corpus
from ervlight.labels import get_label_space
from ervlight.verifier.bag_of_words import fit_bag_of_words
from ervlight.verifier.rationales import select_labels
from ervlight.verifier.scorer import SentenceVerifier, VerifierScorer

__all__ = ["held_out_figures", "train_judge"]

_SPACE = "goemotions"


def _targets(examples: Sequence[TextExample], labels: Sequence[str]) -> torch.Tensor:
    """``[N, K]`` multi-hot targets of corpus examples."""
    index = {label: k for k, label in enumerate(labels)}
    targets = torch.zeros(len(examples), len(labels))
    for row, example in enumerate(examples):
        for label in example.labels:
            targets[row, index[label]] = 1.0
    return targets


def held_out_figures(
    verifier: SentenceVerifier, examples: Sequence[TextExample], reference: SentenceVerifier | None = None
) -> dict[str, Any]:
    """Held-out figures (%): top label among the gold labels, exact label set (threshold 0.1, at most 2, as the
    reward), and with ``reference`` the share of sentences where both verifiers give the same top label."""
    texts = [example.text for example in examples]
    gold = _targets(examples, verifier.labels) > 0  # [N, K]
    probs = verifier.probabilities(texts)  # [N, K]
    top = probs.argmax(1)  # [N]
    figures: dict[str, Any] = {
        "sentences": len(texts),
        "top_label_in_gold": round(100.0 * gold[torch.arange(len(texts)), top].float().mean().item(), 2),
        "label_set_exact": round(
            100.0 * (select_labels(probs, 0.1, 2) == gold).all(1).float().mean().item(), 2
        ),
    }
    if reference is not None:
        if tuple(reference.labels) != tuple(verifier.labels):
            raise ValueError("the judge and the reference verifier name different labels")
        other = reference.probabilities(texts).argmax(1)  # [N]
        figures["top_label_agreement"] = round(100.0 * (other == top).float().mean().item(), 2)
    return figures


def train_judge(corpus: Path, folder: Path, reward_verifier: Path, reward_corpus: Path) -> dict[str, Any]:
    """Fit the judge on ``corpus``'s train split, save it to ``folder`` and write ``judge.json`` there.

    Held-out figures: on ``corpus``'s test split and on the reward verifier's own corpus's test split, each with
    the top-label agreement with the reward verifier.
    """
    labels = get_label_space(_SPACE).labels
    train = read_verifier_corpus(corpus, _SPACE, split="train")
    judge = fit_bag_of_words([e.text for e in train], _targets(train, labels), labels)
    reward = VerifierScorer.from_pretrained(str(reward_verifier))
    summary = {
        "model": "bag of words + logistic regression",
        "features": len(judge.vocabulary),
        "train_sentences": len(train),
        "held_out": held_out_figures(judge, read_verifier_corpus(corpus, _SPACE, split="test"), reward),
        "held_out_reward_corpus": held_out_figures(
            judge, read_verifier_corpus(reward_corpus, _SPACE, split="test"), reward
        ),
    }
    judge.save_pretrained(folder)
    (folder / "judge.json").write_text(json.dumps(summary, indent=2) + "\n", encoding="utf-8")
    return summary
