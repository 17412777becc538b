"""The dataset registry: built-in kinds, clear errors, and a toy dataset added end to end (read, inspect, batch)."""

from __future__ import annotations

import csv
import json
from collections.abc import Iterator
from pathlib import Path

import pytest
import torch

from ervlight.cli import main
from ervlight.data.batch import MediaBatch
from ervlight.data.datamodule import ERVDataModule
from ervlight.data.records import ClipRecord, InvalidRow, SplitListing
from ervlight.data.registry import (
    DatasetKind,
    dataset_kinds,
    get_dataset_kind,
    read_source,
    register_dataset,
    unregister_dataset,
)
from ervlight.data.sources import DataSource
from ervlight.labels import LabelSpace, get_label_space, register_label_space, unregister_label_space
from mini_trees import write_clip

UNKNOWN = "unknown dataset kind 'foo'; registered: dfew, emer, mafw, r1omni"

# -- the toy dataset: everything "adding a dataset" takes, in this one file ------------------------------------
TOY = LabelSpace(name="toy", labels=("calm", "tense"), concepts=(("neutral",), ("anxiety",)))
TOY_SPLITS = {
    "train": [("c1", "calm"), ("c2", "tense"), ("c3", "calm"), ("bad", "bored")],
    "test": [("c4", "tense")],
}
TOY_SECONDS = {"c1": 1.0, "c2": 1.2, "c3": 0.8, "c4": 1.0}


def read_toy(source: DataSource, split: str | None, fold: int) -> SplitListing:
    """Toy layout: ``<root>/<split>.csv`` rows ``clip,label`` and ``<root>/clips/<clip>.mp4``."""
    split = split or "train"
    path = Path(source.root) / f"{split}.csv"
    listing = SplitListing(name=f"toy {split}")
    with path.open(encoding="utf-8", newline="") as handle:
        for line, (clip, text) in enumerate(csv.reader(handle), start=1):
            label = TOY.normalize(text)
            if label is None:
                listing.invalid.append(InvalidRow(f"{path}:{line}", f"label {text!r} is not a toy label"))
                continue
            video = Path(source.root) / "clips" / f"{clip}.mp4"
            listing.records.append(
                ClipRecord(clip, "toy", label, split, fold, video=video, audio=video, source=f"{path}:{line}")
            )
    return listing


@pytest.fixture(scope="module")
def toy_root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The toy tree: two split CSVs and four coded mp4 clips (one row with a bad label)."""
    root = tmp_path_factory.mktemp("toy")
    for split, rows in TOY_SPLITS.items():
        (root / f"{split}.csv").write_text("".join(f"{c},{lab}\n" for c, lab in rows), encoding="utf-8")
    for clip, seconds in TOY_SECONDS.items():
        write_clip(root / "clips" / f"{clip}.mp4", seconds, 25, (1, 16000))
    return root


@pytest.fixture
def toy_kind() -> Iterator[DatasetKind]:
    """``kind: toy`` registered for one test (and its label space), removed afterwards."""
    register_label_space(TOY)
    kind = register_dataset(DatasetKind("toy", read_toy, ("toy",), official_splits=True, title="Toy"))
    yield kind
    unregister_dataset("toy")
    unregister_label_space("toy")


# -- built-in kinds and errors -----------------------------------------------------------------------------------
def test_builtin_kinds() -> None:
    assert dataset_kinds() == ("dfew", "emer", "mafw", "r1omni")
    dfew, mafw = get_dataset_kind("dfew"), get_dataset_kind("mafw")
    assert (dfew.media, dfew.label_spaces, dfew.official_splits) == (
        ("video", "frames", "frames_16f"),
        ("dfew",),
        True,
    )
    assert (mafw.media, mafw.label_spaces, mafw.official_splits) == (
        ("video", "frames", "faces"), ("mafw", "mafw_compound"), True,
    )  # fmt: skip
    for name in ("r1omni", "emer"):
        kind = get_dataset_kind(name)
        assert (kind.media, kind.official_splits) == (("video",), False)


def test_unknown_kind_names_the_registered_ones(mafw_root: Path, capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(ValueError, match=f"^{UNKNOWN}$"):
        get_dataset_kind("foo")
    with pytest.raises(ValueError, match=f"^{UNKNOWN}$"):
        ERVDataModule(train=[DataSource("foo", str(mafw_root))])
    with pytest.raises(ValueError, match=f"^{UNKNOWN}$"):
        read_source(DataSource("foo", str(mafw_root)))
    with pytest.raises(SystemExit) as exit_info:
        main(["data", "inspect", "--dataset", "foo", "--root", str(mafw_root)])
    assert exit_info.value.code == 2
    err = capsys.readouterr().err
    assert "argument --dataset: invalid choice: 'foo'" in err
    assert "--dataset {dfew,emer,mafw,r1omni}" in err


def test_media_views_are_checked(dfew_root: Path, r1omni_json: Path) -> None:
    with pytest.raises(
        ValueError, match=r"^DFEW media must be 'video', 'frames' or 'frames_16f', got 'faces'$"
    ):
        read_source(DataSource("dfew", str(dfew_root), media="faces"))
    with pytest.raises(ValueError, match=r"^R1-Omni media must be 'video', got 'frames'$"):
        read_source(DataSource("r1omni", str(r1omni_json), media="frames"))


def test_registration_errors(toy_kind: DatasetKind) -> None:
    with pytest.raises(ValueError, match=r"^dataset kind 'toy' is already registered$"):
        register_dataset(toy_kind)
    with pytest.raises(ValueError, match=r"^unknown label space 'nope'"):
        register_dataset(DatasetKind("other", read_toy, ("nope",)))
    with pytest.raises(ValueError, match=r"^dataset kind names are lower case without spaces, got 'Toy2'$"):
        register_dataset(DatasetKind("Toy2", read_toy, ("toy",)))
    with pytest.raises(ValueError, match=r"^label space 'toy' is already registered$"):
        register_label_space(TOY)
    assert "other" not in dataset_kinds()


# -- the toy dataset end to end ----------------------------------------------------------------------------------
def test_toy_dataset_is_read(toy_kind: DatasetKind, toy_root: Path) -> None:
    assert dataset_kinds() == ("dfew", "emer", "mafw", "r1omni", "toy")
    listing = read_source(DataSource("toy", str(toy_root)), "train", 3)
    assert [(r.clip_id, r.label, r.split, r.fold, r.label_index) for r in listing.records] == [
        ("c1", "calm", "train", 3, 0), ("c2", "tense", "train", 3, 1), ("c3", "calm", "train", 3, 0),
    ]  # fmt: skip
    assert [(r.source, r.reason) for r in listing.invalid] == [
        (f"{toy_root / 'train.csv'}:4", "label 'bored' is not a toy label")
    ]
    assert get_label_space("toy").goemotions_labels("tense") == ("nervousness",)


def test_toy_dataset_is_inspected(
    toy_kind: DatasetKind, toy_root: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert (
        main(["data", "inspect", "--dataset", "toy", "--root", str(toy_root), "--fold", "2", "--json"]) == 0
    )
    report = json.loads(capsys.readouterr().out)
    assert (report["dataset"], report["fold"]) == ("toy", 2)
    train, test = report["splits"]["train"], report["splits"]["test"]
    assert (train["clips"], train["readable"], train["classes"]) == (3, 3, {"calm": 2, "tense": 1})
    assert train["duration_s"] == {"min": 0.8, "median": 1.0, "mean": 1.0, "max": 1.2}
    assert [row["reason"] for row in train["invalid_rows"]] == ["label 'bored' is not a toy label"]
    assert (test["clips"], test["classes"], test["no_audio"]) == (1, {"tense": 1}, [])


def test_toy_dataset_gives_media_batches(toy_kind: DatasetKind, toy_root: Path) -> None:
    dm = ERVDataModule(train=[DataSource("toy", str(toy_root))], num_frames=4, image_size=16, batch_size=2)
    dm.setup("fit")
    batches: list[MediaBatch] = list(dm.train_dataloader())
    assert [len(b) for b in batches] == [2, 1]
    assert sorted(c for b in batches for c in b.clip_ids) == ["c1", "c2", "c3"]
    batch = batches[0]
    assert batch.frames.shape == (2, 4, 3, 16, 16)
    assert batch.datasets == ["toy", "toy"]
    assert batch.labels.tolist() == [TOY.index(name) for name in batch.label_names]
    assert dm.val_dataloader() == []  # no validation unless asked for: the test list never validates
    test = list(dm.test_dataloader())  # an official-split kind tests on its test list by default
    assert [(b.clip_ids, b.label_names, b.labels.tolist()) for b in test] == [(["c4"], ["tense"], [1])]
    assert test[0].has_audio.tolist() == [True]
    assert test[0].frame_mask.dtype == torch.bool
