"""Media backends: read sampled video frames and the audio track of one file (PyAV default, torchcodec optional
in :mod:`ervlight.data.torchcodec_backend`).

A backend answers one question: given a media file, a function that picks frame indices from the clip's frame
count, and an optional output size, return the picked frames (``uint8 [K, H, W, 3]``), the clip's frame count,
frame rate and duration, and the audio track as mono float at the requested rate (``None`` when the file has no
audio stream). Typed errors (:mod:`ervlight.data.errors`) name the file.

The PyAV backend demuxes the video packets once (no decoding), then decodes only the groups of pictures that hold
a picked frame, from their keyframe up to the last picked frame, and skips non-reference frames that were not
picked — seeking at packet level without re-reading the file. Picked frames are converted to RGB directly at the
output size (FFmpeg's swscale, area filter), so full-size frames are never copied to Python.
"""

from __future__ import annotations

import importlib
from abc import ABC, abstractmethod
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import av
import numpy as np

from ervlight.data.errors import (
    CorruptMediaError,
    EmptyMediaError,
    MissingMediaError,
    NoVideoStreamError,
    TooFewFramesError,
    TruncatedMediaError,
)

__all__ = [
    "BACKENDS",
    "MediaBackend",
    "PyAVBackend",
    "RawClip",
    "check_file",
    "get_backend",
]

#: Chooses frame indices from a clip's frame count.
Picker = Callable[[int], Sequence[int]]
#: Maps a frame's (height, width) to the size to convert it to, or ``None`` to keep it.
Sizer = Callable[[int, int], tuple[int, int]] | None


@dataclass
class RawClip:
    """What a backend read from one file.

    Attributes:
        frames: ``uint8 [K, H, W, 3]`` RGB frames, one per picked index (in the order picked).
        indices: the picked frame indices (``K``).
        num_frames: frames in the clip.
        fps: frames per second of the clip.
        duration: clip duration in seconds (``num_frames / fps`` when the container does not say better).
        audio: ``float32 [S]`` mono waveform at the requested rate, ``None`` when the file has no audio stream.
        audio_offset: seconds from the first video frame to the first audio sample (usually 0).
    """

    frames: np.ndarray
    indices: list[int]
    num_frames: int
    fps: float
    duration: float
    audio: np.ndarray | None = None
    audio_offset: float = 0.0


def check_file(path: Path) -> None:
    """Raise :class:`MissingMediaError` or :class:`EmptyMediaError` for a missing or zero-byte file."""
    if not path.exists():
        raise MissingMediaError(path, "file not found")
    if path.is_file() and path.stat().st_size == 0:
        raise EmptyMediaError(path, "file is empty (0 bytes)")


class MediaBackend(ABC):
    """Reads picked frames and the audio track of a media file."""

    name: str = ""

    def __init__(self, threads: int = 1) -> None:
        self.threads = threads

    @abstractmethod
    def read(self, path: Path, pick: Picker, size: Sizer = None, audio_rate: int | None = 16000) -> RawClip:
        """Read the frames ``pick(num_frames)`` (converted to ``size(h, w)``) and, with ``audio_rate``, the audio."""

    @abstractmethod
    def read_audio(self, path: Path, rate: int = 16000) -> np.ndarray | None:
        """The audio track of a file (video or audio-only) as mono ``float32 [S]``; ``None`` without one."""


def _open(path: Path) -> av.container.InputContainer:
    """Open a media file; ``CorruptMediaError`` naming the file when FFmpeg cannot."""
    check_file(path)
    try:
        return av.open(str(path), mode="r")
    except av.error.FFmpegError as error:
        raise CorruptMediaError(
            path,
            f"cannot be opened ({error.strerror}): not a media file, corrupt, or truncated before its index",
        ) from None


class _AudioSink:
    """Decodes audio packets as they are demuxed, to mono float32 at ``rate``."""

    def __init__(self, stream: av.audio.stream.AudioStream, rate: int, path: Path) -> None:
        self.stream, self.rate, self.path = stream, rate, path
        self.resampler = av.AudioResampler(format="flt", layout="mono", rate=rate)
        self.chunks: list[np.ndarray] = []

    def add(self, packet: av.Packet | None) -> None:
        """Decode one packet (``None`` flushes the decoder and the resampler)."""
        try:
            frames = self.stream.codec_context.decode(packet)
            resampled = [g for f in frames for g in self.resampler.resample(f)]
            if packet is None:
                resampled.extend(self.resampler.resample(None))
        except av.error.FFmpegError as error:
            raise CorruptMediaError(self.path, f"audio stream cannot be decoded ({error.strerror})") from None
        self.chunks.extend(f.to_ndarray().reshape(-1) for f in resampled)

    def result(self) -> np.ndarray:
        """The waveform ``[S]``, trimmed to the stream's declared duration (drops the AAC end padding)."""
        self.add(None)
        audio = (
            np.concatenate(self.chunks).astype(np.float32, copy=False)
            if self.chunks
            else np.zeros(0, np.float32)
        )
        if self.stream.duration is not None and self.stream.time_base is not None:
            audio = audio[: round(float(self.stream.duration * self.stream.time_base) * self.rate)]
        return audio


class PyAVBackend(MediaBackend):
    """The default backend (FFmpeg bundled with PyAV); ``threads`` decoder threads per file (1 in workers)."""

    name = "pyav"

    def read_audio(self, path: Path, rate: int = 16000) -> np.ndarray | None:
        """The audio track as mono ``float32 [S]`` at ``rate``; ``None`` when the file has no audio stream."""
        with _open(path) as container:
            if not container.streams.audio:
                return None
            sink = _AudioSink(container.streams.audio[0], rate, path)
            try:
                for packet in container.demux(container.streams.audio[0]):
                    if packet.size:
                        sink.add(packet)
            except av.error.FFmpegError as error:
                raise CorruptMediaError(path, f"audio stream cannot be read ({error.strerror})") from None
            return sink.result()

    def read(self, path: Path, pick: Picker, size: Sizer = None, audio_rate: int | None = 16000) -> RawClip:
        """Read picked frames (packet-level seeking, see the module docstring) and the audio, in one pass."""
        with _open(path) as container:
            if not container.streams.video:
                raise NoVideoStreamError(path, "no video stream (audio-only or not a video file)")
            stream = container.streams.video[0]
            stream.codec_context.thread_count = self.threads
            audio_stream = container.streams.audio[0] if audio_rate and container.streams.audio else None
            sink = _AudioSink(audio_stream, audio_rate, path) if audio_stream and audio_rate else None
            packets = self._demux(container, stream, sink, path)
            clip = self._frames(stream, packets, pick, size, path)
            if sink is not None and audio_stream is not None:
                clip.audio = sink.result()
                clip.audio_offset = self._audio_offset(stream, audio_stream, packets)
            return clip

    @staticmethod
    def _demux(
        container: av.container.InputContainer,
        stream: av.video.stream.VideoStream,
        sink: _AudioSink | None,
        path: Path,
    ) -> list[av.Packet]:
        """Video packets with a timestamp, in decode order (audio packets go to ``sink``); checks truncation."""
        streams = [stream] if sink is None else [stream, sink.stream]
        packets: list[av.Packet] = []
        try:
            for packet in container.demux(streams):
                if packet.size == 0:
                    continue
                if packet.stream is stream:
                    if packet.pts is not None:
                        packets.append(packet)
                elif sink is not None:
                    sink.add(packet)
        except av.error.FFmpegError as error:
            raise CorruptMediaError(path, f"cannot be read to the end ({error.strerror})") from None
        if not packets:
            raise TooFewFramesError(path, "the video stream holds no frame")
        if stream.frames and len(packets) < stream.frames:
            raise TruncatedMediaError(
                path, f"the index lists {stream.frames} frames but only {len(packets)} are in the file"
            )
        return packets

    def _frames(
        self, stream: av.video.stream.VideoStream, packets: list, pick: Picker, size: Sizer, path: Path
    ) -> RawClip:
        """Decode the picked frames GOP by GOP; falls back to one sequential pass if a GOP does not decode alone."""
        order = sorted(p.pts for p in packets)
        if len(set(order)) != len(order):
            raise CorruptMediaError(path, "video packets carry duplicate timestamps")
        indices = [int(i) for i in pick(len(order))]
        wanted = {order[i] for i in indices}
        context = stream.codec_context
        try:
            got = self._decode_gops(context, packets, wanted, size)
            if not wanted <= got.keys():  # e.g. open-GOP leading frames that need the previous GOP
                context.flush_buffers()
                got = self._decode_sequential(context, packets, wanted, size)
        except av.error.FFmpegError as error:
            raise CorruptMediaError(path, f"video frames cannot be decoded ({error.strerror})") from None
        lost = sorted(i for i in set(indices) if order[i] not in got)
        if lost:
            raise CorruptMediaError(path, f"frames {lost} could not be decoded")
        fps, duration = self._timing(stream, order)
        frames = np.stack([got[order[i]] for i in indices])
        return RawClip(frames=frames, indices=indices, num_frames=len(order), fps=fps, duration=duration)

    def _decode_gops(
        self, context: av.video.codeccontext.VideoCodecContext, packets: list, wanted: set[int], size: Sizer
    ) -> dict[int, np.ndarray]:
        """Decode only the GOPs holding a wanted frame, up to their last wanted frame, skipping unwanted
        non-reference frames; ``{pts: frame}``."""
        gops: list[list] = []
        for packet in packets:
            if packet.is_keyframe or not gops:
                gops.append([])
            gops[-1].append(packet)
        got: dict[int, np.ndarray] = {}
        for gop in gops:
            last = max((i for i, p in enumerate(gop) if p.pts in wanted), default=-1)
            if last < 0:
                continue
            for packet in gop[: last + 1]:
                context.skip_frame = "DEFAULT" if packet.pts in wanted else "NONREF"
                got.update(self._convert(f, size) for f in context.decode(packet) if f.pts in wanted)
            context.skip_frame = "DEFAULT"
            got.update(self._convert(f, size) for f in context.decode(None) if f.pts in wanted)
            context.flush_buffers()
        return got

    def _decode_sequential(
        self, context: av.video.codeccontext.VideoCodecContext, packets: list, wanted: set[int], size: Sizer
    ) -> dict[int, np.ndarray]:
        """Decode every packet in order (the safe path); ``{pts: frame}`` of the wanted frames."""
        context.skip_frame = "DEFAULT"
        got: dict[int, np.ndarray] = {}
        for packet in [*packets, None]:
            got.update(self._convert(f, size) for f in context.decode(packet) if f.pts in wanted)
        return got

    def _convert(self, frame: av.VideoFrame, size: Sizer) -> tuple[int, np.ndarray]:
        """``(pts, uint8 [H, W, 3])`` of a decoded frame, scaled to ``size(h, w)`` by swscale (``threads``)."""
        height, width = size(frame.height, frame.width) if size else (frame.height, frame.width)
        array = frame.to_ndarray(
            format="rgb24", width=width, height=height, interpolation="AREA", threads=self.threads
        )
        return int(frame.pts or 0), np.asarray(array)

    @staticmethod
    def _timing(stream: av.video.stream.VideoStream, order: list[int]) -> tuple[float, float]:
        """Frame rate and duration (seconds) from the stream's average rate or the frame timestamps."""
        base = float(stream.time_base) if stream.time_base else 0.0
        if stream.average_rate:
            fps = float(stream.average_rate)
        elif len(order) > 1 and base:
            fps = (len(order) - 1) / ((order[-1] - order[0]) * base)
        else:
            fps = 25.0
        return fps, len(order) / fps

    @staticmethod
    def _audio_offset(
        video: av.video.stream.VideoStream, audio: av.audio.stream.AudioStream, packets: list
    ) -> float:
        """Seconds from the first video frame to the start of the audio stream."""
        if audio.start_time is None or not video.time_base or not audio.time_base:
            return 0.0
        first_video = min(p.pts for p in packets) * video.time_base
        return float(audio.start_time * audio.time_base - first_video)


#: Backend name -> ``module:class`` (imported when chosen, so torchcodec stays optional).
BACKENDS: dict[str, str] = {
    "pyav": "ervlight.data.backends:PyAVBackend",
    "torchcodec": "ervlight.data.torchcodec_backend:TorchCodecBackend",
}


def get_backend(name: str, threads: int = 1) -> MediaBackend:
    """Instantiate a backend by name (``pyav`` or ``torchcodec``)."""
    if name not in BACKENDS:
        raise ValueError(f"unknown media backend {name!r}; expected one of {', '.join(BACKENDS)}")
    module_name, _, class_name = BACKENDS[name].partition(":")
    backend: type[MediaBackend] = getattr(importlib.import_module(module_name), class_name)
    return backend(threads=threads)


@dataclass(frozen=True)
class MediaInfo:
    """What :func:`probe_media` learns about a file without decoding it."""

    num_frames: int
    fps: float
    duration: float
    has_audio: bool


def probe_media(path: Path) -> MediaInfo:
    """Open a video file and read its video packets (no decoding): frame count, fps, duration, audio presence.

    Raises the same typed errors as decoding for missing, empty, corrupt, truncated and video-less files.
    """
    with _open(path) as container:
        if not container.streams.video:
            raise NoVideoStreamError(path, "no video stream (audio-only or not a video file)")
        stream = container.streams.video[0]
        packets = PyAVBackend._demux(container, stream, None, path)
        fps, duration = PyAVBackend._timing(stream, sorted(int(p.pts or 0) for p in packets))
        return MediaInfo(len(packets), fps, duration, bool(container.streams.audio))
