"""Readers: DFEW CSVs, MAFW lists (single/compound, captions, GBK, CRLF, renamed folders), R1-Omni/EMER JSON."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from ervlight.data.errors import DatasetFormatError, DatasetLayoutError
from ervlight.data.readers.dfew import read_dfew
from ervlight.data.readers.mafw import read_mafw
from ervlight.data.readers.r1omni import read_r1omni, write_r1omni
from ervlight.labels import DFEW
from mini_trees import DFEW_CLIPS, MAFW_CLIPS, dfew_test_fold, mafw_test_fold


def test_dfew_test_split_labels_fold_and_missing(dfew_root: Path) -> None:
    listing = read_dfew(dfew_root, "test", fold=1)
    assert [(r.clip_id, r.label, r.fold, r.split) for r in listing.records] == [
        ("00001", "happy", 1, "test"),
        ("00006", "disgust", 1, "test"),
    ]
    assert [m.clip_id for m in listing.missing] == ["00011"]
    assert listing.missing[0].expected.endswith("Clip/original/00011.mp4")
    assert listing.records[0].video == dfew_root / "Clip" / "original" / "00001.mp4"
    assert listing.records[0].audio == listing.records[0].video
    assert listing.records[0].source.endswith("test(single-labeled)/set_1.csv:2")


@pytest.mark.parametrize("fold", [1, 2, 3, 4, 5])
def test_dfew_every_clip_in_exactly_one_test_fold(dfew_root: Path, fold: int) -> None:
    test = read_dfew(dfew_root, "test", fold)
    train = read_dfew(dfew_root, "train", fold)
    listed_test = {r.clip_id for r in test.records} | {m.clip_id for m in test.missing}
    listed_train = {r.clip_id for r in train.records} | {m.clip_id for m in train.missing}
    assert listed_test == {f"{i:05d}" for i in DFEW_CLIPS if dfew_test_fold(i) == fold}
    assert listed_train == {f"{i:05d}" for i in DFEW_CLIPS} - listed_test
    expected = {f"{i:05d}": DFEW.from_official_id(DFEW_CLIPS[i][0]) for i in DFEW_CLIPS}
    assert all(r.label == expected[r.clip_id] for r in train.records + test.records)


def test_dfew_frame_layouts_and_audio_from_the_mp4(dfew_root: Path) -> None:
    frames = read_dfew(dfew_root, "test", fold=2, media="frames")
    assert [r.clip_id for r in frames.records] == ["00002", "00007"]
    assert [m.clip_id for m in frames.missing] == ["00012"]
    assert frames.records[0].frames_dir == dfew_root / "Clip" / "clip_224x224" / "00002"
    assert frames.records[0].video is None
    assert frames.records[0].audio == dfew_root / "Clip" / "original" / "00002.mp4"
    sixteen = read_dfew(dfew_root, "train", fold=1, media="frames_16f")
    assert [m.clip_id for m in sixteen.missing] == ["00012"]
    assert len(sixteen.records) == 8


@pytest.mark.parametrize(
    "name", ["train(single_labeled)", "train_single-labeled", "train", "Train(Single-Labeled)"]
)
def test_dfew_split_folder_variants(dfew_root: Path, tmp_path: Path, name: str) -> None:
    root = tmp_path / "DFEW"
    (root / "labels").mkdir(parents=True)
    shutil.copytree(dfew_root / "EmoLabel_DataSplit" / "train(single-labeled)", root / "labels" / name)
    (root / "Clip").symlink_to(dfew_root / "Clip")
    listing = read_dfew(root, "train", fold=3)
    assert len(listing.records) + len(listing.missing) == 10


def test_dfew_bad_rows_and_label_zero_are_reported(tmp_path: Path, dfew_root: Path) -> None:
    root = tmp_path / "DFEW"
    split = root / "EmoLabel_DataSplit" / "test(single-labeled)"
    split.mkdir(parents=True)
    (split / "set_1.csv").write_bytes(b"video_name,label\n1,0\nabc,3\n6,9\n00001,Happy\n")
    (root / "Clip").symlink_to(dfew_root / "Clip")
    listing = read_dfew(root, "test", 1)
    assert [r.clip_id for r in listing.records] == ["00001"]
    assert [(Path(i.source).name, i.reason.split(" ")[0]) for i in listing.invalid] == [
        ("set_1.csv:2", "label"),
        ("set_1.csv:3", "expected"),
        ("set_1.csv:4", "label"),
    ]


def test_dfew_missing_split_is_a_layout_error(tmp_path: Path) -> None:
    with pytest.raises(DatasetLayoutError, match=r"no DFEW test split file for fold 2 .*set_2.csv"):
        read_dfew(tmp_path, "test", 2)


def test_mafw_single_no_caption(mafw_root: Path) -> None:
    listing = read_mafw(mafw_root, "test", fold=1)
    assert [(r.clip_id, r.label, r.dataset) for r in listing.records] == [
        ("00019", "happiness", "mafw"),
        ("05120", "sadness", "mafw"),
        ("18000", "disappointment", "mafw"),
    ]
    assert listing.records[0].video == mafw_root / "data" / "clips" / "00019.mp4"
    assert listing.records[0].caption is None
    assert not listing.missing
    assert not listing.invalid


@pytest.mark.parametrize("fold", [1, 2, 3, 4, 5])
def test_mafw_folds_partition_the_clips(mafw_root: Path, fold: int) -> None:
    test = {r.clip_id for r in read_mafw(mafw_root, "test", fold).records}
    train = {r.clip_id for r in read_mafw(mafw_root, "train", fold).records}
    assert test == {c for c in MAFW_CLIPS if mafw_test_fold(c) == fold}
    assert train == set(MAFW_CLIPS) - test


def test_mafw_compound_labels(mafw_root: Path) -> None:
    listing = read_mafw(mafw_root, "train", fold=1, view="compound")
    labels = {r.clip_id: r.label for r in listing.records}
    assert labels["00025"] == "anger_disgust"
    assert labels["01234"] == "fear_surprise_anxiety"
    assert "10001" not in labels
    assert {r.dataset for r in listing.records} == {"mafw_compound"}
    assert listing.records[0].label_index == 11  # anger_disgust, the first combination


def test_mafw_with_caption_gbk(mafw_root: Path) -> None:
    listing = read_mafw(mafw_root, "test", fold=3, captions=True)
    assert [(r.clip_id, r.label, r.caption) for r in listing.records] == [
        ("10001", "contempt", "A woman glances sideways and curls her lip.")
    ]
    assert not listing.warnings


def test_mafw_frames_layout_reports_missing_and_takes_audio(mafw_root: Path) -> None:
    listing = read_mafw(mafw_root, "test", fold=3, media="frames")
    assert [r.clip_id for r in listing.records] == ["00903", "10001"]
    assert [m.clip_id for m in listing.missing] == ["20098"]
    assert listing.records[1].audio == mafw_root / "data" / "clips" / "10001.mp4"


@pytest.mark.parametrize("name", ["Train_Test_Set", "split", "anno"])
def test_mafw_renamed_split_folders(mafw_root: Path, tmp_path: Path, name: str) -> None:
    root = tmp_path / "MAFW"
    root.mkdir()
    shutil.copytree(mafw_root / "Train & Test Set", root / name)
    (root / "data").symlink_to(mafw_root / "data")
    listing = read_mafw(root, "train", fold=2, view="compound")
    assert len(listing.records) == 9


def test_mafw_bad_label_bad_line_and_bad_bytes(mafw_root: Path, tmp_path: Path) -> None:
    root = tmp_path / "MAFW"
    lists = root / "split" / "single" / "with_caption" / "set_1"
    lists.mkdir(parents=True)
    good = "00025.mp4\tanger\t一个男人\tA man.".encode("gbk")
    (lists / "test.txt").write_bytes(
        good + b"\r\n00019.mp4\tjoyful\t-\t-\r\nlonely\r\n07777.mp4\tsurprise\t\xff\xfe\tX\r\n"
    )
    (root / "data").symlink_to(mafw_root / "data")
    listing = read_mafw(root, "test", 1, captions=True)
    assert [(r.clip_id, r.caption) for r in listing.records] == [("00025", "A man."), ("07777", "X")]
    assert [Path(i.source).name for i in listing.invalid] == ["test.txt:2", "test.txt:3"]
    assert "'joyful' is not a mafw label" in listing.invalid[0].reason
    assert len(listing.warnings) == 1
    assert "are not valid gbk/gb18030/utf-8-sig; replaced with U+FFFD" in listing.warnings[0]


def test_r1omni_json(r1omni_json: Path, r1omni_root: Path) -> None:
    listing = read_r1omni(r1omni_json)
    assert [(r.clip_id, r.dataset, r.label) for r in listing.records] == [
        ("00025", "mafw", "anger"),
        ("10001", "mafw", "contempt"),
        ("12345", "mafw", "anxiety"),
        ("1", "dfew", "happy"),
        ("6", "dfew", "disgust"),
        ("2", "dfew", "sad"),
    ]
    assert listing.records[0].video == r1omni_root / "MAFW" / "videos" / "00025.mp4"
    assert all(r.target is None for r in listing.records)
    assert listing.records[0].split == "train"


def test_emer_json_keeps_targets(emer_json: Path) -> None:
    listing = read_r1omni(emer_json)
    assert listing.records[2].label == "anxiety"
    assert listing.records[2].target == (
        "<think>He keeps rubbing his hands. His eyes dart around the room.</think>\n<answer>anxious</answer>"
    )


def test_r1omni_media_root_missing_and_invalid(tmp_path: Path, r1omni_root: Path) -> None:
    records = [
        {"video": "MAFW/videos/00025.mp4", "conversations": [{"from": "human", "value": "q"}, {"from": "gpt",
            "value": "Angry."}]},
        {"video": "MAFW/videos/99999.mp4", "conversations": [{"from": "gpt", "value": "sad"}]},
        {"video": "DFEW/videos/1.mp4", "solution": "<answer> happy </answer>"},
        {"video": "DFEW/videos/1.mp4", "conversations": [{"from": "gpt", "value": "contemptuous"}]},
        {"conversations": []},
        {"video": "x.mp4", "dataset": "afew", "solution": "sad"},
    ]  # fmt: skip
    path = tmp_path / "eval.json"
    path.write_text(json.dumps(records))
    listing = read_r1omni(path, media_root=r1omni_root)
    assert [(r.clip_id, r.label) for r in listing.records] == [("00025", "anger"), ("1", "happy")]
    assert [m.clip_id for m in listing.missing] == ["99999"]
    assert [i.source.rsplit("#")[1] for i in listing.invalid] == ["3", "4", "5"]
    assert listing.invalid[0].reason == "answer 'contemptuous' is not a dfew label"
    assert listing.invalid[1].reason == "record has no 'video' string"
    assert listing.invalid[2].reason.startswith("unknown label space 'afew'; expected one of dfew, mafw")


def test_r1omni_bad_json_names_file_and_line(tmp_path: Path) -> None:
    path = tmp_path / "broken.json"
    path.write_text('[{"video": "a.mp4",\n "conversations": [}]')
    with pytest.raises(DatasetFormatError, match=r"broken.json:2: invalid JSON"):
        read_r1omni(path)
    path.write_text('{"video": "a.mp4"}')
    with pytest.raises(DatasetFormatError, match="expected a JSON list of records, got dict"):
        read_r1omni(path)
    path.write_bytes(b'["\xff"]')
    with pytest.raises(DatasetFormatError, match="not UTF-8 JSON"):
        read_r1omni(path)


def test_export_round_trip(mafw_root: Path, emer_json: Path, tmp_path: Path) -> None:
    listing = read_mafw(mafw_root, "train", fold=1, view="compound")
    out = tmp_path / "out" / "train.json"
    written, skipped = write_r1omni(listing.records, out, media_root=mafw_root)
    assert (written, skipped) == (len(listing.records), [])
    data = json.loads(out.read_text())
    by_video = {d["video"]: d["conversations"][1]["value"] for d in data}
    assert by_video["data/clips/00025.mp4"] == "angry_disgust"
    assert by_video["data/clips/20045.mp4"] == "disgust"
    back = read_r1omni(out, media_root=mafw_root)
    assert [(r.clip_id, r.label, r.dataset) for r in back.records] == [
        (r.clip_id, r.label, r.dataset) for r in listing.records
    ]
    emer = read_r1omni(emer_json)
    write_r1omni(emer.records, tmp_path / "emer_copy.json", media_root=emer_json.parent)
    assert [
        r.target for r in read_r1omni(tmp_path / "emer_copy.json", media_root=emer_json.parent).records
    ] == [r.target for r in emer.records]


def test_export_skips_frame_records(dfew_root: Path, tmp_path: Path) -> None:
    listing = read_dfew(dfew_root, "test", fold=1, media="frames")
    written, skipped = write_r1omni(listing.records, tmp_path / "x.json")
    assert written == 0
    assert [r.clip_id for r in skipped] == ["00001", "00006", "00011"]
