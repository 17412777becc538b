"""Moved: the base LightningModule is :class:`ervlight.tasks.base.BaseModule` (this path keeps working)."""

from ervlight.tasks.base import BaseModule

__all__ = ["BaseModule"]
