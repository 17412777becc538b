"""The one mp4 writer of ervlight: numpy frames (and optional audio) -> H.264 + AAC mp4, with PyAV.

Test fixtures, the demo corpus and the decode benchmark all write their clips with :func:`write_mp4`. It is
deterministic: the same inputs give the same file bytes on the same PyAV build, hence the same decoded frames
and audio (x264 and FFmpeg's AAC encoder are deterministic; the encoder thread count is fixed so that
rate-control decisions do not depend on the machine).

Layout written: one H.264 video stream (``yuv420p``, constant frame rate, a keyframe every
``keyframe_interval_s`` seconds so that readers can seek) and, when audio is given, one AAC-LC stream (mono or
stereo, at the given sample rate), interleaved with the video. Without audio the file has no audio track at
all, as the MAFW clips that yield no audio.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path

import av
import numpy as np

__all__ = ["AAC_SAMPLE_RATES", "write_mp4"]

#: Sample rates the AAC encoder accepts.
AAC_SAMPLE_RATES: tuple[int, ...] = (
    8000,
    11025,
    12000,
    16000,
    22050,
    24000,
    32000,
    44100,
    48000,
    64000,
    88200,
    96000,
)
_LAYOUTS = {1: "mono", 2: "stereo"}


def _check_frames(frames: np.ndarray) -> None:
    """Raise ``ValueError`` unless ``frames`` is ``uint8 [T, H, W, 3]`` with even ``H`` and ``W``."""
    if not isinstance(frames, np.ndarray) or frames.dtype != np.uint8:
        raise ValueError(
            f"frames must be a uint8 numpy array, got {type(frames).__name__} {getattr(frames, 'dtype', '')}"
        )
    if frames.ndim != 4 or frames.shape[-1] != 3 or frames.shape[0] < 1:
        raise ValueError(f"frames must have shape [T>=1, H, W, 3] (RGB), got {list(frames.shape)}")
    height, width = frames.shape[1:3]
    if height % 2 or width % 2 or height < 2 or width < 2:
        raise ValueError(f"H.264 yuv420p needs an even frame size, got {width}x{height} (W x H)")


def _check_audio(audio: np.ndarray, sample_rate: int) -> np.ndarray:
    """Return audio as float32 ``[C, S]`` in [-1, 1]; ``ValueError`` on a bad shape, rate or NaN/inf."""
    if sample_rate not in AAC_SAMPLE_RATES:
        raise ValueError(f"AAC cannot encode at {sample_rate} Hz; use one of {AAC_SAMPLE_RATES}")
    array = np.asarray(audio, dtype=np.float32)
    if array.ndim == 1:
        array = array[None, :]
    if array.ndim != 2 or array.shape[0] not in _LAYOUTS or array.shape[1] < 1:
        raise ValueError(f"audio must be [S] (mono) or [C, S] with C in (1, 2), got {list(np.shape(audio))}")
    if not np.isfinite(array).all():
        raise ValueError("audio contains NaN or infinite samples")
    return np.ascontiguousarray(np.clip(array, -1.0, 1.0))


def write_mp4(
    path: str | os.PathLike[str],
    frames: np.ndarray,
    fps: float | Fraction,
    audio: np.ndarray | None = None,
    sample_rate: int = 16000,
    *,
    crf: int = 20,
    preset: str = "veryfast",
    keyframe_interval_s: float = 1.0,
    audio_bitrate: int = 96000,
    threads: int = 1,
    faststart: bool = False,
) -> Path:
    """Write ``frames`` (and ``audio``, if given) to an H.264 + AAC mp4 at ``path``; returns the path.

    Args:
        path: output file; parent folders are created; written to a temporary name first, then renamed, so a
            crash never leaves a half-written clip behind.
        frames: ``uint8 [T, H, W, 3]`` RGB frames; ``H`` and ``W`` must be even (yuv420p).
        fps: frame rate (``25``, ``Fraction(30000, 1001)``); frame ``t`` starts at ``t / fps`` seconds.
        audio: optional float waveform in [-1, 1], ``[S]`` (mono) or ``[C, S]`` with ``C`` = 1 or 2; values
            outside the range are clipped. ``None`` writes a clip WITHOUT an audio track.
        sample_rate: sample rate of ``audio`` in Hz (an AAC rate, e.g. 16000, 44100, 48000).
        crf: x264 constant rate factor (lower = better quality, bigger file; 20 is visually near-lossless).
        preset: x264 speed preset (``ultrafast`` … ``veryslow``).
        keyframe_interval_s: seconds between keyframes (the GOP length), so that readers can seek.
        audio_bitrate: AAC bit rate in bit/s.
        threads: encoder threads; fixed (not "auto") so that the output does not depend on the machine.
        faststart: put the mp4 index (``moov``) before the media data (web layout; a second pass over the file).
    """
    _check_frames(frames)
    rate = Fraction(fps).limit_denominator(1001)
    if rate <= 0:
        raise ValueError(f"fps must be positive, got {fps}")
    samples = None if audio is None else _check_audio(audio, sample_rate)
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    partial = target.with_name(f".{target.name}.partial")
    try:
        settings = _Settings(crf, preset, keyframe_interval_s, audio_bitrate, threads, faststart)
        _encode(partial, frames, rate, samples, sample_rate, settings)
        os.replace(partial, target)
    finally:
        partial.unlink(missing_ok=True)
    return target


@dataclass(frozen=True)
class _Settings:
    """Encoder settings of :func:`write_mp4`."""

    crf: int
    preset: str
    keyframe_interval_s: float
    audio_bitrate: int
    threads: int
    faststart: bool


def _encode(
    path: Path,
    frames: np.ndarray,
    rate: Fraction,
    audio: np.ndarray | None,
    sample_rate: int,
    settings: _Settings,
) -> None:
    """Mux the video stream and the optional audio stream into ``path`` (mp4 container)."""
    height, width = frames.shape[1:3]
    options = {"movflags": "faststart"} if settings.faststart else {}
    with av.open(str(path), mode="w", format="mp4", options=options) as container:
        video = container.add_stream("libx264", rate=rate)
        video.width, video.height, video.pix_fmt = width, height, "yuv420p"
        video.codec_context.time_base = 1 / rate
        video.codec_context.gop_size = max(1, round(float(rate) * settings.keyframe_interval_s))
        video.codec_context.thread_count = settings.threads
        video.options = {"crf": str(settings.crf), "preset": settings.preset}
        sound = None
        if audio is not None:
            sound = container.add_stream("aac", rate=sample_rate, layout=_LAYOUTS[audio.shape[0]])
            sound.bit_rate = settings.audio_bitrate
        layout = None if audio is None else _LAYOUTS[audio.shape[0]]
        sent = 0  # audio samples sent so far; audio is fed in step with the video so the file is interleaved
        for t, image in enumerate(frames):
            frame = av.VideoFrame.from_ndarray(image, format="rgb24")
            frame.pts, frame.time_base = t, 1 / rate
            container.mux(video.encode(frame))
            if sound is not None and audio is not None:
                until = (
                    audio.shape[1]
                    if t == len(frames) - 1
                    else min(audio.shape[1], int((t + 1) / rate * sample_rate))
                )
                if until > sent:
                    container.mux(sound.encode(_audio_frame(audio[:, sent:until], layout, sample_rate, sent)))
                    sent = until
        container.mux(video.encode(None))
        if sound is not None:
            container.mux(sound.encode(None))


def _audio_frame(chunk: np.ndarray, layout: str | None, sample_rate: int, pts: int) -> av.AudioFrame:
    """An ``fltp`` audio frame of ``chunk`` (``[C, n]``) starting at sample ``pts``."""
    frame = av.AudioFrame.from_ndarray(np.ascontiguousarray(chunk), format="fltp", layout=layout or "mono")
    frame.sample_rate, frame.pts, frame.time_base = sample_rate, pts, Fraction(1, sample_rate)
    return frame
