"""Small media towers for ``TinyOmni``: a frame encoder, a log-mel audio encoder and the log-mel front end.

Symbols: ``B`` clips, ``T`` frames, ``C`` channels, ``H``/``W`` frame size, ``S`` audio samples, ``M`` mel bins,
``F`` mel frames, ``A`` audio tokens, ``D`` language-model hidden size.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F  # noqa: N812
import torchaudio
from torch import nn

__all__ = ["AudioEncoder", "FrameEncoder", "LogMel"]


class FrameEncoder(nn.Module):
    """A small CNN: each frame -> one token ``[B, T, D]`` (plus a learned frame-index embedding).

    Args:
        hidden_size: output width ``D`` (the language model's hidden size).
        channels: width of the first conv layer (the second doubles it).
        image_size: frames are resized to this square size first (``0`` keeps the input size).
        max_frames: largest ``T`` (size of the frame-index embedding).
        motion: encode each frame's difference from the clip's first frame instead of the frame itself: the
            expression's movement without the face's identity, which a tower trained from scratch on a few hundred
            clips otherwise memorises (the first frame becomes all zero; its token carries the index embedding).
    """

    def __init__(
        self,
        hidden_size: int,
        channels: int = 32,
        image_size: int = 64,
        max_frames: int = 32,
        motion: bool = False,
    ) -> None:
        super().__init__()
        self.image_size = image_size
        self.max_frames = max_frames
        self.motion = motion
        self.convs = nn.Sequential(
            nn.Conv2d(3, channels, kernel_size=5, stride=4, padding=2),
            nn.GELU(),
            nn.Conv2d(channels, 2 * channels, kernel_size=3, stride=2, padding=1),
            nn.GELU(),
            nn.AdaptiveAvgPool2d(2),
        )
        self.project = nn.Linear(8 * channels, hidden_size)
        self.frame_index = nn.Embedding(max_frames, hidden_size)

    def forward(self, frames: torch.Tensor) -> torch.Tensor:
        """``[B, T, C, H, W]`` frames -> ``[B, T, D]`` tokens."""
        batch, num_frames = frames.shape[:2]
        if num_frames > self.max_frames:
            raise ValueError(
                f"got {num_frames} frames per clip, the frame encoder was built for {self.max_frames}"
            )
        if self.motion:
            frames = frames - frames[:, :1]  # [B, T, C, H, W] change since the first frame
        flat = frames.flatten(0, 1)  # [B*T, C, H, W]
        if self.image_size and flat.shape[-1] != self.image_size:
            flat = F.interpolate(
                flat, size=(self.image_size, self.image_size), mode="bilinear", align_corners=False
            )
        features = self.convs(flat).flatten(1)  # [B*T, 8c]
        tokens = self.project(features).view(batch, num_frames, -1)  # [B, T, D]
        return tokens + self.frame_index.weight[:num_frames]


class LogMel(nn.Module):
    """Whisper-style log-mel features of 16 kHz audio: ``[B, S]`` -> ``[B, M, F]`` (25 ms window, 10 ms hop)."""

    def __init__(self, n_mels: int = 128, sample_rate: int = 16000) -> None:
        super().__init__()
        self.mel = torchaudio.transforms.MelSpectrogram(
            sample_rate=sample_rate,
            n_fft=400,
            hop_length=160,
            n_mels=n_mels,
            norm="slaney",
            mel_scale="slaney",
        )

    def forward(self, audio: torch.Tensor) -> torch.Tensor:
        """Log-mel ``[B, M, F]`` (log10, clamped to 8 decades below the max, scaled like Whisper)."""
        mel = self.mel(audio.float()).clamp(min=1e-10).log10()  # [B, M, F]
        mel = torch.maximum(mel, mel.amax(dim=(-2, -1), keepdim=True) - 8.0)
        return (mel + 4.0) / 4.0


class AudioEncoder(nn.Module):
    """1-D convolutions over log-mel frames with statistics pooling (mean and std over time, x-vector style),
    projected to ``A`` tokens ``[B, A, D]``: prosody (pitch level and range, loudness, rate) lives in these
    statistics rather than at particular times.

    Args:
        hidden_size: output width ``D``.
        n_mels: mel bins ``M`` of the input features.
        channels: conv width.
        num_tokens: ``A``, tokens per clip.
    """

    def __init__(self, hidden_size: int, n_mels: int = 128, channels: int = 64, num_tokens: int = 4) -> None:
        super().__init__()
        self.n_mels = n_mels
        self.num_tokens = num_tokens
        self.convs = nn.Sequential(
            nn.Conv1d(n_mels, channels, kernel_size=3, stride=2, padding=1),
            nn.GELU(),
            nn.Conv1d(channels, channels, kernel_size=3, stride=2, padding=1),
            nn.GELU(),
        )
        self.normalize = nn.BatchNorm1d(2 * channels)  # clip statistics standardised across clips
        self.project = nn.Linear(2 * channels, num_tokens * hidden_size)

    def forward(self, features: torch.Tensor, feature_mask: torch.Tensor | None = None) -> torch.Tensor:
        """``[B, M, F]`` log-mel (and ``[B, F]`` mask of real frames) -> ``[B, A, D]`` tokens."""
        if features.shape[1] != self.n_mels:
            raise ValueError(
                f"audio features have {features.shape[1]} mel bins, the encoder expects {self.n_mels}"
            )
        hidden = self.convs(features)  # [B, c, F']
        weights = torch.ones_like(hidden[:, :1])  # [B, 1, F']
        if feature_mask is not None:
            weights = F.interpolate(feature_mask[:, None].float(), size=hidden.shape[-1], mode="nearest")
        count = weights.sum(-1).clamp(min=1.0)  # [B, 1]
        mean = (hidden * weights).sum(-1) / count  # [B, c]
        std = (
            (((hidden - mean.unsqueeze(-1)) ** 2 * weights).sum(-1) / count).clamp(min=1e-6).sqrt()
        )  # [B, c]
        stats = torch.cat([mean, std], dim=-1)  # [B, 2c]
        if self.training and stats.shape[0] == 1:  # one clip: standardise with the running statistics
            norm = self.normalize
            stats = F.batch_norm(
                stats, norm.running_mean, norm.running_var, norm.weight, norm.bias, False, 0.0, norm.eps
            )
        else:
            stats = self.normalize(stats)
        tokens = self.project(stats)  # [B, A*D]
        return tokens.view(hidden.shape[0], self.num_tokens, -1)  # [B, A, D]
