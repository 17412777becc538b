"""Fault suite, #15 row 9: broken training clips are counted once per epoch and no clip is served in their place,
except one seeded stand-in when a whole batch is unreadable."""

from __future__ import annotations

import logging
import shutil
from collections import Counter
from pathlib import Path

import pytest
import torch
from lightning.pytorch import LightningModule, Trainer

from ervlight.data.batch import MediaBatch
from ervlight.data.datamodule import ERVDataModule
from ervlight.data.sources import DataSource

#: MAFW-mini fold-2 training clips (tests/mini_trees.py: 13 clips, fold 2 tests 00025, 07777 and 20045).
TRAIN = ["00019", "00903", "01234", "03747", "05120", "10001", "12345", "15120", "18000", "20098"]
BAD = {"05120": "empty", "18000": "corrupt"}


@pytest.fixture
def damaged_mafw(mafw_root: Path, tmp_path: Path) -> Path:
    """MAFW-mini with a zero-byte 05120.mp4 and 18000.mp4 cut to a third."""
    root = tmp_path / "MAFW"
    shutil.copytree(mafw_root / "Train & Test Set", root / "Train & Test Set")
    shutil.copytree(mafw_root / "data" / "clips", root / "data" / "clips")
    (root / "data" / "clips" / "05120.mp4").write_bytes(b"")
    data = (root / "data" / "clips" / "18000.mp4").read_bytes()
    (root / "data" / "clips" / "18000.mp4").write_bytes(data[: len(data) // 3])
    return root


def _datamodule(root: Path, batch_size: int) -> ERVDataModule:
    return ERVDataModule(train=[DataSource("mafw", str(root), fold=2)], val=[DataSource("mafw", str(root), fold=1)],
                         image_size=16, num_frames=2, batch_size=batch_size, audio=False, data_seed=5)  # fmt: skip


def _epoch(dm: ERVDataModule, epoch: int) -> list[MediaBatch]:
    loader = dm.train_dataloader()
    loader.sampler.set_epoch(epoch)  # type: ignore[attr-defined]
    return list(loader)


def test_listed_training_clips(damaged_mafw: Path) -> None:
    dm = _datamodule(damaged_mafw, 4)
    dm.setup("fit")
    assert sorted(r.clip_id for r in dm.listings["train"].records) == TRAIN


def test_a_skipped_clip_leaves_its_batch_shorter_and_no_clip_is_served_twice(damaged_mafw: Path) -> None:
    dm = _datamodule(damaged_mafw, 4)
    for epoch in (0, 1):
        batches = _epoch(dm, epoch)
        served = [clip for batch in batches for clip in batch.clip_ids]
        readable = sorted(r.clip_id for r in dm.listings["train"].records if r.clip_id not in BAD)
        assert sorted(served) == readable  # every readable clip exactly once
        assert sum(len(batch) for batch in batches) == 8  # 10 listed, 2 unreadable
        assert sorted((c, k) for b in batches for c, k, _ in b.skipped) == sorted(BAD.items())


def test_an_all_unreadable_batch_gets_one_seeded_stand_in(damaged_mafw: Path) -> None:
    dm = _datamodule(damaged_mafw, 1)
    stand_ins = []
    for epoch in (0, 1):
        batches = _epoch(dm, epoch)
        assert [len(b) for b in batches] == [1] * 10  # no empty training step
        served = Counter(clip for batch in batches for clip in batch.clip_ids)
        assert not set(served) & set(BAD)
        extra = served - Counter({clip: 1 for clip in served})
        assert sum(extra.values()) == 2  # the two stand-ins are the only clips served twice
        holders = [b for b in batches if b.skipped]
        assert sorted(b.skipped[0][0] for b in holders) == sorted(BAD)
        order = [r.clip_id for r in dm.listings["train"].records]
        for batch in holders:
            assert batch.clip_ids[0] != order[(order.index(batch.skipped[0][0]) + 1) % len(order)]
        stand_ins.append(sorted(b.clip_ids[0] for b in holders))
        assert _epoch(dm, epoch)[0].clip_ids == batches[0].clip_ids  # reproducible
        again = [b.clip_ids for b in _epoch(dm, epoch) if b.skipped]
        assert sorted(c[0] for c in again) == stand_ins[-1]
    assert stand_ins[0] != stand_ins[1]  # drawn per epoch: not the same clip favoured every epoch


class _Consumer(LightningModule):
    """Counts the clips it is served; one parameter so Lightning can optimise something."""

    def __init__(self) -> None:
        super().__init__()
        self.weight = torch.nn.Parameter(torch.zeros(()))
        self.served: Counter[tuple[int, str]] = Counter()

    def training_step(self, batch: MediaBatch, batch_idx: int) -> torch.Tensor:
        self.served.update((self.current_epoch, clip) for clip in batch.clip_ids)
        return self.weight * batch.frames.mean()

    def validation_step(self, batch: MediaBatch, batch_idx: int) -> None:
        return None

    def configure_optimizers(self) -> torch.optim.Optimizer:
        return torch.optim.SGD(self.parameters(), lr=0.1)


def test_skip_summary_counts_clips_once_per_epoch_and_is_logged_once(
    damaged_mafw: Path, caplog: pytest.LogCaptureFixture
) -> None:
    dm = _datamodule(damaged_mafw, 1)
    module = _Consumer()
    trainer = Trainer(max_epochs=2, accelerator="cpu", logger=False, enable_checkpointing=False,
                      enable_progress_bar=False, enable_model_summary=False, num_sanity_val_steps=0)  # fmt: skip
    with caplog.at_level(logging.WARNING, logger="ervlight.data.datamodule"):
        trainer.fit(module, datamodule=dm)
    lines = [r.getMessage() for r in caplog.records if "skipped" in r.getMessage()]
    assert sorted(lines) == [
        "train epoch 0: skipped 2 clips (corrupt: 1, empty: 1): 05120, 18000",
        "train epoch 1: skipped 2 clips (corrupt: 1, empty: 1): 05120, 18000",
        "validate epoch 0: skipped 2 clips (corrupt: 1, empty: 1): 05120, 18000",
        "validate epoch 1: skipped 2 clips (corrupt: 1, empty: 1): 05120, 18000",
    ]
    assert sum(module.served[(0, clip)] for clip in BAD) == 0
    assert sum(module.served[(0, c)] for c in TRAIN) == 10  # 8 readable clips and 2 stand-ins
