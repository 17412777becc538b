"""Turn completions, gold labels and judge answers into the index tensors the metrics count."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import torch

from ervlight.labels import UNPARSEABLE, get_label_space
from ervlight.parsing import parse_completion

__all__ = ["EncodedCompletions", "encode_completions", "encode_judgements", "encode_targets"]


@dataclass(frozen=True)
class EncodedCompletions:
    """What the metrics and the judge need from ``N`` completions.

    Attributes:
        preds: ``[N]`` int64 answer indices, ``-1`` (:data:`UNPARSEABLE`) for answers outside the label set.
        well_formatted: ``[N]`` bool, the strict reference format check.
        rationales: the ``<think>`` content of each completion; ``None`` when missing or empty.
    """

    preds: torch.Tensor
    well_formatted: torch.Tensor
    rationales: list[str | None]


def encode_completions(completions: Sequence[str], dataset: str, strict: bool = True) -> EncodedCompletions:
    """Parse completions and encode their answers in the label space named ``dataset``.

    The answer is the ``<answer>`` content, else the whole completion, as the accuracy reward reads it. ``strict``
    (default, :class:`ervlight.rewards.AccuracyReward`'s default; not the reference code's rule, which is
    :mod:`ervlight.protocol`) only lower-cases and strips before the dataset's synonym table; ``False`` also ignores
    punctuation and quotes.
    """
    space = get_label_space(dataset)
    preds, formatted, rationales = [], [], []
    for text in completions:
        parsed = parse_completion(text)
        preds.append(space.encode(parsed.answer_or_text(text), strict=strict))
        formatted.append(parsed.well_formatted)
        rationales.append(parsed.think or None)
    return EncodedCompletions(
        preds=torch.tensor(preds, dtype=torch.long),  # [N]
        well_formatted=torch.tensor(formatted, dtype=torch.bool),  # [N]
        rationales=rationales,
    )


def encode_targets(labels: Sequence[str], dataset: str) -> torch.Tensor:
    """``[N]`` gold indices of gold labels (any accepted form); ``ValueError`` naming a label outside the space."""
    space = get_label_space(dataset)
    indices = [space.encode(label) for label in labels]
    bad = sorted({label for label, i in zip(labels, indices, strict=True) if i == UNPARSEABLE})
    if bad:
        raise ValueError(f"gold labels outside {space.name}: {bad} (labels: {', '.join(space.labels)})")
    return torch.tensor(indices, dtype=torch.long)


def encode_judgements(judgements: Sequence[str | None], dataset: str) -> torch.Tensor:
    """``[N]`` judged indices, ``-1`` for ``None`` (unjudged); a judge must return canonical labels or ``None``."""
    space = get_label_space(dataset)
    bad = sorted({j for j in judgements if j is not None and j not in space})
    if bad:
        raise ValueError(
            f"judge answers {bad} are not canonical {space.name} labels; a judge returns one of "
            f"{', '.join(space.labels)} or None"
        )
    return torch.tensor([UNPARSEABLE if j is None else space.index(j) for j in judgements], dtype=torch.long)
