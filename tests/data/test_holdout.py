"""The stratified, seeded validation split carved from the training list."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import pytest

from ervlight.data.datamodule import ERVDataModule
from ervlight.data.holdout import stratified_holdout
from ervlight.data.records import ClipRecord
from ervlight.data.sources import DataSource


def _records() -> list[ClipRecord]:
    """40 DFEW clips (20 happy, 10 sad, 10 fear), 10 MAFW clips (anger), one unlabelled clip."""
    labels = ["happy"] * 20 + ["sad"] * 10 + ["fear"] * 10
    records = [ClipRecord(f"{i:05d}", "dfew", label, "train") for i, label in enumerate(labels)]
    records += [ClipRecord(f"{i:05d}", "mafw", "anger", "train") for i in range(10)]
    return [*records, ClipRecord("x", "dfew", None, "train")]


def test_holdout_is_stratified() -> None:
    train, val = stratified_holdout(_records(), 0.2, seed=0)
    assert Counter((r.dataset, r.label) for r in val) == {
        ("dfew", "happy"): 4, ("dfew", "sad"): 2, ("dfew", "fear"): 2, ("mafw", "anger"): 2,
    }  # fmt: skip
    assert len(train) == 51 - 10
    assert "x" in {r.clip_id for r in train}  # unlabelled clips stay in training


def test_holdout_is_deterministic_disjoint_and_order_independent() -> None:
    records = _records()
    train, val = stratified_holdout(records, 0.2, seed=3)
    _, again_val = stratified_holdout(list(reversed(records)), 0.2, seed=3)
    assert {(r.dataset, r.clip_id) for r in val} == {(r.dataset, r.clip_id) for r in again_val}
    assert not {(r.dataset, r.clip_id) for r in train} & {(r.dataset, r.clip_id) for r in val}
    assert sorted(train + val, key=records.index) == records
    assert [r for r in records if r in val] == val  # input order kept
    _, other = stratified_holdout(records, 0.2, seed=4)
    assert {r.clip_id for r in other} != {r.clip_id for r in val}


def test_holdout_keeps_a_clip_listed_twice_on_one_side_and_checks_fraction() -> None:
    records = [ClipRecord("a", "dfew", "happy", "train"), ClipRecord("b", "dfew", "happy", "train")]
    train, val = stratified_holdout(records + records[:1], 0.5, seed=1)
    assert len(val) in (1, 2)
    assert {r.clip_id for r in train}.isdisjoint({r.clip_id for r in val})
    with pytest.raises(ValueError, match=r"val_fraction must lie in \[0, 1\), got 1.0"):
        stratified_holdout(records, 1.0)


def test_datamodule_validates_on_held_out_training_clips(mafw_root: Path, dfew_root: Path) -> None:
    sources = [DataSource("mafw", str(mafw_root)), DataSource("dfew", str(dfew_root))]
    dm = ERVDataModule(
        train=sources, fold=1, val_fraction=0.5, val_seed=7, image_size=16, audio_features=False
    )
    assert (dm.hparams["val_fraction"], dm.hparams["val_seed"]) == (0.5, 7)  # saved in every checkpoint
    full = ERVDataModule(train=sources, fold=1).read_split("train")
    test = ERVDataModule(train=sources, fold=1).read_split("test")
    train, val = dm.read_split("train"), dm.read_split("val")
    ids = lambda listing: {(r.dataset, r.clip_id) for r in listing.records}  # noqa: E731
    assert ids(train) | ids(val) == ids(full)
    assert not ids(train) & ids(val)
    assert not ids(val) & ids(test)
    assert {r.split for r in val.records} == {"val"}
    assert ids(dm.read_split("test")) == ids(test)  # test lists are untouched
    again = ERVDataModule(train=sources, fold=1, val_fraction=0.5, val_seed=7).read_split("val")
    assert ids(again) == ids(val)
    assert len(dm.val_dataloader().dataset) == len(val)  # type: ignore[union-attr,arg-type]


def test_datamodule_rejects_val_sources_with_val_fraction(mafw_root: Path) -> None:
    source = DataSource("mafw", str(mafw_root))
    with pytest.raises(ValueError, match="either val sources or val_fraction, not both"):
        ERVDataModule(train=[source], val=[source], val_fraction=0.1)
    with pytest.raises(ValueError, match=r"val_fraction must lie in \[0, 1\), got -0.1"):
        ERVDataModule(train=[source], val_fraction=-0.1)
