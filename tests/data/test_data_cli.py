"""``ervlight data inspect`` and ``ervlight data export-r1omni`` on the miniature trees."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from ervlight.cli import main


def _inspect_json(capsys: pytest.CaptureFixture[str], *args: str) -> dict:
    assert main(["data", "inspect", *args, "--json"]) == 0
    return json.loads(capsys.readouterr().out)


def test_inspect_dfew_json(dfew_root: Path, capsys: pytest.CaptureFixture[str]) -> None:
    report = _inspect_json(capsys, "--dataset", "dfew", "--root", str(dfew_root), "--fold", "1")
    assert report["fold"] == 1
    train, test = report["splits"]["train"], report["splits"]["test"]
    assert (train["clips"], train["readable"], train["missing"], train["unreadable"]) == (9, 9, [], [])
    assert train["classes"] == {"happy": 1, "sad": 2, "neutral": 2, "angry": 2, "surprise": 1, "fear": 1}
    assert train["duration_s"] == {"min": 2.0, "median": 2.0, "mean": 2.0, "max": 2.0}
    assert test["classes"] == {"happy": 1, "disgust": 2}  # listed clips: the missing 00011 is a disgust clip
    assert [m["id"] for m in test["missing"]] == ["00011"]
    assert (test["clips"], test["readable"]) == (3, 2)


def test_inspect_dfew_frames(dfew_root: Path, capsys: pytest.CaptureFixture[str]) -> None:
    report = _inspect_json(
        capsys, "--dataset", "dfew", "--root", str(dfew_root), "--fold", "2", "--media", "frames"
    )
    test = report["splits"]["test"]
    assert [m["id"] for m in test["missing"]] == ["00012"]
    assert test["duration_s"]["max"] == 105 / 25
    assert report["splits"]["train"]["no_audio"] == ["00011"]


def test_inspect_mafw_unreadable_and_no_audio(
    mafw_root: Path, bad_media: dict[str, Path], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    root = tmp_path / "MAFW"
    shutil.copytree(mafw_root / "Train & Test Set", root / "Train_Test_Set")
    shutil.copytree(mafw_root / "data" / "clips", root / "data" / "clips")
    shutil.copyfile(bad_media["zero_byte"], root / "data" / "clips" / "05120.mp4")
    shutil.copyfile(bad_media["truncated_indexed"], root / "data" / "clips" / "18000.mp4")
    shutil.copyfile(bad_media["no_video"], root / "data" / "clips" / "00019.mp4")
    (root / "data" / "clips" / "00903.mp4").unlink()
    report = _inspect_json(
        capsys, "--dataset", "mafw", "--root", str(root), "--view", "compound", "--fold", "3"
    )
    test = report["splits"]["test"]
    assert (test["clips"], test["readable"]) == (2, 1)  # listed = readable + missing + unreadable
    assert [m["id"] for m in test["missing"]] == ["00903"]
    train = report["splits"]["train"]
    assert train["clips"] == 10
    assert [(u["id"], u["kind"]) for u in train["unreadable"]] == [
        ("00019", "no_video"),
        ("05120", "empty"),
        ("18000", "truncated"),
    ]
    assert train["classes"]["anger_disgust"] == 1


def test_inspect_text_output(mafw_root: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["data", "inspect", "--dataset", "mafw", "--root", str(mafw_root), "--fold", "3"]) == 0
    out = capsys.readouterr().out
    assert f"mafw fold 3 at {mafw_root}" in out
    assert "[test] 3 clips, 3 readable, 0 missing, 0 unreadable, 1 without audio, 0 bad rows" in out
    assert "  without audio: 00903" in out


def test_inspect_json_files(r1omni_root: Path, capsys: pytest.CaptureFixture[str]) -> None:
    report = _inspect_json(capsys, "--dataset", "r1omni", "--root", str(r1omni_root / "train.json"))
    assert report["fold"] is None
    assert report["splits"]["train"]["classes"] == {
        "mafw:anger": 1,
        "mafw:contempt": 1,
        "mafw:anxiety": 1,
        "dfew:happy": 1,
        "dfew:sad": 1,
        "dfew:disgust": 1,
    }
    assert report["splits"]["train"]["clips"] == 6


def test_inspect_bad_root(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["data", "inspect", "--dataset", "mafw", "--root", str(tmp_path)]) == 2
    assert "no MAFW single/no_caption train list for fold 1" in capsys.readouterr().err


def test_export_then_read_back(mafw_root: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "json" / "mafw_test.json"
    args = [
        "--dataset",
        "mafw",
        "--root",
        str(mafw_root),
        "--split",
        "test",
        "--fold",
        "2",
        "--output",
        str(out),
    ]
    assert main(["data", "export-r1omni", *args, "--relative-to", str(mafw_root)]) == 0
    assert f"wrote 3 records of mafw single fold 2 test to {out}" in capsys.readouterr().out
    data = json.loads(out.read_text())
    assert [(d["video"], d["conversations"][1]["value"], d["dataset"]) for d in data] == [
        ("data/clips/00025.mp4", "angry", "mafw"),
        ("data/clips/07777.mp4", "surprise", "mafw"),
        ("data/clips/20045.mp4", "disgust", "mafw"),
    ]
    report = _inspect_json(capsys, "--dataset", "r1omni", "--root", str(out), "--media-root", str(mafw_root))
    assert report["splits"]["mafw_test"]["classes"] == {"anger": 1, "disgust": 1, "surprise": 1}


def test_export_reports_what_it_cannot_write(
    dfew_root: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    args = [
        "--dataset",
        "dfew",
        "--root",
        str(dfew_root),
        "--split",
        "test",
        "--output",
        str(tmp_path / "x.json"),
    ]
    assert main(["data", "export-r1omni", *args]) == 0
    err = capsys.readouterr().err
    assert "not written 00011: missing on disk" in err
    assert len(json.loads((tmp_path / "x.json").read_text())) == 2
