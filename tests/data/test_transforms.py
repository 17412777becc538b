"""Frame preprocessing (pad/crop/stretch, normalisation, augmentation switch) and Whisper-style log-mel features."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from ervlight.data.transforms import DefaultPreprocessor, WhisperLogMel


def _frames(
    t: int = 2, h: int = 48, w: int = 64, colour: tuple[int, int, int] = (255, 0, 128)
) -> torch.Tensor:
    frames = torch.zeros(t, h, w, 3, dtype=torch.uint8)
    frames[...] = torch.tensor(colour, dtype=torch.uint8)
    return frames


def test_pad_to_square_keeps_the_whole_picture() -> None:
    pre = DefaultPreprocessor(image_size=32)
    assert pre.decode_size(48, 64) == (24, 32)
    assert pre.decode_size(360, 640) == (18, 32)
    out = pre.frames(_frames(h=24, w=32))
    assert out.shape == (2, 3, 32, 32)
    assert out.dtype == torch.float32
    assert torch.allclose(
        out[:, :, :4], torch.zeros(2, 3, 4, 32), atol=0.01
    )  # 4 padded rows = mean colour = 0
    assert torch.allclose(out[:, :, 28:], torch.zeros(2, 3, 4, 32), atol=0.01)
    assert torch.allclose(out[0, :, 16, 16], torch.tensor([1.0, -1.0, 128 / 255 * 2 - 1]), atol=1e-5)


def test_full_size_frames_are_resized_too() -> None:
    pre = DefaultPreprocessor(image_size=32)
    assert torch.allclose(pre.frames(_frames(h=48, w=64)), pre.frames(_frames(h=24, w=32)), atol=1e-5)


def test_crop_and_stretch() -> None:
    crop = DefaultPreprocessor(image_size=32, resize_mode="crop")
    assert crop.decode_size(48, 64) == (32, 43)
    assert crop.frames(_frames(h=32, w=43)).shape == (2, 3, 32, 32)
    stretch = DefaultPreprocessor(image_size=32, resize_mode="stretch")
    assert stretch.decode_size(48, 64) == (32, 32)
    assert stretch.frames(_frames()).shape == (2, 3, 32, 32)
    with pytest.raises(ValueError, match="resize_mode must be"):
        DefaultPreprocessor(resize_mode="zoom")  # type: ignore[arg-type]


def test_train_equals_eval_unless_augment() -> None:
    frames = torch.randint(0, 256, (3, 32, 43, 3), dtype=torch.uint8)
    plain = DefaultPreprocessor(image_size=32, resize_mode="crop")
    assert torch.equal(plain.frames(frames, train=True), plain.frames(frames, train=False))
    augmented = DefaultPreprocessor(image_size=32, resize_mode="crop", augment=True)
    torch.manual_seed(0)
    outputs = {augmented.frames(frames, train=True).sum().item() for _ in range(8)}
    assert len(outputs) > 1
    assert torch.equal(augmented.frames(frames, train=False), plain.frames(frames))


def test_log_mel_matches_whisper_feature_extractor() -> None:
    from transformers import WhisperFeatureExtractor

    rng = np.random.default_rng(0)
    t = np.arange(16000) / 16000
    audio = (0.3 * np.sin(2 * np.pi * 300 * t) + 0.05 * rng.standard_normal(16000)).astype(np.float32)
    ours = WhisperLogMel()(torch.from_numpy(audio))
    assert ours.shape == (128, 100)
    reference = WhisperFeatureExtractor(feature_size=128)(audio, sampling_rate=16000, return_tensors="np")
    expected = torch.from_numpy(reference["input_features"][0][:, :100]).float()
    # Identical except the last frame, whose window reaches past the clip (Whisper pads to 30 s with zeros, we
    # reflect): no 30 s padding here, batches are padded and masked instead.
    assert torch.allclose(ours[:, :99], expected[:, :99], atol=2e-3)


def test_log_mel_short_and_empty_audio() -> None:
    mel = WhisperLogMel(n_mels=80)
    assert mel(torch.zeros(0)).shape == (80, 0)
    assert mel(torch.zeros(100)).shape == (80, 0)
    assert mel(torch.randn(170)).shape == (80, 1)
    assert DefaultPreprocessor(audio_features=False).audio_features(torch.randn(1600)) is None
