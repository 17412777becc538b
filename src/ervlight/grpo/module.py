"""Moved: ``GRPOModule`` is :class:`ervlight.tasks.grpo.GRPOModule` (this path keeps working for old configs)."""

from ervlight.tasks.grpo import GRPOModule

__all__ = ["GRPOModule"]
