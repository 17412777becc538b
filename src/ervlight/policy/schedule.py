"""Moved: ``WarmupCosineLR`` is :class:`ervlight.tasks.schedules.WarmupCosineLR` (this path keeps working)."""

from ervlight.tasks.schedules import WarmupCosineLR

__all__ = ["WarmupCosineLR"]
