"""Test helpers of the verifier tests: the small corpus and a stub sentence verifier with fixed probabilities."""

from __future__ import annotations

import random
from collections.abc import Mapping, Sequence

import torch

from ervlight.labels import GOEMOTIONS

#: GoEmotions label -> (MAFW label, DFEW label, cue words).
EMOTIONS: dict[str, tuple[str | None, str | None, tuple[str, ...]]] = {
    "joy": ("happiness", "happy", ("delighted", "cheerful", "beaming", "joyful")),
    "anger": ("anger", "angry", ("furious", "enraged", "livid", "irate")),
    "sadness": ("sadness", "sad", ("tearful", "sorrowful", "downcast", "gloomy")),
    "fear": ("fear", "fear", ("terrified", "frightened", "panicked", "scared")),
    "surprise": ("surprise", "surprise", ("astonished", "amazed", "stunned", "startled")),
    "neutral": ("neutral", "neutral", ("calm", "composed", "impassive", "expressionless")),
}
TRAIN_TEMPLATES = (
    "The man looks {w}.",
    "Her face is {w} as she talks.",
    "He sounds {w} on the phone.",
    "The woman appears {w} in the scene.",
    "His voice is {w} and steady.",
)
TEST_TEMPLATES = ("Throughout the clip the speaker seems {w}.", "One can tell the person is {w} here.")
#: Rows per split: every (emotion, word, template) combination once in train, once more in val for two templates.
TRAIN_ROWS = len(EMOTIONS) * 4 * len(TRAIN_TEMPLATES)
VAL_ROWS = len(EMOTIONS) * 4 * 1
TEST_ROWS = len(EMOTIONS) * 4 * len(TEST_TEMPLATES)


def corpus_rows() -> list[dict[str, object]]:
    """The corpus rows in the demo schema (with one-hot teacher probabilities smoothed to 0.9/0.1)."""
    rows: list[dict[str, object]] = []
    for emotion, (mafw, dfew, words) in EMOTIONS.items():
        for word in words:
            splits = [("train", t) for t in TRAIN_TEMPLATES] + [
                ("val", TRAIN_TEMPLATES[1].replace("talks", "waits"))
            ]
            splits += [("test", t) for t in TEST_TEMPLATES]
            for split, template in splits:
                rows.append(
                    {
                        "id": f"{emotion}-{word}-{len(rows)}",
                        "text": template.format(w=word),
                        "split": split,
                        "goemotions": [emotion],
                        "mafw": mafw,
                        "dfew": dfew,
                        "template": template,
                        "probs": {emotion: 0.9, "neutral": 0.1} if emotion != "neutral" else {"neutral": 0.9},
                    }
                )
    random.Random(0).shuffle(rows)
    return rows


class StubVerifier:
    """A sentence verifier with fixed probabilities: ``table[sentence] = {label: p}``, others 0.01 (neutral 0.9)."""

    def __init__(
        self, table: Mapping[str, Mapping[str, float]], labels: Sequence[str] = GOEMOTIONS.labels
    ) -> None:
        self.labels = tuple(labels)
        self.table = table
        self.calls: list[list[str]] = []

    def probabilities(self, sentences: Sequence[str]) -> torch.Tensor:
        """``[N, K]`` table rows."""
        self.calls.append(list(sentences))
        out = torch.full((len(sentences), len(self.labels)), 0.01)
        for row, sentence in enumerate(sentences):
            given = self.table.get(sentence, {"neutral": 0.9} if "neutral" in self.labels else {})
            for label, p in given.items():
                out[row, self.labels.index(label)] = p
        return out
