"""The optional torchcodec backend (``pip install torchcodec`` plus the OS FFmpeg libraries).

Frames come from ``VideoDecoder.get_frames_at`` (full size; the preprocessor resizes them) and audio from
``AudioDecoder`` resampled to mono at the requested rate. Errors are mapped onto the data layer's typed errors.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from ervlight.data.backends import MediaBackend, Picker, RawClip, Sizer, check_file
from ervlight.data.errors import CorruptMediaError, NoVideoStreamError, TooFewFramesError

__all__ = ["TorchCodecBackend"]


class TorchCodecBackend(MediaBackend):
    """Optional backend on torchcodec (needs ``pip install torchcodec`` and the OS FFmpeg libraries)."""

    name = "torchcodec"

    def __init__(self, threads: int = 1) -> None:
        try:
            import torchcodec.decoders  # noqa: F401
        except ImportError as error:
            raise ImportError(
                "the 'torchcodec' backend needs torchcodec and the OS FFmpeg libraries "
                f"(pip install torchcodec; apt-get install ffmpeg): {error}"
            ) from error
        super().__init__(threads)

    def read_audio(self, path: Path, rate: int = 16000) -> np.ndarray | None:
        """The audio track as mono ``float32 [S]``; ``None`` when the file has no audio stream."""
        from torchcodec.decoders import AudioDecoder

        check_file(path)
        try:
            decoder = AudioDecoder(str(path), sample_rate=rate, num_channels=1)
        except ValueError:  # torchcodec's "no audio stream" error
            return None
        except RuntimeError as error:
            raise CorruptMediaError(path, f"cannot be opened by torchcodec ({error})") from None
        return decoder.get_all_samples().data.reshape(-1).numpy().astype(np.float32, copy=False)

    def read(self, path: Path, pick: Picker, size: Sizer = None, audio_rate: int | None = 16000) -> RawClip:
        """Read picked frames with ``VideoDecoder.get_frames_at`` (resized afterwards by the preprocessor)."""
        from torchcodec.decoders import VideoDecoder

        check_file(path)
        try:
            decoder = VideoDecoder(str(path), dimension_order="NHWC", num_ffmpeg_threads=self.threads)
        except ValueError as error:
            raise NoVideoStreamError(path, f"no usable video stream ({error})") from None
        except RuntimeError as error:
            raise CorruptMediaError(path, f"cannot be opened by torchcodec ({error})") from None
        count = len(decoder)
        if count < 1:
            raise TooFewFramesError(path, "the video stream holds no frame")
        indices = [int(i) for i in pick(count)]
        try:
            frames = decoder.get_frames_at(indices).data.numpy()
        except RuntimeError as error:
            raise CorruptMediaError(path, f"video frames cannot be decoded ({error})") from None
        fps = float(decoder.metadata.average_fps or 25.0)
        audio = self.read_audio(path, audio_rate) if audio_rate is not None else None
        return RawClip(
            frames=frames, indices=indices, num_frames=count, fps=fps, duration=count / fps, audio=audio
        )
