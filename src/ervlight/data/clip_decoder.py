"""One decoding interface for every record: N sampled frames plus the audio track, with documented policies.

:class:`ClipDecoder` turns a :class:`~ervlight.data.records.ClipRecord` into a :class:`DecodedClip`:

* frames — ``num_frames`` indices sampled uniformly (:mod:`ervlight.data.sampling`), read from the mp4 by a media
  backend (PyAV by default, torchcodec optional) or from a frame folder (images in natural order);
* short clips — a clip with fewer frames than asked gives all its frames and repeats the last one (``frame_mask``
  is ``False`` on the repeats); ``short_clip_policy="error"`` raises :class:`TooFewFramesError` instead;
* audio — mono float at ``sample_rate`` (16 kHz) from the mp4 (or the record's WAV), the whole clip
  (``audio_span="clip"``, default) or only the span of the sampled frames (``"frames"``);
* no audio stream — ``audio_policy="zeros"`` (default): zeros as long as the clip, ``has_audio=False``;
  ``"skip"`` / ``"error"``: :class:`NoAudioStreamError` (the dataset then skips the clip or fails).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import numpy as np
import torch
from PIL import Image, UnidentifiedImageError

from ervlight.data.backends import MediaBackend, Picker, RawClip, Sizer, get_backend
from ervlight.data.errors import (
    CorruptMediaError,
    EmptyMediaError,
    MissingMediaError,
    NoAudioStreamError,
    TooFewFramesError,
)
from ervlight.data.files import list_images
from ervlight.data.records import ClipRecord
from ervlight.data.sampling import SamplingMode, sample_frame_indices

__all__ = ["AudioPolicy", "AudioSpan", "ClipDecoder", "DecodedClip", "ShortClipPolicy"]

AudioPolicy = Literal["zeros", "skip", "error"]
AudioSpan = Literal["clip", "frames"]
ShortClipPolicy = Literal["repeat", "error"]


@dataclass
class DecodedClip:
    """A decoded clip, before preprocessing.

    Attributes:
        frames: ``uint8 [T, H, W, 3]`` RGB frames (``T`` = the decoder's ``num_frames``).
        frame_mask: ``bool [T]``, ``False`` on repeat-padding.
        frame_indices: the clip frame index of each of the ``T`` frames.
        audio: ``float32 [S]`` mono waveform at the decoder's sample rate (zeros without an audio track).
        has_audio: whether ``audio`` comes from a real audio track.
        num_clip_frames: frames in the clip.
        fps: the clip's frame rate (``frames_fps`` for frame folders).
        duration: the clip's duration in seconds.
    """

    frames: torch.Tensor
    frame_mask: torch.Tensor
    frame_indices: list[int]
    audio: torch.Tensor
    has_audio: bool
    num_clip_frames: int
    fps: float
    duration: float


class ClipDecoder:
    """Decode records into sampled frames and audio.

    Args:
        num_frames: frames per clip ``T`` (reference: 8).
        backend: ``pyav`` (default) or ``torchcodec`` (optional, when installed).
        threads: decoder threads per file (1 suits DataLoader workers).
        sample_rate: audio rate in Hz (16 kHz, as Whisper-style encoders expect).
        audio: read the audio at all (``False``: empty audio, ``has_audio=False``).
        audio_policy: what a clip without an audio track gives: ``zeros`` (default), ``skip`` or ``error``.
        audio_span: ``clip`` (the whole track) or ``frames`` (from the first to the end of the last sampled frame).
        short_clip_policy: ``repeat`` (pad by repeating the last frame, default) or ``error``.
        frames_fps: frame rate assumed for frame folders (their timing is not stored).
    """

    def __init__(
        self,
        num_frames: int = 8,
        backend: str = "pyav",
        threads: int = 1,
        sample_rate: int = 16000,
        audio: bool = True,
        audio_policy: AudioPolicy = "zeros",
        audio_span: AudioSpan = "clip",
        short_clip_policy: ShortClipPolicy = "repeat",
        frames_fps: float = 25.0,
    ) -> None:
        if num_frames < 1:
            raise ValueError(f"num_frames must be >= 1, got {num_frames}")
        self.num_frames = num_frames
        self.backend: MediaBackend = get_backend(backend, threads)
        self.sample_rate = sample_rate
        self.audio = audio
        self.audio_policy = audio_policy
        self.audio_span = audio_span
        self.short_clip_policy = short_clip_policy
        self.frames_fps = frames_fps

    def _picker(self, mode: SamplingMode, generator: torch.Generator | None, path: Path) -> Picker:
        """The index chooser handed to the backend (applies the short-clip policy)."""

        def pick(count: int) -> list[int]:
            if count < self.num_frames and self.short_clip_policy == "error":
                raise TooFewFramesError(
                    path, f"{count} frames, {self.num_frames} asked (short_clip_policy='error')"
                )
            return sample_frame_indices(count, self.num_frames, mode, generator)[0]

        return pick

    def decode(
        self,
        record: ClipRecord,
        mode: SamplingMode = "middle",
        generator: torch.Generator | None = None,
        size: Sizer = None,
    ) -> DecodedClip:
        """Decode one record; ``size(h, w)`` gives the size frames are converted to while decoding."""
        media = record.media
        if media is None:
            raise MissingMediaError(
                record.source or record.clip_id, "the record names no video file or frame folder"
            )
        pick = self._picker(mode, generator, media)
        same_file = record.video is not None and record.audio == record.video
        audio_rate = self.sample_rate if self.audio and same_file else None
        if record.video is not None:
            raw = self.backend.read(record.video, pick, size, audio_rate)
        else:
            raw = self._read_folder(media, pick, size)
        if self.audio and not same_file and record.audio is not None:
            raw.audio = self.backend.read_audio(record.audio, self.sample_rate)
        return self._finish(raw, record)

    def _read_folder(self, folder: Path, pick: Picker, size: Sizer) -> RawClip:
        """Read picked images of a frame folder (natural order by the trailing number of the name)."""
        if not folder.is_dir():
            raise MissingMediaError(folder, "frame folder not found")
        images = list_images(folder)
        if not images:
            raise EmptyMediaError(folder, "frame folder holds no image (.jpg/.png/…)")
        indices = [int(i) for i in pick(len(images))]
        frames = {i: _load_image(images[i], size) for i in sorted(set(indices))}
        stacked = np.stack([frames[i] for i in indices])
        return RawClip(stacked, indices, len(images), self.frames_fps, len(images) / self.frames_fps)

    def _finish(self, raw: RawClip, record: ClipRecord) -> DecodedClip:
        """Apply the audio policy and span, and build the mask of real frames."""
        real = min(raw.num_frames, self.num_frames)
        mask = torch.tensor([True] * real + [False] * (self.num_frames - real))
        audio, has_audio = raw.audio, raw.audio is not None and raw.audio.size > 0
        if self.audio and not has_audio:
            where = record.audio or record.media or record.clip_id
            if self.audio_policy != "zeros":
                raise NoAudioStreamError(where, f"no audio track (audio_policy={self.audio_policy!r})")
        if not self.audio:
            audio = np.zeros(0, np.float32)
        elif not has_audio or audio is None:
            audio = np.zeros(round(raw.duration * self.sample_rate), np.float32)
        elif self.audio_span == "frames":
            audio = self._frame_span(audio, raw, real)
        return DecodedClip(
            frames=torch.from_numpy(np.ascontiguousarray(raw.frames)),
            frame_mask=mask,
            frame_indices=raw.indices,
            audio=torch.from_numpy(np.ascontiguousarray(audio, dtype=np.float32)),
            has_audio=bool(has_audio and self.audio),
            num_clip_frames=raw.num_frames,
            fps=raw.fps,
            duration=raw.duration,
        )

    def _frame_span(self, audio: np.ndarray, raw: RawClip, real: int) -> np.ndarray:
        """The audio from the start of the first sampled frame to the end of the last real one."""
        start = raw.indices[0] / raw.fps - raw.audio_offset
        end = (raw.indices[real - 1] + 1) / raw.fps - raw.audio_offset
        first = max(0, math.floor(start * self.sample_rate))
        return audio[first : max(first, math.ceil(end * self.sample_rate))]


def _load_image(path: Path, size: Sizer) -> np.ndarray:
    """One frame image as ``uint8 [H, W, 3]`` RGB, resized to ``size(h, w)`` (area-style PIL reduction)."""
    try:
        with Image.open(path) as image:
            rgb = image.convert("RGB")
            if size is not None:
                height, width = size(rgb.height, rgb.width)
                if (height, width) != (rgb.height, rgb.width):
                    rgb = rgb.resize((width, height), Image.Resampling.BILINEAR, reducing_gap=None)
            return np.asarray(rgb)
    except (UnidentifiedImageError, OSError) as error:
        raise CorruptMediaError(path, f"frame image cannot be read ({error})") from None
