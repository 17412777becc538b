"""Synthetic MediaBatches for the policy tests: the frame colour and the audio pitch tell the emotion."""

from __future__ import annotations

import math

import torch

from ervlight.data.batch import MediaBatch
from ervlight.labels import get_label_space
from ervlight.parsing import format_target

RATIONALE = {"happy": "The person smiles.", "sad": "The person cries.", "angry": "The person shouts."}


def synthetic_batch(
    labels: list[str], frames: int = 4, size: int = 32, seconds: float = 0.5, seed: int = 0
) -> MediaBatch:
    """A DFEW-labelled batch whose media encode the label (colour, tone), with R1-format targets."""
    space = get_label_space("dfew")
    generator = torch.Generator().manual_seed(seed)
    count, samples = len(labels), int(16000 * seconds)
    video = torch.rand(count, frames, 3, size, size, generator=generator) * 0.2  # [B, T, C, H, W]
    audio = torch.randn(count, samples, generator=generator) * 0.01  # [B, S]
    time = torch.arange(samples) / 16000
    for i, label in enumerate(labels):
        index = space.index(label)
        video[i, :, index % 3] += 0.8
        audio[i] += 0.3 * torch.sin(2 * math.pi * (200 + 150 * index) * time)
    return MediaBatch(
        clip_ids=[f"{i:05d}" for i in range(count)],
        datasets=["dfew"] * count,
        labels=torch.tensor([space.index(label) for label in labels]),
        label_names=list(labels),
        frames=video,
        frame_mask=torch.ones(count, frames, dtype=torch.bool),
        audio=audio,
        audio_mask=torch.ones(count, samples, dtype=torch.bool),
        has_audio=torch.ones(count, dtype=torch.bool),
        targets=[format_target(RATIONALE[label], label) for label in labels],
    )
