"""Fault suite, #15 rows 8 and 10: ``ervlight report`` refuses duplicate clips, owns its folder, names bad bytes."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from ervlight.evaluation import report_cli
from ervlight.evaluation.predictions import PredictionRecord, write_predictions
from ervlight.verifier import VerifierModule
from ervlight.verifier.cli import main as verifier_main
from verifier.conftest import tiny_bert_dir  # noqa: F401  (fixture used by verifier_dir)

OWNED_PNGS = {"confusion_dfew_fold1.png", "confusion_dfew_fold2.png", "per_class_recall_dfew.png",
              "explanation_agreement.png"}  # fmt: skip


class KeywordJudge:
    """Names ``happy`` for a rationale with "joy", else ``None`` (or always ``constant``)."""

    def __init__(self, name: str, constant: str | None = None) -> None:
        self.name, self.constant = name, constant

    def judge(self, rationales: list[str], dataset: str) -> list[str | None]:
        return [self.constant or ("happy" if "joy" in text else None) for text in rationales]


def records() -> list[PredictionRecord]:
    """Four DFEW clips over two folds."""
    return [
        PredictionRecord("a", "dfew", 1, "happy", "<think>Joy.</think><answer>happy</answer>"),
        PredictionRecord("b", "dfew", 1, "sad", "<think>Tears.</think><answer>sad</answer>"),
        PredictionRecord("c", "dfew", 2, "fear", "<think>joy</think><answer>happy</answer>"),
        PredictionRecord("d", "dfew", 2, "angry", "no tags"),
    ]


@pytest.fixture
def keyword_judge(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(report_cli, "load_judge", lambda spec: KeywordJudge(spec))


def test_duplicate_clip_row_is_refused_and_nothing_is_written(
    tmp_path: Path, keyword_judge: None, capsys: pytest.CaptureFixture[str]
) -> None:
    path = write_predictions([*records(), records()[1]], tmp_path / "predictions.jsonl")
    out = tmp_path / "report"
    assert report_cli.main(["--predictions", str(path), "--judge", "kw", "--out", str(out)]) == 2
    err = capsys.readouterr().err
    assert err == (f"ervlight report: {path}:5: clip b (dfew fold 1) is listed twice (first at {path}:2); a clip "
                   "counts once: remove the duplicate row\n")  # fmt: skip
    assert not out.exists()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["predictions.jsonl"]


def test_duplicate_across_files_is_refused(
    tmp_path: Path, keyword_judge: None, capsys: pytest.CaptureFixture[str]
) -> None:
    first = write_predictions(records()[:2], tmp_path / "a.jsonl")
    second = write_predictions(records()[1:3], tmp_path / "b.jsonl")
    argv = ["--predictions", str(first), str(second), "--judge", "kw", "--out", str(tmp_path / "r")]
    assert report_cli.main(argv) == 2
    assert f"{second}:1: clip b (dfew fold 1) is listed twice (first at {first}:2)" in capsys.readouterr().err


def test_rerun_into_an_existing_folder_replaces_only_report_files(
    tmp_path: Path, keyword_judge: None
) -> None:
    out = tmp_path / "report"
    (out / "tensorboard").mkdir(parents=True)
    (out / "tensorboard" / "events.out.tfevents.old").write_bytes(b"stale")
    (out / "confusion_dfew_fold9.png").write_bytes(b"stale figure of an earlier run")
    (out / "notes.txt").write_text("mine")
    path = write_predictions(records(), tmp_path / "predictions.jsonl")
    argv = ["--predictions", str(path), "--judge", "kw", "--out", str(out)]
    assert report_cli.main(argv) == 0
    assert report_cli.main(argv) == 0  # a second run: still one report's files
    assert {p.name for p in out.glob("*.png")} == OWNED_PNGS
    events = list((out / "tensorboard").iterdir())
    assert len(events) == 1
    assert events[0].name.startswith("events.out.tfevents.")
    assert events[0].name != "events.out.tfevents.old"
    assert (out / "notes.txt").read_text() == "mine"  # not a report file: left alone
    assert sorted(p.name for p in tmp_path.iterdir()) == ["predictions.jsonl", "report"]  # no staging left


def test_failing_report_leaves_the_previous_one_untouched(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    out = tmp_path / "report"
    path = write_predictions(records(), tmp_path / "predictions.jsonl")
    monkeypatch.setattr(report_cli, "load_judge", lambda spec: KeywordJudge(spec))
    assert (
        report_cli.main(["--predictions", str(path), "--judge", "kw", "--out", str(out), "--no-tensorboard"])
        == 0
    )
    before = {p.name: p.read_bytes() for p in out.iterdir()}
    broken = KeywordJudge("kw", constant="not a dfew label")  # the judge answers outside the label space
    monkeypatch.setattr(report_cli, "load_judge", lambda spec: broken)
    assert report_cli.main(["--predictions", str(path), "--judge", "kw", "--out", str(out)]) == 2
    assert {p.name: p.read_bytes() for p in out.iterdir()} == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["predictions.jsonl", "report"]


def test_non_utf8_predictions_name_the_file_and_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "predictions.jsonl"
    good = json.dumps({"clip_id": "a", "dataset": "dfew", "fold": 1, "gold": "happy", "completion": "x"})
    path.write_bytes(good.encode() + b"\n" + b'{"clip_id": "b\xff"}\n')
    out = tmp_path / "report"
    assert report_cli.main(["--predictions", str(path), "--judge", "kw", "--out", str(out)]) == 2
    assert capsys.readouterr().err == (
        f"ervlight report: {path}:2: not UTF-8 text (byte 0xff at column 15); save it as UTF-8\n"
    )
    assert not out.exists()


@pytest.fixture(scope="module")
def verifier_dir(tiny_bert_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:  # noqa: F811
    """An exported GoEmotions verifier (untrained head)."""
    return VerifierModule(backbone=str(tiny_bert_dir)).save_pretrained(
        tmp_path_factory.mktemp("v") / "verifier"
    )


def test_non_utf8_verifier_input_names_the_file_and_line(
    verifier_dir: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    source = tmp_path / "in.jsonl"
    source.write_bytes(
        b'{"completion": "<think>x.</think>", "label": "angry"}\n{"completion": "\xe9t\xe9"}\n'
    )
    target = tmp_path / "scored.jsonl"
    args = ["score", "--verifier", str(verifier_dir), "--input", str(source), "--output", str(target),
            "--dataset", "dfew"]  # fmt: skip
    assert verifier_main(args) == 2
    assert f"{source}:2: not UTF-8 text (byte 0xe9 at column 17); save it as UTF-8" in capsys.readouterr().err
    assert not target.exists()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["in.jsonl"]
