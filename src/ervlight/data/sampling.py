"""Which frames of a clip to read: ``N`` indices, uniform over ``N`` equal segments (TSN-style).

* ``middle`` (evaluation default) — the middle frame of each segment: ``floor((i + 0.5) * n / N)``;
* ``random`` (training default) — a uniformly random frame inside each segment;
* ``start`` — the first frame of each segment (``floor(i * n / N)``).

A clip with fewer than ``N`` frames gives all its frames, then repeats the last index (padding, marked ``False``
in the mask) — DFER-CLIP's rule.
"""

from __future__ import annotations

import math
from typing import Literal

import torch

__all__ = ["SamplingMode", "sample_frame_indices"]

SamplingMode = Literal["middle", "random", "start"]


def sample_frame_indices(
    num_clip_frames: int,
    num_samples: int,
    mode: SamplingMode = "middle",
    generator: torch.Generator | None = None,
) -> tuple[list[int], list[bool]]:
    """``num_samples`` frame indices in ``[0, num_clip_frames)`` (non-decreasing) and the real-frame mask.

    ``generator`` drives ``random`` mode (default: torch's global generator, seeded per worker by the DataLoader).
    """
    if num_clip_frames < 1:
        raise ValueError(f"a clip needs at least one frame, got {num_clip_frames}")
    if num_samples < 1:
        raise ValueError(f"num_samples must be >= 1, got {num_samples}")
    if num_clip_frames < num_samples:
        indices = list(range(num_clip_frames))
        padding = num_samples - num_clip_frames
        return indices + [num_clip_frames - 1] * padding, [True] * num_clip_frames + [False] * padding
    step = num_clip_frames / num_samples
    if mode == "middle":
        indices = [math.floor((i + 0.5) * step) for i in range(num_samples)]
    elif mode == "start":
        indices = [math.floor(i * step) for i in range(num_samples)]
    elif mode == "random":
        offsets = torch.rand(num_samples, generator=generator, dtype=torch.float64).tolist()
        indices = [
            min(math.floor((i + u) * step), math.ceil((i + 1) * step) - 1) for i, u in enumerate(offsets)
        ]
    else:
        raise ValueError(f"unknown sampling mode {mode!r}; expected 'middle', 'random' or 'start'")
    return indices, [True] * num_samples
