"""Frame sampling, the PyAV backend, frame folders, audio policies and typed errors for bad media."""

from __future__ import annotations

import shutil
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest
import torch

from ervlight.data.clip_decoder import ClipDecoder
from ervlight.data.errors import (
    CorruptMediaError,
    EmptyMediaError,
    MissingMediaError,
    NoAudioStreamError,
    NoVideoStreamError,
    TooFewFramesError,
    TruncatedMediaError,
)
from ervlight.data.records import ClipRecord
from ervlight.data.sampling import sample_frame_indices
from mini_trees import write_wav

FrameIndex = Callable[[np.ndarray], int]
ONE_FRAME_OF_AUDIO = 16000 // 25


def _video(path: Path, clip_id: str = "x") -> ClipRecord:
    return ClipRecord(clip_id=clip_id, dataset="mafw", label="anger", split="test", video=path, audio=path)


def _codes(frames: torch.Tensor, frame_index_of: FrameIndex) -> list[int]:
    return [frame_index_of(f.numpy()) for f in frames]


def test_sampling_middle_start_and_padding() -> None:
    assert sample_frame_indices(50, 8, "middle") == ([3, 9, 15, 21, 28, 34, 40, 46], [True] * 8)
    assert sample_frame_indices(50, 8, "start")[0] == [0, 6, 12, 18, 25, 31, 37, 43]
    assert sample_frame_indices(8, 8, "middle")[0] == list(range(8))
    assert sample_frame_indices(3, 8, "random") == ([0, 1, 2, 2, 2, 2, 2, 2], [True] * 3 + [False] * 5)
    with pytest.raises(ValueError, match="at least one frame"):
        sample_frame_indices(0, 8)


def test_sampling_random_stays_in_segments() -> None:
    generator = torch.Generator().manual_seed(0)
    seen = set()
    for _ in range(200):
        indices, _ = sample_frame_indices(50, 8, "random", generator)
        assert all(int(i * 6.25) <= j <= int((i + 1) * 6.25 - 1e-9) for i, j in enumerate(indices))
        seen.add(tuple(indices))
    assert len(seen) > 150
    again = sample_frame_indices(50, 8, "random", torch.Generator().manual_seed(0))
    assert again[0] == sample_frame_indices(50, 8, "random", torch.Generator().manual_seed(0))[0]


def test_mp4_frames_and_audio(mafw_root: Path, frame_index_of: FrameIndex) -> None:
    clip = ClipDecoder(num_frames=8).decode(_video(mafw_root / "data" / "clips" / "03747.mp4"))
    assert clip.frame_indices == [6, 18, 31, 43, 56, 68, 81, 93]
    assert _codes(clip.frames, frame_index_of) == clip.frame_indices
    assert clip.frames.shape == (8, 48, 64, 3)
    assert clip.frames.dtype == torch.uint8
    assert clip.frame_mask.tolist() == [True] * 8
    assert (clip.num_clip_frames, clip.fps, clip.duration) == (100, 25.0, 4.0)
    assert abs(clip.audio.shape[0] - 4 * 16000) <= ONE_FRAME_OF_AUDIO
    assert clip.has_audio
    assert clip.audio.abs().max() > 0.3


def test_stereo_44k_audio_is_mono_16k(dfew_root: Path) -> None:
    clip = ClipDecoder().decode(_video(dfew_root / "Clip" / "original" / "00002.mp4"))
    assert clip.audio.ndim == 1
    assert abs(clip.audio.shape[0] - 2 * 16000) <= ONE_FRAME_OF_AUDIO
    spectrum = torch.fft.rfft(clip.audio[:16000]).abs()
    assert int(spectrum.argmax()) == 440  # the 440 Hz tone survives resampling (1 Hz bins over one second)


def test_decode_size_is_applied_while_decoding(mafw_root: Path, frame_index_of: FrameIndex) -> None:
    clip = ClipDecoder(num_frames=4).decode(
        _video(mafw_root / "data" / "clips" / "00019.mp4"), size=lambda h, w: (24, 32)
    )
    assert clip.frames.shape == (4, 24, 32, 3)
    assert _codes(clip.frames, frame_index_of) == [6, 18, 31, 43]


def test_audio_span_of_the_sampled_frames(mafw_root: Path) -> None:
    decoder = ClipDecoder(num_frames=8, audio_span="frames")
    clip = decoder.decode(_video(mafw_root / "data" / "clips" / "03747.mp4"))
    assert clip.audio.shape[0] == round(94 / 25 * 16000) - round(6 / 25 * 16000)


def test_frame_folder_short_clip_is_repeat_padded(dfew_root: Path, frame_index_of: FrameIndex) -> None:
    folder = dfew_root / "Clip" / "clip_224x224" / "00001"
    record = ClipRecord(
        "00001",
        "dfew",
        "happy",
        "test",
        frames_dir=folder,
        audio=dfew_root / "Clip" / "original" / "00001.mp4",
    )
    clip = ClipDecoder(num_frames=16).decode(record, size=lambda h, w: (32, 32))
    assert clip.frame_indices == [*range(11), 10, 10, 10, 10, 10]
    assert _codes(clip.frames, frame_index_of) == clip.frame_indices
    assert clip.frame_mask.tolist() == [True] * 11 + [False] * 5
    assert clip.frames.shape == (16, 32, 32, 3)
    assert clip.has_audio
    assert abs(clip.audio.shape[0] - 32000) <= ONE_FRAME_OF_AUDIO
    with pytest.raises(TooFewFramesError, match=r"00001: 11 frames, 16 asked"):
        ClipDecoder(num_frames=16, short_clip_policy="error").decode(record)


def test_frame_folder_natural_order_of_prefixed_names(dfew_root: Path, frame_index_of: FrameIndex) -> None:
    folder = dfew_root / "Clip" / "clip_224x224" / "00002"
    record = ClipRecord("00002", "dfew", "sad", "test", frames_dir=folder)
    clip = ClipDecoder(num_frames=8, audio=False).decode(record)
    assert clip.num_clip_frames == 105
    assert _codes(clip.frames, frame_index_of) == sample_frame_indices(105, 8)[0]
    assert clip.audio.shape == (0,)
    assert not clip.has_audio


def test_wav_audio_for_frames(mafw_root: Path) -> None:
    record = ClipRecord(
        "00025", "mafw", "anger", "test", frames_dir=mafw_root / "data" / "frames" / "00025",
        audio=mafw_root / "data" / "audio_16k" / "00025.wav",
    )  # fmt: skip
    clip = ClipDecoder(num_frames=4).decode(record)
    assert clip.audio.shape == (3 * 16000,)
    assert clip.has_audio


def test_no_audio_track_policies(bad_media: dict[str, Path]) -> None:
    record = _video(bad_media["no_audio"])
    clip = ClipDecoder(num_frames=4).decode(record)
    assert not clip.has_audio
    assert clip.audio.shape == (16000,)
    assert clip.audio.abs().sum() == 0
    for policy in ("skip", "error"):
        with pytest.raises(
            NoAudioStreamError, match=rf"no_audio.mp4: no audio track \(audio_policy='{policy}'\)"
        ):
            ClipDecoder(num_frames=4, audio_policy=policy).decode(record)  # type: ignore[arg-type]


def test_few_frames_mp4(bad_media: dict[str, Path], frame_index_of: FrameIndex) -> None:
    clip = ClipDecoder(num_frames=8).decode(_video(bad_media["few_frames"]))
    assert clip.frame_indices == [0, 1, 2, 2, 2, 2, 2, 2]
    assert _codes(clip.frames, frame_index_of) == clip.frame_indices
    assert clip.frame_mask.sum() == 3


@pytest.mark.parametrize(
    ("name", "error", "message"),
    [
        ("zero_byte", EmptyMediaError, r"zero_byte.mp4: file is empty \(0 bytes\)"),
        ("corrupt", CorruptMediaError, r"corrupt.mp4: cannot be opened \(Invalid data"),
        ("truncated", CorruptMediaError, r"truncated.mp4: cannot be opened .* truncated before its index"),
        (
            "truncated_indexed",
            TruncatedMediaError,
            r"truncated_indexed.mp4: the index lists 50 frames but only \d+",
        ),
        ("no_video", NoVideoStreamError, r"no_video.mp4: no video stream"),
    ],
)
def test_bad_media_raise_typed_errors(
    bad_media: dict[str, Path], name: str, error: type, message: str
) -> None:
    with pytest.raises(error, match=message) as info:
        ClipDecoder().decode(_video(bad_media[name]))
    assert info.value.path == str(bad_media[name])


def test_missing_files_and_folders(tmp_path: Path, dfew_root: Path) -> None:
    with pytest.raises(MissingMediaError, match=r"nope.mp4: file not found"):
        ClipDecoder().decode(_video(tmp_path / "nope.mp4"))
    with pytest.raises(MissingMediaError, match="frame folder not found"):
        ClipDecoder().decode(ClipRecord("1", "dfew", "happy", "test", frames_dir=tmp_path / "gone"))
    (tmp_path / "empty").mkdir()
    with pytest.raises(EmptyMediaError, match=r"empty: frame folder holds no image"):
        ClipDecoder().decode(ClipRecord("1", "dfew", "happy", "test", frames_dir=tmp_path / "empty"))
    broken = tmp_path / "broken"
    shutil.copytree(dfew_root / "Clip" / "clip_224x224_16f" / "00003", broken)
    (broken / "5.jpg").write_bytes(b"not a jpeg")
    with pytest.raises(CorruptMediaError, match=r"broken/5.jpg: frame image cannot be read"):
        ClipDecoder(num_frames=16, audio=False).decode(
            ClipRecord("3", "dfew", "neutral", "test", frames_dir=broken)
        )


def test_wav_is_read_and_truncated_wav_is_corrupt_or_short(tmp_path: Path) -> None:
    write_wav(tmp_path / "a.wav", 1.5)
    from ervlight.data.backends import PyAVBackend

    assert PyAVBackend().read_audio(tmp_path / "a.wav").shape == (24000,)
    write_wav(tmp_path / "b.wav", 0.0)
    assert PyAVBackend().read_audio(tmp_path / "b.wav").shape == (0,)


def test_sequential_fallback_gives_the_same_frames(
    mafw_root: Path, monkeypatch: pytest.MonkeyPatch, frame_index_of: FrameIndex
) -> None:
    from ervlight.data.backends import PyAVBackend

    record = _video(mafw_root / "data" / "clips" / "18000.mp4")
    fast = ClipDecoder(num_frames=8).decode(record)
    monkeypatch.setattr(PyAVBackend, "_decode_gops", lambda *args: {})  # as if a GOP could not decode alone
    slow = ClipDecoder(num_frames=8).decode(record)
    assert torch.equal(fast.frames, slow.frames)
    assert _codes(slow.frames, frame_index_of) == sample_frame_indices(125, 8)[0]


def test_backend_choice() -> None:
    from ervlight.data.backends import get_backend

    with pytest.raises(ValueError, match="unknown media backend 'decord'; expected one of pyav, torchcodec"):
        get_backend("decord")
    try:
        import torchcodec.decoders  # noqa: F401
    except ImportError:
        with pytest.raises(ImportError, match="the 'torchcodec' backend needs torchcodec and the OS FFmpeg"):
            ClipDecoder(backend="torchcodec")


def test_torchcodec_backend_matches_pyav(mafw_root: Path, frame_index_of: FrameIndex) -> None:
    pytest.importorskip("torchcodec.decoders", exc_type=ImportError)
    record = _video(mafw_root / "data" / "clips" / "03747.mp4")
    clip = ClipDecoder(num_frames=8, backend="torchcodec").decode(record)
    assert _codes(clip.frames, frame_index_of) == [6, 18, 31, 43, 56, 68, 81, 93]
    assert abs(clip.audio.shape[0] - 4 * 16000) <= ONE_FRAME_OF_AUDIO
    silent = ClipDecoder(num_frames=2, backend="torchcodec").decode(
        _video(mafw_root / "data" / "clips" / "00903.mp4")
    )
    assert not silent.has_audio
