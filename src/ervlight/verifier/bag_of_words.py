"""A cheap sentence verifier: word and word-pair counts and a multi-label logistic regression (no transformer).

It implements :class:`~ervlight.verifier.scorer.SentenceVerifier`, so a :class:`~ervlight.verifier.judge.VerifierJudge`
can judge rationales with it. The demo trains one on its own corpus seed as the independent judge: a different
model family from the reward verifier (MiniLM), trained in seconds. Features: lower-cased words and adjacent word
pairs seen at least ``min_count`` times in the training sentences, ``log(1 + count)`` weighted by inverse document
frequency and L2-normalised; the head is one linear layer with a sigmoid per label, fitted by L-BFGS on the
class-balanced binary cross-entropy with an L2 penalty (deterministic: full batch, no sampling).

Symbols: ``N`` sentences, ``V`` features, ``K`` labels.
"""

from __future__ import annotations

import itertools
import json
import re
from collections import Counter
from collections.abc import Sequence
from pathlib import Path

import torch
from safetensors.torch import load_file, save_file

__all__ = ["BagOfWordsVerifier", "fit_bag_of_words", "words"]

_WORD = re.compile(r"[a-z]+(?:'[a-z]+)?")
_CONFIG = "bag_of_words.json"
_WEIGHTS = "bag_of_words.safetensors"


def words(sentence: str) -> list[str]:
    """Lower-cased words and adjacent word pairs (``"a b"``) of a sentence."""
    tokens = _WORD.findall(sentence.lower())
    return tokens + [f"{a} {b}" for a, b in itertools.pairwise(tokens)]


class BagOfWordsVerifier:
    """Word-count features and a linear multi-label head (see the module docstring).

    Args:
        labels: the label names (``K``), in head order.
        vocabulary: the feature words and pairs (``V``), in feature order.
        idf: ``[V]`` inverse document frequency of each feature.
        weight: ``[V, K]`` head weights.
        bias: ``[K]`` head bias.
    """

    def __init__(
        self,
        labels: Sequence[str],
        vocabulary: Sequence[str],
        idf: torch.Tensor,
        weight: torch.Tensor,
        bias: torch.Tensor,
    ) -> None:
        if weight.shape != (len(vocabulary), len(labels)) or bias.shape != (len(labels),):
            raise ValueError(
                f"bag-of-words weights {tuple(weight.shape)}/{tuple(bias.shape)} do not match "
                f"{len(vocabulary)} features and {len(labels)} labels"
            )
        self.labels = tuple(labels)
        self.vocabulary = tuple(vocabulary)
        self._index = {feature: i for i, feature in enumerate(self.vocabulary)}
        self.idf = idf.float()
        self.weight = weight.float()
        self.bias = bias.float()

    def features(self, sentences: Sequence[str]) -> torch.Tensor:
        """``[N, V]`` L2-normalised ``log(1 + count) * idf`` features."""
        counts = torch.zeros(len(sentences), len(self.vocabulary))  # [N, V]
        for row, sentence in enumerate(sentences):
            for feature, count in Counter(words(sentence)).items():
                column = self._index.get(feature)
                if column is not None:
                    counts[row, column] = float(count)
        values = torch.log1p(counts) * self.idf  # [N, V]
        return values / values.norm(dim=1, keepdim=True).clamp(min=1e-6)

    def logits(self, sentences: Sequence[str]) -> torch.Tensor:
        """``[N, K]`` head logits."""
        return self.features(sentences) @ self.weight + self.bias

    def probabilities(self, sentences: Sequence[str]) -> torch.Tensor:
        """``[N, K]`` sigmoid probability of each label."""
        if not sentences:
            return torch.zeros(0, len(self.labels))
        with torch.no_grad():
            return torch.sigmoid(self.logits(sentences))

    def save_pretrained(self, folder: str | Path) -> None:
        """Write ``bag_of_words.json`` (labels, vocabulary) and ``bag_of_words.safetensors`` (idf, weights)."""
        path = Path(folder)
        path.mkdir(parents=True, exist_ok=True)
        config = {"labels": list(self.labels), "vocabulary": list(self.vocabulary)}
        (path / _CONFIG).write_text(json.dumps(config, indent=1) + "\n", encoding="utf-8")
        tensors = {"idf": self.idf, "weight": self.weight, "bias": self.bias}
        save_file({k: v.contiguous() for k, v in tensors.items()}, str(path / _WEIGHTS))

    @classmethod
    def from_pretrained(cls, folder: str | Path) -> BagOfWordsVerifier:
        """Load a folder written by :meth:`save_pretrained`; ``FileNotFoundError`` names a missing file."""
        path = Path(folder)
        for name in (_CONFIG, _WEIGHTS):
            if not (path / name).is_file():
                raise FileNotFoundError(f"{path} is not a bag-of-words verifier (no {name})")
        config = json.loads((path / _CONFIG).read_text(encoding="utf-8"))
        tensors = load_file(str(path / _WEIGHTS))
        return cls(config["labels"], config["vocabulary"], tensors["idf"], tensors["weight"], tensors["bias"])

    @staticmethod
    def is_folder(folder: str | Path) -> bool:
        """Whether ``folder`` holds a saved bag-of-words verifier."""
        return (Path(folder) / _CONFIG).is_file()


def _vocabulary(sentences: Sequence[str], min_count: int) -> tuple[list[str], torch.Tensor]:
    """Features seen in at least ``min_count`` sentences (sorted) and their ``[V]`` idf."""
    documents = Counter(feature for sentence in sentences for feature in set(words(sentence)))
    vocabulary = sorted(feature for feature, count in documents.items() if count >= min_count)
    frequency = torch.tensor([documents[f] for f in vocabulary], dtype=torch.float32)  # [V]
    return vocabulary, torch.log((1 + len(sentences)) / (1 + frequency)) + 1.0


def fit_bag_of_words(
    sentences: Sequence[str],
    targets: torch.Tensor,
    labels: Sequence[str],
    min_count: int = 2,
    l2: float = 1e-6,
    max_class_weight: float = 1.0,
    max_iter: int = 200,
) -> BagOfWordsVerifier:
    """Fit a :class:`BagOfWordsVerifier` on sentences and their ``[N, K]`` multi-hot targets (deterministic).

    Positives of each label are weighted by ``negatives / positives`` (at most ``max_class_weight``), as the
    reward verifier's class balance, so that rare labels are not drowned by the label priors.
    """
    if targets.shape != (len(sentences), len(labels)):
        raise ValueError(
            f"targets {tuple(targets.shape)} do not match {len(sentences)} sentences x {len(labels)} labels"
        )
    vocabulary, idf = _vocabulary(sentences, min_count)
    if not vocabulary:
        raise ValueError(f"no word occurs in {min_count} or more of the {len(sentences)} training sentences")
    empty = BagOfWordsVerifier(labels, vocabulary, idf, torch.zeros(len(vocabulary), len(labels)),
                               torch.zeros(len(labels)))  # fmt: skip
    x, y = empty.features(sentences), targets.float()  # [N, V], [N, K]
    positives = y.sum(0)  # [K]
    pos_weight = ((len(y) - positives) / positives.clamp(min=1.0)).clamp(min=1.0, max=max_class_weight)  # [K]
    weight = torch.zeros(len(vocabulary), len(labels), requires_grad=True)
    bias = torch.zeros(len(labels), requires_grad=True)
    optimiser = torch.optim.LBFGS([weight, bias], max_iter=max_iter, line_search_fn="strong_wolfe")
    loss_fn = torch.nn.BCEWithLogitsLoss(pos_weight=pos_weight)

    def closure() -> torch.Tensor:
        optimiser.zero_grad()
        loss = loss_fn(x @ weight + bias, y) + l2 * weight.pow(2).sum()
        loss.backward()
        return loss

    optimiser.step(closure)
    return BagOfWordsVerifier(labels, vocabulary, idf, weight.detach(), bias.detach())
