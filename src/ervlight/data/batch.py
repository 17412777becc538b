"""Typed batches: what the DataModule yields and every LightningModule consumes.

Symbols: ``B`` samples, ``T`` frames, ``C`` channels (3), ``H``/``W`` frame size, ``S`` audio samples at 16 kHz,
``M`` mel bins, ``F`` mel frames, ``K`` verifier labels. Lightning moves these dataclasses to the device field by
field (tensors move, lists stay).
"""

from __future__ import annotations

import copy
from dataclasses import dataclass, field
from typing import Literal

import torch

__all__ = ["MediaBatch", "TextBatch", "UnreadableClip", "UnreadablePolicy"]

#: what evaluation does with a listed clip that cannot be read: ``wrong`` counts it as a wrong (unparseable)
#: answer, ``readable_only`` leaves it out of the metrics (it is still counted as unreadable).
UnreadablePolicy = Literal["wrong", "readable_only"]


@dataclass
class UnreadableClip:
    """A listed evaluation clip that could not be read (missing, empty, corrupt…), kept so metrics can count it.

    Not frozen: Lightning rebuilds the dataclasses of a batch field by field when it moves it to a device.

    Attributes:
        clip_id: the clip's id.
        dataset: label-space name of its gold label.
        label: class index of the gold label (``-1`` if unknown).
        label_name: canonical gold label (``""`` if unknown).
        kind: the error's short tag (``missing``, ``empty``, ``corrupt``…).
        message: the error, naming the file.
        index: the clip's index in its dataset (the sampler's index; ``-1`` when unknown).
    """

    clip_id: str
    dataset: str
    label: int
    label_name: str
    kind: str
    message: str
    index: int = -1


@dataclass
class MediaBatch:
    """A batch of clips with their labels and optional text targets.

    Attributes:
        clip_ids: dataset clip ids (``"00025"``), one per sample.
        datasets: label-space name of each sample (``"mafw"``, ``"dfew"``…); batches may mix datasets.
        labels: ``[B]`` long, class index of the gold label in that sample's label space (``-1`` if unknown).
        label_names: canonical gold label of each sample (``""`` if unknown).
        frames: ``[B, T, C, H, W]`` float, preprocessed frames (repeat-padded when a clip has fewer than ``T``).
        frame_mask: ``[B, T]`` bool, ``True`` for frames decoded from the clip, ``False`` for repeat-padding.
        audio: ``[B, S]`` float waveform, mono 16 kHz, zero-padded to the longest clip of the batch.
        audio_mask: ``[B, S]`` bool, ``True`` for real samples.
        audio_features: ``[B, M, F]`` float log-mel features (``None`` when feature extraction is switched off).
        audio_feature_mask: ``[B, F]`` bool, ``True`` for mel frames of real audio (``None`` with the features).
        has_audio: ``[B]`` bool, ``False`` where the clip had no audio track (its audio is zeros).
        targets: reasoning targets ``<think>…</think>\\n<answer>…</answer>`` for SFT, ``None`` where absent.
        captions: dataset captions (MAFW ``with_caption``), ``None`` where absent.
        skipped: clips dropped from this batch by the skip policy, as ``(clip_id, kind, message)``
            (batches may therefore hold fewer than ``batch_size`` samples, or none).
        unreadable: evaluation only: the listed clips of this batch that could not be read, with their labels.
        unreadable_policy: how evaluation counts :attr:`unreadable` (:data:`UnreadablePolicy`).
    """

    clip_ids: list[str]
    datasets: list[str]
    labels: torch.Tensor
    label_names: list[str]
    frames: torch.Tensor
    frame_mask: torch.Tensor
    audio: torch.Tensor
    audio_mask: torch.Tensor
    has_audio: torch.Tensor
    audio_features: torch.Tensor | None = None
    audio_feature_mask: torch.Tensor | None = None
    targets: list[str | None] = field(default_factory=list)
    captions: list[str | None] = field(default_factory=list)
    skipped: list[tuple[str, str, str]] = field(default_factory=list)
    unreadable: list[UnreadableClip] = field(default_factory=list)
    unreadable_policy: UnreadablePolicy = "wrong"

    def __len__(self) -> int:
        return len(self.clip_ids)

    def pin_memory(self) -> MediaBatch:
        """A copy with every tensor in page-locked memory (called by ``DataLoader(pin_memory=True)``)."""
        pinned = copy.copy(self)
        for name, value in self.__dict__.items():
            if isinstance(value, torch.Tensor):
                setattr(pinned, name, value.pin_memory())
        return pinned


@dataclass
class TextBatch:
    """A batch of rationale sentences (or paragraphs) for the verifier.

    Attributes:
        texts: the ``B`` input texts.
        label_space: name of the label space the targets live in (``"goemotions"`` by default).
        targets: ``[B, K]`` float, multi-hot hard labels or teacher probabilities (multi-label spaces), or ``[B]``
            long class indices (single-label spaces).
        sources: where each text came from (a file and line, for error messages and reports).
    """

    texts: list[str]
    label_space: str
    targets: torch.Tensor
    sources: list[str] = field(default_factory=list)

    def __len__(self) -> int:
        return len(self.texts)
