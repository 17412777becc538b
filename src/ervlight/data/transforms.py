"""Preprocessing: frames with torchvision transforms v2, audio to Whisper-style log-mel features with torchaudio.

:class:`MediaPreprocessor` is the hook: the DataModule takes any subclass (a YAML ``class_path``), so a HF
policy's own image/audio processor can take over later. :class:`DefaultPreprocessor` is identical for training
and evaluation unless ``augment=True`` (then training adds a random crop position and a horizontal flip).

Frames are converted to the resize step's size while they are decoded (:meth:`MediaPreprocessor.decode_size`),
so the resize below is usually a no-op; it still runs when a backend returns full-size frames.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from typing import Literal

import torch
import torchaudio
from torchvision.transforms import v2

__all__ = ["DefaultPreprocessor", "MediaPreprocessor", "ResizeMode", "WhisperLogMel"]

ResizeMode = Literal["pad", "crop", "stretch"]


class MediaPreprocessor(ABC):
    """Turns decoded frames and audio into model inputs."""

    @abstractmethod
    def decode_size(self, height: int, width: int) -> tuple[int, int]:
        """The ``(height, width)`` a ``height x width`` frame should be decoded to."""

    @abstractmethod
    def frames(self, frames: torch.Tensor, train: bool = False) -> torch.Tensor:
        """``uint8 [T, H, W, 3]`` -> ``float [T, 3, H', W']``."""

    @abstractmethod
    def audio_features(self, audio: torch.Tensor) -> torch.Tensor | None:
        """``float [S]`` -> ``float [M, F]`` features, or ``None`` when features are switched off."""


class WhisperLogMel(torch.nn.Module):
    """Whisper's log-mel front end: 25 ms Hann window, 10 ms hop, Slaney mel, log10, 8 dB range, scaled.

    ``[S]`` at 16 kHz -> ``[n_mels, S // hop_length]`` (as Whisper, the last STFT frame is dropped; no 30 s padding:
    batches are padded and masked instead).
    """

    def __init__(
        self, sample_rate: int = 16000, n_mels: int = 128, n_fft: int = 400, hop_length: int = 160
    ) -> None:
        super().__init__()
        self.n_fft, self.hop_length, self.n_mels = n_fft, hop_length, n_mels
        self.mel = torchaudio.transforms.MelSpectrogram(
            sample_rate=sample_rate,
            n_fft=n_fft,
            hop_length=hop_length,
            n_mels=n_mels,
            power=2.0,
            norm="slaney",
            mel_scale="slaney",
        )

    def forward(self, audio: torch.Tensor) -> torch.Tensor:
        """``float [S]`` -> ``float [n_mels, S // hop_length]``."""
        frames = audio.shape[-1] // self.hop_length
        if frames == 0:
            return audio.new_zeros(self.n_mels, 0)
        if audio.shape[-1] <= self.n_fft // 2:  # reflect padding needs more samples than the half window
            audio = torch.nn.functional.pad(audio, (0, self.n_fft // 2 + 1 - audio.shape[-1]))
        power = self.mel(audio)[..., :frames]  # [M, F]
        log = torch.clamp(power, min=1e-10).log10()
        log = torch.maximum(log, log.max() - 8.0)
        return (log + 4.0) / 4.0


class DefaultPreprocessor(MediaPreprocessor):
    """Resize (pad-to-square, crop or stretch) and normalise frames; Whisper-style log-mel audio features.

    Args:
        image_size: output frames are ``image_size x image_size``.
        resize_mode: ``pad`` (fit the long side, pad to a square with the mean colour; default, keeps the whole
            picture), ``crop`` (fit the short side, centre crop) or ``stretch``.
        mean: per-channel mean for normalisation (SigLIP's 0.5 by default).
        std: per-channel standard deviation.
        audio_features: compute log-mel features (``False``: only the waveform is kept).
        n_mels: mel bins (Whisper large-v3: 128).
        n_fft: STFT window in samples (400 = 25 ms at 16 kHz).
        hop_length: STFT hop in samples (160 = 10 ms).
        sample_rate: audio rate in Hz.
        augment: training-only augmentation (random crop position, horizontal flip); off by default.
    """

    def __init__(
        self,
        image_size: int = 224,
        resize_mode: ResizeMode = "pad",
        mean: tuple[float, float, float] = (0.5, 0.5, 0.5),
        std: tuple[float, float, float] = (0.5, 0.5, 0.5),
        audio_features: bool = True,
        n_mels: int = 128,
        n_fft: int = 400,
        hop_length: int = 160,
        sample_rate: int = 16000,
        augment: bool = False,
    ) -> None:
        if resize_mode not in ("pad", "crop", "stretch"):
            raise ValueError(f"resize_mode must be 'pad', 'crop' or 'stretch', got {resize_mode!r}")
        self.image_size, self.resize_mode, self.augment = image_size, resize_mode, augment
        self.mean, self.std = tuple(mean), tuple(std)
        self.mel = WhisperLogMel(sample_rate, n_mels, n_fft, hop_length) if audio_features else None
        fill = [round(m * 255) for m in self.mean]
        self._normalize = v2.Compose(
            [v2.ToDtype(torch.float32, scale=True), v2.Normalize(self.mean, self.std)]
        )
        self._pad = _PadToSquare(fill)
        self._train_geometry = v2.Compose([v2.RandomCrop(image_size), v2.RandomHorizontalFlip()])

    def decode_size(self, height: int, width: int) -> tuple[int, int]:
        """Size after the resize step: long side (pad), short side (crop) or both (stretch) = ``image_size``."""
        if self.resize_mode == "stretch":
            return self.image_size, self.image_size
        side = max(height, width) if self.resize_mode == "pad" else min(height, width)
        scale = self.image_size / side
        return max(1, round(height * scale)), max(1, round(width * scale))

    def frames(self, frames: torch.Tensor, train: bool = False) -> torch.Tensor:
        """``uint8 [T, H, W, 3]`` -> normalised ``float [T, 3, image_size, image_size]``."""
        video = frames.permute(0, 3, 1, 2)  # [T, 3, H, W]
        size = self.decode_size(video.shape[-2], video.shape[-1])
        if tuple(video.shape[-2:]) != size:
            video = v2.functional.resize(video, list(size), antialias=True)
        if self.resize_mode == "pad":
            video = self._pad(video)
        elif self.resize_mode == "crop":
            crop = self._train_geometry if train and self.augment else v2.CenterCrop(self.image_size)
            video = crop(video)
        if train and self.augment and self.resize_mode != "crop":
            video = v2.RandomHorizontalFlip()(video)
        return self._normalize(video)  # [T, 3, S, S]

    def audio_features(self, audio: torch.Tensor) -> torch.Tensor | None:
        """``float [S]`` -> ``float [n_mels, S // hop_length]`` log-mel, or ``None`` when switched off."""
        return None if self.mel is None else self.mel(audio)


class _PadToSquare(torch.nn.Module):
    """Pad ``[..., H, W]`` to a square, centred, with a constant colour."""

    def __init__(self, fill: list[int]) -> None:
        super().__init__()
        self.fill = fill

    def forward(self, video: torch.Tensor) -> torch.Tensor:
        """``[T, 3, H, W]`` -> ``[T, 3, S, S]`` with ``S = max(H, W)``."""
        height, width = video.shape[-2:]
        side = max(height, width)
        left, top = (side - width) // 2, (side - height) // 2
        padding = [left, top, side - width - left, side - height - top]
        if not any(padding):
            return video
        return v2.functional.pad(video, padding, fill=self.fill)
