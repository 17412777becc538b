"""Moved: ``SFTModule`` is :class:`ervlight.tasks.sft.SFTModule` (this path keeps working for old configs)."""

from ervlight.tasks.sft import SFTModule

__all__ = ["SFTModule"]
