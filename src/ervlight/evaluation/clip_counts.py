"""How many listed evaluation clips were evaluated and how many could not be read, as a torchmetrics ``Metric``.

Validation and test log these next to WAR/UAR (``test/<dataset>/listed``, ``…/evaluated``, ``…/unreadable``) so a
metric never changes its denominator silently: unreadable clips count as wrong answers unless the data module's
``unreadable_policy`` is ``readable_only``, and either way the logs say how many there were.
"""

from __future__ import annotations

import torch
from torchmetrics import Metric

__all__ = ["ClipCounts"]


class ClipCounts(Metric):
    """Counts of listed, evaluated and unreadable clips (summed across processes)."""

    full_state_update = False
    higher_is_better = None

    evaluated: torch.Tensor
    unreadable: torch.Tensor

    def __init__(self) -> None:
        super().__init__()
        self.add_state("evaluated", torch.zeros((), dtype=torch.long), dist_reduce_fx="sum")
        self.add_state("unreadable", torch.zeros((), dtype=torch.long), dist_reduce_fx="sum")

    def update(self, evaluated: int, unreadable: int) -> None:
        """Add a batch's generated clips and unreadable clips."""
        self.evaluated += evaluated
        self.unreadable += unreadable

    def compute(self) -> dict[str, torch.Tensor]:
        """``listed`` (= evaluated + unreadable), ``evaluated`` and ``unreadable``."""
        return {
            "listed": self.evaluated + self.unreadable,
            "evaluated": self.evaluated.clone(),
            "unreadable": self.unreadable.clone(),
        }
