"""Folds, the official split files (exact bytes) and the EMER cold-start subset."""

from collections import Counter
from pathlib import Path

import numpy as np
import pytest

from ervlight.data.readers.dfew import read_dfew
from ervlight.data.readers.mafw import read_mafw
from ervlight.data.readers.r1omni import R1OMNI_QUESTION
from ervlight.demo.emer import build_emer
from ervlight.demo.generate import DemoSize
from ervlight.demo.plan import plan
from ervlight.demo.trees import assign_folds, clip_path, write_dfew_splits, write_mafw_splits
from ervlight.labels import DFEW, MAFW
from ervlight.parsing import parse_completion, split_sentences

TINY = DemoSize({"dfew": 6, "mafw": 5}, (1.0, 1.0), 0.5, {"train": 10, "val": 5, "test": 5})


def test_folds_are_stratified_and_balanced() -> None:
    labels = ["a"] * 12 + ["b"] * 7 + ["c"] * 3
    folds = assign_folds(labels, ["a", "b", "c"], np.random.default_rng(0))
    totals = Counter(folds)
    assert sorted(totals) == [1, 2, 3, 4, 5]
    assert max(totals.values()) - min(totals.values()) <= 1
    for label in "abc":
        per_fold = Counter(f for f, lab in zip(folds, labels, strict=True) if lab == label)
        assert max(per_fold.values()) - min(per_fold.values(), default=0) <= 1
    assert folds == assign_folds(labels, ["a", "b", "c"], np.random.default_rng(0))


def test_dfew_split_files_exact(tmp_path: Path) -> None:
    ids, labels, folds = ["00002", "00001", "00003"], ["fear", "happy", "disgust"], [1, 2, 1]
    write_dfew_splits(tmp_path, ids, labels, folds)
    split = tmp_path / "EmoLabel_DataSplit"
    assert (split / "test(single-labeled)" / "set_1.csv").read_bytes() == b"video_name,label\n2,7\n3,6\n"
    assert (split / "train(single-labeled)" / "set_1.csv").read_bytes() == b"video_name,label\n1,1\n"
    assert (
        split / "train(single-labeled)" / "set_3.csv"
    ).read_bytes() == b"video_name,label\n1,1\n2,7\n3,6\n"
    assert (split / "test(single-labeled)" / "set_3.csv").read_bytes() == b"video_name,label\n"
    assert sorted(p.name for p in split.iterdir()) == ["test(single-labeled)", "train(single-labeled)"]
    for clip_id in ids:  # the reader lists a clip as a record once its file exists
        (tmp_path / "Clip" / "original").mkdir(parents=True, exist_ok=True)
        (tmp_path / "Clip" / "original" / f"{clip_id}.mp4").touch()
    listing = read_dfew(tmp_path, "test", 1)
    assert listing.invalid == []
    assert listing.missing == []
    assert [(r.clip_id, r.label) for r in listing.records] == [("00002", "fear"), ("00003", "disgust")]


def test_mafw_split_files_exact(tmp_path: Path) -> None:
    ids, labels, folds = ["15120", "00025", "03747"], ["neutral", "anger", "contempt"], [1, 1, 2]
    captions = [
        ("He looks ahead.", "他看着前方。"),
        ("Her brows are lowered.", "眉头紧锁。"),
        ("One corner up.", "一侧嘴角上扬。"),
    ]
    write_mafw_splits(tmp_path, ids, labels, folds, captions)
    single = tmp_path / "Train & Test Set" / "single"
    assert (
        single / "no_caption" / "set_1" / "test.txt"
    ).read_bytes() == b"00025.mp4 anger\n15120.mp4 neutral\n"
    assert (single / "no_caption" / "set_1" / "train.txt").read_bytes() == b"03747.mp4 contempt\n"
    rich = (single / "with_caption" / "set_1" / "test.txt").read_bytes()
    assert rich == "00025.mp4\tanger\t眉头紧锁。\tHer brows are lowered.\n".encode("gbk")
    with pytest.raises(UnicodeDecodeError):
        rich.decode("utf-8")
    assert sorted(p.name for p in (single / "no_caption").iterdir()) == [f"set_{k}" for k in range(1, 6)]
    for clip_id in ids:
        (tmp_path / "data" / "clips").mkdir(parents=True, exist_ok=True)
        (tmp_path / "data" / "clips" / f"{clip_id}.mp4").touch()
    listing = read_mafw(tmp_path, "test", 1, captions=True)
    assert listing.invalid == []
    assert listing.missing == []
    assert listing.warnings == []
    assert [(r.clip_id, r.label, r.caption) for r in listing.records] == [
        ("00025", "anger", "Her brows are lowered.")
    ]


def test_plan_ids_labels_and_folds() -> None:
    plans = plan(TINY, seed=0)
    dfew, mafw = plans["dfew"], plans["mafw"]
    assert [s.clip_id for s in dfew.specs] == [f"{i:05d}" for i in range(1, 43)]
    assert Counter(s.label for s in dfew.specs) == dict.fromkeys(DFEW.labels, 6)
    mafw_ids = [int(s.clip_id) for s in mafw.specs]
    assert len(mafw_ids) == 55
    assert mafw_ids == sorted(set(mafw_ids))
    assert mafw_ids[0] >= 19
    assert mafw_ids[-1] < 20099
    assert mafw_ids != list(range(mafw_ids[0], mafw_ids[0] + 55))  # non-contiguous
    assert Counter(s.label for s in mafw.specs) == dict.fromkeys(MAFW.labels, 5)
    assert Counter(mafw.folds) == dict.fromkeys(range(1, 6), 11)
    assert plan(TINY, seed=0)["mafw"].specs == mafw.specs
    assert plan(TINY, seed=1)["mafw"].specs != mafw.specs


@pytest.mark.parametrize("fraction", [0.0, 0.3, 1.0])
def test_emer_subset(fraction: float) -> None:
    plans = plan(TINY, seed=0)
    emer = build_emer(plans, seed=0, share=0.5, incoherent_fraction=fraction)
    assert len(emer.records) == len(emer.clips) == 7 * 2 + 11 * 2  # round(0.5 * 4 or 5 train clips per class)
    train_fold1 = {
        (p.dataset, s.clip_id)
        for p in plans.values()
        for s, f in zip(p.specs, p.folds, strict=True)
        if f != 1
    }
    assert {(c["dataset"], c["clip_id"]) for c in emer.clips} <= train_fold1
    assert sum(c["incoherent_with"] is not None for c in emer.clips) == round(fraction * 36)
    for record, clip in zip(emer.records, emer.clips, strict=True):
        assert list(record) == ["video", "dataset", "conversations"]
        assert record["video"] == clip_path(clip["dataset"], clip["clip_id"]) == clip["video"]
        human, gpt = record["conversations"]
        assert human == {"from": "human", "value": R1OMNI_QUESTION}
        parsed = parse_completion(gpt["value"])
        space = DFEW if clip["dataset"] == "dfew" else MAFW
        assert parsed.well_formatted
        assert parsed.answer == space.export(clip["label"], "r1omni")
        assert gpt["value"].startswith("<think>")
        assert "</think>\n<answer>" in gpt["value"]
        assert len(split_sentences(parsed.think or "")) >= 3
    assert build_emer(plans, seed=0, share=0.5, incoherent_fraction=fraction) == emer
