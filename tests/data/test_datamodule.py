"""ERVDataModule: mixed sources, default splits, batches, targets, skip/fail policies, cache and workers."""

from __future__ import annotations

import logging
import os
import shutil
from pathlib import Path

import pytest
import torch

from ervlight.data.batch import MediaBatch
from ervlight.data.datamodule import ERVDataModule
from ervlight.data.errors import DatasetFormatError, DatasetLayoutError, EmptyMediaError
from ervlight.data.sources import DataSource
from ervlight.labels import DFEW, MAFW


def _all(loader: object) -> list[MediaBatch]:
    return list(loader)  # type: ignore[call-overload]


def test_mixed_mafw_dfew_training_batches(mafw_root: Path, dfew_root: Path) -> None:
    dm = ERVDataModule(
        train=[DataSource("mafw", str(mafw_root)), DataSource("dfew", str(dfew_root))],
        image_size=32,
        batch_size=4,
    )
    dm.setup("fit")
    batches = _all(dm.train_dataloader())
    assert [len(b) for b in batches] == [4, 4, 4, 4, 3]  # 10 MAFW + 9 DFEW fold-1 training clips
    batch = batches[0]
    assert batch.frames.shape == (4, 8, 3, 32, 32)
    assert batch.frames.dtype == torch.float32
    assert batch.frame_mask.shape == (4, 8)
    assert batch.audio.shape[0] == 4
    assert batch.audio_mask.shape == batch.audio.shape
    assert batch.audio_features is not None
    assert batch.audio_feature_mask is not None
    assert batch.audio_features.shape[:2] == (4, 128)
    assert batch.audio_feature_mask.shape == (4, batch.audio_features.shape[2])
    clip_labels = {
        (b.datasets[i], b.clip_ids[i]): (int(b.labels[i]), b.label_names[i])
        for b in batches
        for i in range(len(b))
    }
    assert clip_labels[("mafw", "00025")] == (MAFW.index("anger"), "anger")
    assert (
        clip_labels[("dfew", "00006")]
        if False
        else clip_labels[("dfew", "00003")] == (DFEW.index("neutral"), "neutral")
    )
    assert len(clip_labels) == 19
    lengths = {b.clip_ids[i]: int(b.audio_mask[i].sum()) for b in batches for i in range(len(b))}
    assert lengths["03747"] == 64000
    assert lengths["00903"] == 0  # no audio track: zeros, masked out
    has_audio = {b.clip_ids[i]: bool(b.has_audio[i]) for b in batches for i in range(len(b))}
    assert not has_audio["00903"]
    assert sum(has_audio.values()) == 18


def test_default_test_split_is_the_folds_test_lists_and_never_validates(
    mafw_root: Path, dfew_root: Path, caplog: pytest.LogCaptureFixture
) -> None:
    dm = ERVDataModule(
        train=[DataSource("mafw", str(mafw_root)), DataSource("dfew", str(dfew_root))], fold=1, image_size=32,
        batch_size=8, audio_features=False,
    )  # fmt: skip
    assert dm.split_sources("val") == []
    assert dm.val_dataloader() == []  # the test lists never choose a checkpoint
    with caplog.at_level(logging.WARNING, logger="ervlight.data.datamodule"):
        dm.setup("test")
    batch = _all(dm.test_dataloader())[0]
    assert batch.clip_ids == ["00019", "05120", "18000", "00001", "00006"]
    assert batch.audio_features is None
    assert "test: 1 listed clips are not on disk (00011)" in caplog.text


def test_eval_sampling_is_deterministic(mafw_root: Path) -> None:
    dm = ERVDataModule(test=[DataSource("mafw", str(mafw_root), split="test")], image_size=16, batch_size=3)
    first, second = _all(dm.test_dataloader())[0], _all(dm.test_dataloader())[0]
    assert torch.equal(first.frames, second.frames)
    assert torch.equal(first.audio, second.audio)


def test_emer_targets_for_sft(emer_json: Path, r1omni_json: Path) -> None:
    dm = ERVDataModule(
        train=[DataSource("emer", str(emer_json))], image_size=16, batch_size=6, require_targets=True
    )
    dm.setup("fit")
    batch = _all(dm.train_dataloader())[0]
    assert len(batch) == 6
    assert all(t is not None and t.startswith("<think>") and "</think>\n<answer>" in t for t in batch.targets)
    assert dm.val_dataloader() == []
    with pytest.raises(DatasetLayoutError, match="no usable clip"):
        ERVDataModule(train=[DataSource("r1omni", str(r1omni_json))], require_targets=True).setup("fit")


def test_r1omni_batch_mixes_label_spaces(r1omni_json: Path) -> None:
    dm = ERVDataModule(predict=[DataSource("r1omni", str(r1omni_json))], image_size=16, batch_size=6)
    batch = _all(dm.predict_dataloader())[0]
    assert batch.datasets == ["mafw", "mafw", "mafw", "dfew", "dfew", "dfew"]
    assert batch.label_names == ["anger", "contempt", "anxiety", "happy", "disgust", "sad"]
    assert batch.labels.tolist() == [0, 7, 8, 0, 5, 1]
    assert batch.targets == [None] * 6


def _damaged_mafw(mafw_root: Path, tmp_path: Path) -> Path:
    root = tmp_path / "MAFW"
    shutil.copytree(mafw_root / "Train & Test Set", root / "Train & Test Set")
    shutil.copytree(mafw_root / "data" / "clips", root / "data" / "clips")
    (root / "data" / "clips" / "05120.mp4").write_bytes(b"")
    data = (root / "data" / "clips" / "18000.mp4").read_bytes()
    (root / "data" / "clips" / "18000.mp4").write_bytes(data[: len(data) // 3])
    return root


def test_skip_policy_drops_bad_clips_in_eval_and_training(
    mafw_root: Path, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    root = _damaged_mafw(mafw_root, tmp_path)
    dm = ERVDataModule(train=[DataSource("mafw", str(root), fold=2)], val=[DataSource("mafw", str(root), fold=1)],
        image_size=16, batch_size=4, audio_features=False)  # fmt: skip
    dm.setup("fit")
    val = _all(dm.val_dataloader())[0]
    assert val.clip_ids == ["00019"]
    assert [(clip, kind) for clip, kind, _ in val.skipped] == [("05120", "empty"), ("18000", "corrupt")]
    assert [(u.clip_id, u.label_name, u.kind) for u in val.unreadable] == [
        ("05120", "sadness", "empty"),
        ("18000", "disappointment", "corrupt"),
    ]
    train = _all(dm.train_dataloader())
    served = [clip for b in train for clip in b.clip_ids]
    assert len(served) == 8  # the 10 fold-2 training clips less the two bad ones
    assert len(set(served)) == 8  # none served twice
    assert sorted(clip for b in train for clip, _, _ in b.skipped) == ["05120", "18000"]
    assert all(b.unreadable == [] for b in train)  # training batches carry no evaluation bookkeeping
    for batch in [val, *train]:
        dm.on_after_batch_transfer(batch, 0)
    assert dm.skip_summary() == [" epoch 0: skipped 2 clips (corrupt: 1, empty: 1): 05120, 18000"]
    with caplog.at_level(logging.WARNING, logger="ervlight.data.datamodule"):
        dm.teardown("fit")
        dm.teardown("fit")
    assert caplog.text.count("skipped 2 clips") == 1


def test_fail_policy_raises_with_the_file(mafw_root: Path, tmp_path: Path) -> None:
    root = _damaged_mafw(mafw_root, tmp_path)
    dm = ERVDataModule(
        test=[DataSource("mafw", str(root), split="test")], bad_sample_policy="fail", batch_size=4
    )
    with pytest.raises(EmptyMediaError, match=r"05120.mp4: file is empty"):
        _all(dm.test_dataloader())


def test_fail_policy_on_bad_rows(tmp_path: Path, mafw_root: Path) -> None:
    lists = tmp_path / "MAFW" / "split" / "single" / "no_caption" / "set_1"
    lists.mkdir(parents=True)
    (lists / "test.txt").write_text("00025.mp4 anger\n00019.mp4 joyful\n")
    (tmp_path / "MAFW" / "data").symlink_to(mafw_root / "data")
    source = DataSource("mafw", str(tmp_path / "MAFW"), split="test")
    with pytest.raises(
        DatasetFormatError, match=r"test.txt:2: label 'joyful' is not a mafw label \(1 bad rows in test\)"
    ):
        ERVDataModule(test=[source], bad_sample_policy="fail").setup("test")
    dm = ERVDataModule(test=[source])
    dm.setup("test")
    assert [r.clip_id for r in dm.listings["test"].records] == ["00025"]


def test_cache_serves_identical_samples(mafw_root: Path, tmp_path: Path) -> None:
    kwargs = {"test": [DataSource("mafw", str(mafw_root), split="test")], "image_size": 16, "batch_size": 3}
    dm = ERVDataModule(cache_dir=str(tmp_path / "cache"), **kwargs)  # type: ignore[arg-type]
    first = _all(dm.test_dataloader())[0]
    dataset = dm.datasets["test"]
    assert dataset is not None
    cache = dataset.cache  # type: ignore[attr-defined]
    assert (cache.hits, cache.misses) == (0, 3)
    second = _all(dm.test_dataloader())[0]
    assert (cache.hits, cache.misses) == (3, 3)
    assert torch.equal(first.frames, second.frames)
    assert torch.equal(first.audio, second.audio)
    assert len(list((tmp_path / "cache").rglob("*.pt"))) == 3
    uncached = _all(ERVDataModule(**kwargs).test_dataloader())[0]  # type: ignore[arg-type]
    assert torch.equal(uncached.frames, first.frames)


def test_workers_yield_the_same_eval_batches(mafw_root: Path) -> None:
    kwargs = {"test": [DataSource("mafw", str(mafw_root), split="test")], "image_size": 16, "batch_size": 2}
    serial = _all(ERVDataModule(**kwargs).test_dataloader())  # type: ignore[arg-type]
    parallel = _all(ERVDataModule(num_workers=2, **kwargs).test_dataloader())  # type: ignore[arg-type]
    assert [b.clip_ids for b in parallel] == [b.clip_ids for b in serial]
    assert all(torch.equal(a.frames, b.frames) for a, b in zip(serial, parallel, strict=True))


def test_no_sources_for_a_split(mafw_root: Path) -> None:
    dm = ERVDataModule(train=[DataSource("r1omni", str(mafw_root / "none.json"))])
    with pytest.raises(DatasetLayoutError, match="no sources configured for the test split"):
        dm.test_dataloader()
    with pytest.raises(ValueError, match="unknown modality 'pixels'"):
        ERVDataModule(modality="pixels").setup("fit")


def test_random_training_sampling_is_seeded_per_worker(mafw_root: Path) -> None:
    dm = ERVDataModule(train=[DataSource("mafw", str(mafw_root))], image_size=8, batch_size=10, num_workers=2,
        audio=False)  # fmt: skip
    dm.setup("fit")

    def epoch(seed: int) -> list[torch.Tensor]:
        torch.manual_seed(seed)
        return [b.frames for b in _all(dm.train_dataloader())]

    first, again, other = epoch(1), epoch(1), epoch(2)
    assert all(torch.equal(a, b) for a, b in zip(first, again, strict=True))
    assert not all(torch.equal(a, b) for a, b in zip(first, other, strict=True))


def test_cache_key_follows_file_mtime_and_params(mafw_root: Path, tmp_path: Path) -> None:
    from ervlight.data.cache import SampleCache
    from ervlight.data.clip_decoder import ClipDecoder
    from ervlight.data.records import ClipRecord

    clip = tmp_path / "00025.mp4"
    shutil.copyfile(mafw_root / "data" / "clips" / "00025.mp4", clip)
    record = ClipRecord("00025", "mafw", "anger", "test", video=clip, audio=clip)
    cache = SampleCache(tmp_path / "cache", {"num_frames": 4})
    cache.store(record, ClipDecoder(num_frames=4).decode(record))
    loaded = cache.load(record)
    assert loaded is not None
    assert loaded.frame_indices == [9, 28, 46, 65]  # 75 frames, segment middles
    assert SampleCache(tmp_path / "cache", {"num_frames": 8}).load(record) is None
    stat = clip.stat()
    os.utime(clip, ns=(stat.st_atime_ns, stat.st_mtime_ns + 1_000_000))
    assert cache.load(record) is None
    (tmp_path / "cache" / cache.key(record)[:2]).mkdir(parents=True, exist_ok=True)
    (tmp_path / "cache" / cache.key(record)[:2] / f"{cache.key(record)}.pt").write_bytes(b"garbage")
    assert cache.load(record) is None
    assert (cache.hits, cache.misses) == (1, 2)
