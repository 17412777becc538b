"""The mp4 writer: streams, codecs, frame count, audio length, determinism and input checks."""

from __future__ import annotations

import hashlib
from fractions import Fraction
from pathlib import Path

import av
import numpy as np
import pytest

from ervlight.data.mp4_writer import write_mp4
from mini_trees import tone


def _frames(t: int = 10, h: int = 48, w: int = 64) -> np.ndarray:
    rng = np.random.default_rng(0)
    return rng.integers(0, 256, (t, h, w, 3), dtype=np.uint8)


def test_writes_h264_and_aac_streams(tmp_path: Path) -> None:
    path = write_mp4(tmp_path / "sub" / "clip.mp4", _frames(50), 25, tone(2.0, 16000), 16000)
    with av.open(str(path)) as container:
        video, audio = container.streams.video[0], container.streams.audio[0]
        assert (video.codec_context.name, audio.codec_context.name) == ("h264", "aac")
        assert (video.codec_context.width, video.codec_context.height) == (64, 48)
        assert video.average_rate == 25
        assert audio.codec_context.sample_rate == 16000
        assert audio.codec_context.channels == 1
        assert sum(1 for _ in container.decode(video=0)) == 50
    assert not list(tmp_path.glob("sub/.*partial"))


def test_stereo_audio_and_fractional_fps(tmp_path: Path) -> None:
    path = write_mp4(tmp_path / "s.mp4", _frames(12), Fraction(30000, 1001), tone(0.5, 44100, 2), 44100)
    with av.open(str(path)) as container:
        assert container.streams.video[0].average_rate == Fraction(30000, 1001)
        assert container.streams.audio[0].codec_context.channels == 2
        assert container.streams.audio[0].codec_context.sample_rate == 44100


def test_clip_without_audio_has_no_audio_track(tmp_path: Path) -> None:
    path = write_mp4(tmp_path / "silent.mp4", _frames(5), 24)
    with av.open(str(path)) as container:
        assert [s.type for s in container.streams] == ["video"]


def test_same_inputs_give_identical_files(tmp_path: Path) -> None:
    frames, audio = _frames(20), tone(1.0, 16000)
    digests = {
        hashlib.sha256(write_mp4(tmp_path / f"{i}.mp4", frames, 25, audio).read_bytes()).hexdigest()
        for i in range(2)
    }
    assert len(digests) == 1


def test_decoded_frames_are_close_to_the_input(tmp_path: Path) -> None:
    frames = np.zeros((4, 48, 64, 3), np.uint8)
    frames[:, :, :32] = (200, 40, 40)
    frames[:, :, 32:] = (30, 160, 220)
    path = write_mp4(tmp_path / "c.mp4", frames, 25, crf=10)
    with av.open(str(path)) as container:
        decoded = np.stack([f.to_ndarray(format="rgb24") for f in container.decode(video=0)])
    assert decoded.shape == (4, 48, 64, 3)
    assert np.abs(decoded[:, 8:40, 4:28].astype(int) - (200, 40, 40)).max() <= 6
    assert np.abs(decoded[:, 8:40, 36:60].astype(int) - (30, 160, 220)).max() <= 6


@pytest.mark.parametrize(
    ("frames", "message"),
    [
        (np.zeros((3, 48, 64, 3), np.float32), "uint8"),
        (np.zeros((48, 64, 3), np.uint8), r"\[T>=1, H, W, 3\]"),
        (np.zeros((0, 48, 64, 3), np.uint8), r"\[T>=1, H, W, 3\]"),
        (np.zeros((3, 47, 64, 3), np.uint8), "even frame size, got 64x47"),
    ],
)
def test_bad_frames_are_rejected(tmp_path: Path, frames: np.ndarray, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        write_mp4(tmp_path / "x.mp4", frames, 25)
    assert not (tmp_path / "x.mp4").exists()


@pytest.mark.parametrize(
    ("audio", "rate", "message"),
    [
        (np.zeros(100, np.float32), 12345, "AAC cannot encode at 12345 Hz"),
        (np.zeros((3, 100), np.float32), 16000, r"\[S\] \(mono\) or \[C, S\]"),
        (np.full(100, np.nan, np.float32), 16000, "NaN"),
    ],
)
def test_bad_audio_is_rejected(tmp_path: Path, audio: np.ndarray, rate: int, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        write_mp4(tmp_path / "x.mp4", _frames(3), 25, audio, rate)


def test_non_positive_fps_is_rejected(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="fps must be positive"):
        write_mp4(tmp_path / "x.mp4", _frames(3), 0)


def test_faststart_puts_the_index_first(tmp_path: Path) -> None:
    plain = write_mp4(tmp_path / "plain.mp4", _frames(5), 25).read_bytes()
    fast = write_mp4(tmp_path / "fast.mp4", _frames(5), 25, faststart=True).read_bytes()
    assert plain.index(b"moov") > plain.index(b"mdat")
    assert fast.index(b"moov") < fast.index(b"mdat")
