"""Fault suite, #15 rows 1 and 2: a broken clip in an evaluation list survives every batch size and stays in the
denominator (counted wrong, or left out under ``readable_only`` and still counted as unreadable)."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from ervlight.data.batch import MediaBatch
from ervlight.data.datamodule import ERVDataModule
from ervlight.data.sources import DataSource

#: DFEW-mini fold-1 test list: 00001, 00006, 00011 (no mp4 on disk: missing); 00006 is made zero-byte below.
LISTED = ["00001", "00006", "00011"]


@pytest.fixture
def broken_dfew(dfew_root: Path, tmp_path: Path) -> Path:
    """DFEW-mini with a zero-byte 00006.mp4 (00011 has no mp4 at all)."""
    root = tmp_path / "DFEW"
    shutil.copytree(dfew_root, root)
    (root / "Clip" / "original" / "00006.mp4").write_bytes(b"")
    return root


def _batches(root: Path, batch_size: int, **kwargs: object) -> list[MediaBatch]:
    dm = ERVDataModule(test=[DataSource("dfew", str(root), split="test")], image_size=16, num_frames=2,
                       audio=False, eval_batch_size=batch_size, **kwargs)  # type: ignore[arg-type]  # fmt: skip
    return list(dm.test_dataloader())


@pytest.mark.parametrize("batch_size", [1, 2, 16])
def test_every_listed_clip_reaches_the_evaluation_step(broken_dfew: Path, batch_size: int) -> None:
    batches = _batches(broken_dfew, batch_size)
    assert len(batches) == -(-len(LISTED) // batch_size)
    assert [c for b in batches for c in b.clip_ids] == ["00001"]
    lost = [u for b in batches for u in b.unreadable]
    assert [(u.clip_id, u.dataset, u.label_name, u.label, u.kind) for u in lost] == [
        ("00006", "dfew", "disgust", 5, "empty"),
        ("00011", "dfew", "disgust", 5, "missing"),
    ]
    assert all(b.unreadable_policy == "wrong" for b in batches)
    for batch in batches:  # a batch of only unreadable clips is empty, with consistent shapes
        assert batch.frames.shape[0] == batch.labels.shape[0] == batch.has_audio.shape[0] == len(batch)


def test_readable_only_is_carried_by_the_batches(broken_dfew: Path) -> None:
    batches = _batches(broken_dfew, 1, unreadable_policy="readable_only")
    assert {b.unreadable_policy for b in batches} == {"readable_only"}
    assert [u.clip_id for b in batches for u in b.unreadable] == ["00006", "00011"]


def test_unknown_unreadable_policy_names_the_choices() -> None:
    with pytest.raises(
        ValueError, match=r"^unreadable_policy must be one of wrong, readable_only, got 'drop'$"
    ):
        ERVDataModule(unreadable_policy="drop")  # type: ignore[arg-type]


def test_prediction_writer_keys_unreadable_clips_by_their_dataset_index(broken_dfew: Path) -> None:
    from ervlight.evaluation.predictions import PredictionWriter

    (batch,) = _batches(broken_dfew, 16)
    writer = PredictionWriter()
    writer._indices = [[[0, 1, 2]]]  # the batch's sampler indices (what on_test_epoch_start reads)
    writer.on_test_batch_end(None, None, {"completions": ["x"]}, batch, 0)  # type: ignore[arg-type]
    assert [(r.clip_id, r.status) for r in writer.records] == [
        ("00001", "ok"),
        ("00006", "unreadable"),
        ("00011", "unreadable"),
    ]
    assert writer.keys == [(0, 0), (0, 1), (0, 2)]
