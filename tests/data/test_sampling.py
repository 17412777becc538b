"""The resumable training loader: order, sharding, per-sample seeds, mid-epoch resume (also through Lightning).

The Lightning runs compare an uninterrupted fit with one stopped at a checkpoint and resumed by
``fit(ckpt_path=...)``, for every way a checkpoint is written (callback mid-epoch or at an epoch's end, at a
mid-epoch validation end, ``last.ckpt`` after ``max_steps``, ``save_checkpoint`` after ``fit``) and under
``limit_train_batches``.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest
import torch
from ddp_resume_run import TextRecorder
from lightning.pytorch import LightningDataModule, LightningModule, Trainer
from lightning.pytorch.callbacks import ModelCheckpoint
from torch.utils.data import DataLoader, Dataset
from torch.utils.data.distributed import DistributedSampler

from ervlight.data.datamodule import ERVDataModule
from ervlight.data.resumable import (
    LoaderStateError,
    ResumableLoader,
    ResumableSampler,
    SeededDataset,
    sample_seed,
)
from ervlight.data.sources import DataSource
from ervlight.data.text import TextSourceConfig

Row = tuple[int, float]


class Draws(Dataset):
    """Item ``i`` -> ``(i, a torch.rand draw)``; remembers which items were loaded (in this process)."""

    def __init__(self, size: int = 10) -> None:
        self.size = size
        self.loaded: list[int] = []

    def __len__(self) -> int:
        return self.size

    def __getitem__(self, index: int) -> Row:
        self.loaded.append(index)
        return index, torch.rand(()).item()


def rows(batch: list[Row]) -> list[Row]:
    """Collate: keep the rows."""
    return batch


def make_loader(size: int = 10, seed: int = 7, batch_size: int = 3, **kwargs: Any) -> ResumableLoader:
    dataset = Draws(size)
    sampler = ResumableSampler(dataset, seed=seed)
    return ResumableLoader(dataset, sampler=sampler, batch_size=batch_size, collate_fn=rows, **kwargs)


def epoch(loader: ResumableLoader, number: int) -> list[list[Row]]:
    loader.sampler.set_epoch(number)  # type: ignore[attr-defined]
    return list(loader)


# ------------------------------------------------------------------------------------------------ sampler
def test_order_is_a_seeded_permutation_sharded_like_distributed_sampler() -> None:
    perm = torch.randperm(10, generator=torch.Generator().manual_seed(3 + 2)).tolist()  # seed 3, epoch 2
    padded = perm + perm[:2]  # 12 = 3 ranks x 4
    for rank in range(3):
        sampler = ResumableSampler(range(10), num_replicas=3, rank=rank, seed=3)  # type: ignore[arg-type]
        sampler.set_epoch(2)
        reference = DistributedSampler(range(10), num_replicas=3, rank=rank, seed=3)  # type: ignore[arg-type]
        reference.set_epoch(2)
        assert sampler.order() == padded[rank::3] == list(reference)
        assert len(sampler) == 4
        assert list(sampler) == [(i, sample_seed(3, 2, i)) for i in padded[rank::3]]
    single = ResumableSampler(range(10), seed=3)  # type: ignore[arg-type]
    single.set_epoch(2)
    assert single.order() == perm
    single.set_epoch(3)
    assert single.order() != perm
    unshuffled = ResumableSampler(range(5), shuffle=False)  # type: ignore[arg-type]
    assert unshuffled.order() == [0, 1, 2, 3, 4]
    with pytest.raises(ValueError, match="the sampling seed must be >= 0, got -1"):
        ResumableSampler(range(5), seed=-1)  # type: ignore[arg-type]


def test_start_skips_indices_once_and_len_stays_the_epoch() -> None:
    sampler = ResumableSampler(range(10), seed=1)  # type: ignore[arg-type]
    order = sampler.order()
    sampler.start = 4
    assert len(sampler) == 10
    assert [i for i, _ in sampler] == order[4:]
    assert [i for i, _ in sampler] == order  # start was consumed
    sampler.epoch_offset = -1
    sampler.set_epoch(3)
    assert sampler.epoch == 2


def test_sample_seeds_mix_seed_epoch_and_index() -> None:
    seeds = {sample_seed(s, e, i) for s in (0, 1) for e in (0, 1) for i in (0, 1, 2)}
    assert len(seeds) == 12
    assert all(0 <= s < 2**63 for s in seeds)
    assert sample_seed(5, 1, 4) == sample_seed(5, 1, 4)


def test_seeded_dataset_draws_under_the_item_seed_and_keeps_the_callers_state() -> None:
    data = SeededDataset(Draws(3))
    torch.manual_seed(123)
    before = torch.get_rng_state()
    torch.manual_seed(99)
    expected = torch.rand(()).item()
    torch.set_rng_state(before)
    assert data[(2, 99)] == (2, expected)
    assert torch.equal(torch.get_rng_state(), before)
    assert data[1][0] == 1  # a plain index reads without seeding
    assert len(data) == 3


# ------------------------------------------------------------------------------------------------ loader
@pytest.mark.parametrize("workers", [0, 2])
def test_resume_mid_epoch_skips_served_items_without_loading_them(workers: int) -> None:
    straight = make_loader()
    epochs = [epoch(straight, 0), epoch(straight, 1)]
    assert [len(b) for b in epochs[0]] == [3, 3, 3, 1]
    assert sorted(i for b in epochs[0] for i, _ in b) == list(range(10))
    assert [i for b in epochs[0] for i, _ in b] != [i for b in epochs[1] for i, _ in b]

    first = make_loader(num_workers=workers)
    first.sampler.set_epoch(0)  # type: ignore[attr-defined]
    iterator = iter(first)
    assert [next(iterator), next(iterator)] == epochs[0][:2]  # same draws with or without workers
    state = first.state_dict()
    assert state == {
        "epoch": 0, "batches": 2, "seed": 7, "dataset_size": 10, "batch_size": 3, "num_replicas": 1,
        "shuffle": True, "drop_last": False,
    }  # fmt: skip

    resumed = make_loader(seed=99)  # the checkpoint's seed wins
    resumed.load_state_dict(state)
    resumed.sampler.set_epoch(0)  # type: ignore[attr-defined]
    assert len(resumed) == 4
    assert list(resumed) == epochs[0][2:]
    assert resumed.dataset.dataset.loaded == [i for b in epochs[0][2:] for i, _ in b]  # type: ignore[attr-defined]
    assert epoch(resumed, 1) == epochs[1]


def test_resume_from_a_complete_epoch_starts_the_next_whatever_epoch_is_set() -> None:
    straight = make_loader()
    epochs = [epoch(straight, e) for e in range(3)]
    done = make_loader()
    epoch(done, 0)
    resumed = make_loader()
    resumed.load_state_dict(done.state_dict())
    resumed.sampler.set_epoch(5)  # an epoch count off by several: the saved position wins
    iterator = iter(resumed)
    assert next(iterator) == epochs[1][0]
    # the consumer abandons this iteration (as Lightning does past an epoch's end): the next one goes on
    resumed.sampler.set_epoch(6)  # type: ignore[attr-defined]
    assert list(resumed) == epochs[1][1:]
    assert epoch(resumed, 7) == epochs[2]
    assert resumed.sampler.epoch_offset == -5  # type: ignore[attr-defined]


def test_epoch_batches_ends_an_epoch_early() -> None:
    straight = make_loader()
    epochs = [epoch(straight, e) for e in range(2)]
    first = make_loader(epoch_batches=lambda: 2)
    first.sampler.set_epoch(0)  # type: ignore[attr-defined]
    iterator = iter(first)
    next(iterator), next(iterator)  # an epoch limited to 2 batches ends here
    resumed = make_loader(epoch_batches=lambda: 2)
    resumed.load_state_dict(first.state_dict())
    resumed.sampler.set_epoch(0)  # type: ignore[attr-defined]
    assert next(iter(resumed)) == epochs[1][0]


def test_loader_state_that_does_not_fit_is_refused() -> None:
    state = make_loader().state_dict()
    with pytest.raises(LoaderStateError, match="training samples 10 in the checkpoint, 11 now"):
        make_loader(size=11).load_state_dict(state)
    with pytest.raises(
        LoaderStateError, match=r"batch size 3 in the checkpoint, 4 now\. Resume with the data"
    ):
        make_loader(batch_size=4).load_state_dict(state)
    with pytest.raises(LoaderStateError, match="processes sharing the data 2 in the checkpoint, 1 now"):
        make_loader().load_state_dict(state | {"num_replicas": 2})
    with pytest.raises(LoaderStateError, match="had served 5 batches of an epoch of 4"):
        make_loader().load_state_dict(state | {"batches": 5})
    with pytest.raises(
        LoaderStateError,
        match="lacks seed, dataset_size, batch_size, num_replicas, shuffle, drop_last; it was not",
    ):
        make_loader().load_state_dict({"epoch": 0, "batches": 1})
    with pytest.raises(ValueError, match="ResumableLoader takes no 'shuffle'"):
        make_loader(shuffle=True)


# ------------------------------------------------------------------------------------------------ datamodule
def test_media_training_loader_resumes_with_the_same_clips_and_frames(
    mafw_root: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def datamodule() -> ERVDataModule:
        dm = ERVDataModule(train=[DataSource("mafw", str(mafw_root))], image_size=8, batch_size=3, audio=False,
                           data_seed=11)  # fmt: skip
        dm.setup("fit")
        return dm

    loader = datamodule().train_dataloader()
    assert isinstance(loader, ResumableLoader)
    straight = list(loader)  # 10 training clips, random frame sampling
    assert [len(b) for b in straight] == [3, 3, 3, 1]
    first = datamodule().train_dataloader()
    next(iter(first))
    dm = datamodule()
    decoded: list[str] = []
    dataset = dm.datasets["train"]
    original = dataset.load  # type: ignore[union-attr]
    monkeypatch.setattr(dataset, "load", lambda i: decoded.append(dataset.records[i].clip_id) or original(i))  # type: ignore[union-attr]
    resumed = dm.train_dataloader()
    resumed.load_state_dict(first.state_dict())
    rest = list(resumed)
    assert [b.clip_ids for b in rest] == [b.clip_ids for b in straight[1:]]
    assert all(torch.equal(a.frames, b.frames) for a, b in zip(rest, straight[1:], strict=True))
    assert decoded == [c for b in straight[1:] for c in b.clip_ids]  # the first batch was not decoded again


def test_text_training_loader_resumes(tmp_path: Path) -> None:
    emer = tmp_path / "emer.json"
    records = [{"reasoning": f"He frowns {i}. He shouts {i}.", "label": "angry"} for i in range(5)]
    emer.write_text(json.dumps(records), encoding="utf-8")
    config = TextSourceConfig(str(emer), source="emer", sentences=True)

    def loader() -> ResumableLoader:
        return ERVDataModule(modality="text", text=config, batch_size=4, data_seed=2).train_dataloader()

    straight = [b.texts for b in loader()]
    assert [len(t) for t in straight] == [4, 4, 2]
    first = loader()
    next(iter(first))
    resumed = loader()
    resumed.load_state_dict(first.state_dict())
    assert [b.texts for b in resumed] == straight[1:]


def test_seed_argument_or_torch_generator() -> None:
    dm = ERVDataModule(train=[], data_seed=5)
    assert dm._train_seed() == 5
    dm.data_seed = None
    torch.manual_seed(1)
    one = dm._train_seed()
    torch.manual_seed(1)
    assert dm._train_seed() == one
    torch.manual_seed(2)
    assert dm._train_seed() != one
    assert dm._shard() == (1, 0)
    dm.trainer = Trainer(accelerator="cpu", devices=1, logger=False)
    assert dm._shard() == (1, 0)


# ------------------------------------------------------------------------------------------------ Lightning
class Recorder(LightningModule):
    """Fits a line to the draws of each batch and records the item ids it trained on."""

    def __init__(self) -> None:
        super().__init__()
        torch.manual_seed(0)
        self.line = torch.nn.Linear(1, 1)
        self.seen: list[list[int]] = []

    def training_step(self, batch: list[Row], batch_idx: int) -> torch.Tensor:
        self.seen.append([i for i, _ in batch])
        x = torch.tensor([[v] for _, v in batch])  # [B, 1]
        return ((self.line(x) - x) ** 2).mean()

    def validation_step(self, batch: list[Row], batch_idx: int) -> None:
        x = torch.tensor([[v] for _, v in batch])  # [B, 1]
        self.log("val_loss", ((self.line(x) - x) ** 2).mean(), batch_size=len(batch))

    def configure_optimizers(self) -> torch.optim.Optimizer:
        return torch.optim.SGD(self.parameters(), lr=0.5)


class DrawData(LightningDataModule):
    """10 draws, batch 3 (4 batches per epoch), seed 7, the epoch length from the trainer."""

    def train_dataloader(self) -> ResumableLoader:
        trainer = self.trainer
        return make_loader(epoch_batches=lambda: trainer.num_training_batches if trainer else float("inf"))

    def val_dataloader(self) -> DataLoader:
        return DataLoader(Draws(4), batch_size=2, collate_fn=rows)


def _fit(module: Recorder, steps: int, root: Path, ckpt: Path | None = None, **kwargs: Any) -> Trainer:
    settings: dict[str, Any] = {
        "accelerator": "cpu", "max_steps": steps, "logger": False, "enable_progress_bar": False,
        "enable_model_summary": False, "enable_checkpointing": False, "default_root_dir": root,
        "limit_val_batches": 0, "num_sanity_val_steps": 0,
    }  # fmt: skip
    trainer = Trainer(**(settings | kwargs))
    trainer.fit(module, DrawData(), ckpt_path=ckpt)
    return trainer


@pytest.mark.parametrize(
    ("how", "stop"),
    [
        ("callback", 6),
        ("callback", 4),
        ("last", 6),
        ("last", 8),
        ("save", 6),
        ("save", 4),
        ("limit", 5),
        ("limit", 6),
        ("val", 2),
        ("val", 6),
    ],
)
@pytest.mark.filterwarnings("ignore:Be aware that when using `ckpt_path`")
def test_lightning_resume_sees_the_batches_of_an_uninterrupted_run(
    tmp_path: Path, how: str, stop: int
) -> None:
    limit = {"limit_train_batches": 3} if how == "limit" else {}
    straight = Recorder()
    _fit(straight, 10, tmp_path, **limit)
    first = Recorder()
    if how == "callback":  # written on the stop step's batch end, the run goes on
        callback = ModelCheckpoint(tmp_path / "ck", every_n_train_steps=stop, save_top_k=-1)
        _fit(first, 10, tmp_path, enable_checkpointing=True, callbacks=[callback])
        ckpt = next((tmp_path / "ck").glob(f"*step={stop}.ckpt"))
    elif how == "val":  # written at a validation end, mid-epoch (monitored task metric, as in the presets)
        callback = ModelCheckpoint(tmp_path / "ck", monitor="val_loss", save_top_k=-1, filename="{step}")
        _fit(first, 10, tmp_path, enable_checkpointing=True, callbacks=[callback], val_check_interval=2,
             limit_val_batches=None)  # fmt: skip
        ckpt = tmp_path / "ck" / f"step={stop}.ckpt"
    elif how in ("last", "limit"):  # last.ckpt after max_steps stopped the run
        callback = ModelCheckpoint(tmp_path / "ck", save_last=True)
        _fit(first, stop, tmp_path, enable_checkpointing=True, callbacks=[callback], **limit)
        ckpt = tmp_path / "ck" / "last.ckpt"
    else:
        trainer = _fit(first, stop, tmp_path)
        ckpt = tmp_path / "half.ckpt"
        trainer.save_checkpoint(ckpt)
    resumed = Recorder()
    with torch.no_grad():
        resumed.line.weight.add_(1.0)  # the checkpoint must bring the weights back
    _fit(resumed, 10, tmp_path, ckpt=ckpt, **limit, **({"val_check_interval": 2} if how == "val" else {}))
    assert resumed.seen == straight.seen[stop:]
    assert torch.equal(resumed.line.weight, straight.line.weight)
    assert torch.equal(resumed.line.bias, straight.line.bias)


def test_hyper_parameters_are_plain_data_and_rebuild_the_datamodule(mafw_root: Path, tmp_path: Path) -> None:
    text = TextSourceConfig(str(tmp_path / "emer.json"), source="emer")
    dm = ERVDataModule(train=[DataSource("mafw", str(mafw_root), fold=2)], text=text, data_seed=4)
    assert dm.hparams["train"] == [
        {"kind": "mafw", "root": str(mafw_root), "split": None, "fold": 2, "view": "single", "captions": False,
         "media": "video", "media_root": None}
    ]  # fmt: skip
    assert dm.hparams["text"]["source"] == "emer"
    rebuilt = ERVDataModule(**dm.hparams)
    assert rebuilt.sources["train"] == [DataSource("mafw", str(mafw_root), fold=2)]
    assert rebuilt.text == text
    assert rebuilt.data_seed == 4


@pytest.mark.filterwarnings("ignore:You requested to overfit but enabled train dataloader shuffling")
def test_overfit_batches_reads_in_order_and_other_samplers_are_refused(tmp_path: Path) -> None:
    module = Recorder()
    _fit(module, 4, tmp_path, overfit_batches=2)  # Lightning swaps in a SequentialSampler
    assert module.seen == [[0, 1, 2], [3, 4, 5]] * 2
    with pytest.raises(TypeError, match="ResumableLoader needs a ResumableSampler, got RandomSampler"):
        ResumableLoader(Draws(3), sampler=torch.utils.data.RandomSampler(range(3)))


@pytest.mark.filterwarnings("ignore:You passed in a `val_dataloader` but have no `validation_step`")
def test_resuming_on_other_data_names_the_checkpoint(tmp_path: Path) -> None:
    def data(count: int) -> ERVDataModule:
        corpus = tmp_path / f"emer{count}.json"
        rows = [{"reasoning": f"Text {i}.", "label": "happy"} for i in range(count)]
        corpus.write_text(json.dumps(rows), encoding="utf-8")
        return ERVDataModule(modality="text", text=TextSourceConfig(str(corpus), source="emer"), batch_size=2)

    settings: dict[str, Any] = {"accelerator": "cpu", "logger": False, "enable_progress_bar": False,
                                "enable_model_summary": False, "enable_checkpointing": False}  # fmt: skip
    trainer = Trainer(max_steps=2, **settings)
    trainer.fit(TextRecorder(), data(10))
    trainer.save_checkpoint(tmp_path / "half.ckpt")
    expected = (
        f"checkpoint {tmp_path / 'half.ckpt'}: the training-loader position does not fit this run's data: "
        "training samples 10 in the checkpoint, 11 now. Resume with the data"
    )
    with pytest.raises(LoaderStateError, match=re.escape(expected)):
        Trainer(max_steps=4, **settings).fit(TextRecorder(), data(11), ckpt_path=tmp_path / "half.ckpt")
