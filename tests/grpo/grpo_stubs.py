"""Test doubles for the GRPO tests: a keyword verifier, a user reward, prompt data (no policy double)."""

from __future__ import annotations

from collections.abc import Sequence

import torch
from lightning.pytorch import LightningDataModule
from torch.utils.data import DataLoader

from ervlight.grpo.types import PromptBatch
from ervlight.labels import get_label_space
from ervlight.rewards.base import RewardInputs

KEYWORDS = {"smiles": "joy", "laughs": "joy", "frowns": "sadness", "cries": "sadness", "shouts": "anger"}


class KeywordVerifier:
    """A sentence verifier over GoEmotions: 0.9 for the emotion of a keyword in the sentence, else neutral."""

    def __init__(self) -> None:
        self.labels = tuple(get_label_space("goemotions").labels)

    def probabilities(self, sentences: Sequence[str]) -> torch.Tensor:
        """``[N, 28]`` probabilities."""
        probs = torch.full((len(sentences), len(self.labels)), 0.01)
        for i, sentence in enumerate(sentences):
            hits = [label for word, label in KEYWORDS.items() if word in sentence.lower()]
            probs[i, self.labels.index(hits[0] if hits else "neutral")] = 0.9
        return probs


class LengthReward:
    """A user reward: 1 for completions of at most ``max_chars`` characters."""

    name = "short"

    def __init__(self, max_chars: int = 10) -> None:
        self.max_chars = max_chars

    def __call__(self, inputs: RewardInputs) -> torch.Tensor:
        """``[N]`` rewards."""
        return torch.tensor([float(len(text) <= self.max_chars) for text in inputs.completions])


PROMPTS = [
    ("Describe a smiling face.", "happy"),
    ("Describe a crying face.", "sad"),
    ("Describe a shouting face.", "angry"),
    ("Describe a calm face.", "neutral"),
]


def collate_prompts(rows: list[tuple[str, str]]) -> PromptBatch:
    """Rows ``(prompt, label)`` of DFEW -> a :class:`PromptBatch`."""
    return PromptBatch([p for p, _ in rows], [label for _, label in rows], ["dfew"] * len(rows))


class PromptData(LightningDataModule):
    """The four DFEW prompts above, in order, ``batch_size`` per batch, for training and validation."""

    def __init__(self, batch_size: int = 2, repeats: int = 1) -> None:
        super().__init__()
        self.batch_size = batch_size
        self.rows = PROMPTS * repeats

    def train_dataloader(self) -> DataLoader[PromptBatch]:
        return DataLoader(self.rows, batch_size=self.batch_size, shuffle=False, collate_fn=collate_prompts)  # type: ignore[arg-type]

    def val_dataloader(self) -> DataLoader[PromptBatch]:
        return DataLoader(self.rows, batch_size=self.batch_size, shuffle=False, collate_fn=collate_prompts)  # type: ignore[arg-type]
