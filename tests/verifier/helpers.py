"""Test helpers of the verifier tests: a stub sentence verifier with fixed probabilities."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import torch

from ervlight.labels import GOEMOTIONS


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
