"""The consistency report: hand-counted metrics per fold, mean ± std, files, figures, rater CSV, CLI."""

from __future__ import annotations

import csv
import json
import math
from collections.abc import Sequence
from pathlib import Path

import pytest
import torch
from PIL import Image

from ervlight.evaluation import report_cli
from ervlight.evaluation.judge import Judge
from ervlight.evaluation.predictions import PredictionRecord, read_predictions, write_predictions
from ervlight.evaluation.report import build_report, comparison_table, load_metrics, sentence_labels
from ervlight.labels import GOEMOTIONS
from ervlight.verifier import VerifierJudge

#: keyword -> (DFEW label, GoEmotions label) for the stub judge and stub sentence verifier.
KEYWORDS = {"joy": ("happy", "joy"), "sorrow": ("sad", "sadness"), "terror": ("fear", "fear")}


class KeywordJudge:
    """Names the DFEW label of the first keyword in a rationale; ``None`` without one."""

    def __init__(self, name: str = "keywords", constant: str | None = None) -> None:
        self.name = name
        self.constant = constant
        self.calls: list[list[str]] = []

    def judge(self, rationales: list[str], dataset: str) -> list[str | None]:
        self.calls.append(list(rationales))
        if self.constant is not None:
            return [self.constant] * len(rationales)
        out: list[str | None] = []
        for text in rationales:
            found = [label for word, (label, _) in KEYWORDS.items() if word in text.lower()]
            out.append(found[0] if found else None)
        return out


class KeywordVerifier:
    """A sentence verifier over GoEmotions: 0.9 for a keyword's emotion, else 0.8 neutral."""

    labels = GOEMOTIONS.labels

    def probabilities(self, sentences: Sequence[str]) -> torch.Tensor:
        probs = torch.full((len(sentences), len(self.labels)), 0.01)
        for row, sentence in enumerate(sentences):
            hits = [go for word, (_, go) in KEYWORDS.items() if word in sentence.lower()]
            for go in hits:
                probs[row, self.labels.index(go)] = 0.9
            if not hits:
                probs[row, self.labels.index("neutral")] = 0.8
        return probs


def records() -> list[PredictionRecord]:
    """Fold 1: 4 clips (2 correct, 2 unparseable, 2 unjudged, 1 unformatted); fold 2: 2 clips."""
    return [
        PredictionRecord(
            "a", "dfew", 1, "happy", "<think>She beams with joy.</think>\n<answer>happy</answer>"
        ),
        PredictionRecord("b", "dfew", 1, "sad", "<think>Pure joy. Nothing else.</think><answer>sad</answer>"),
        PredictionRecord("c", "dfew", 1, "angry", "<think>Nothing here.</think><answer>furious</answer>"),
        PredictionRecord("d", "dfew", 1, "sad", "no tags, sad"),
        PredictionRecord("e", "dfew", 2, "fear", "<think>Terror grips him.</think><answer>fear</answer>"),
        PredictionRecord("f", "dfew", 2, "happy", "<think>Tears of sorrow.</think><answer>sad</answer>"),
    ]


def test_report_metrics_match_hand_counts_per_fold_and_summary(tmp_path: Path) -> None:
    report = build_report(
        records(), [KeywordJudge()], tmp_path / "r", name="toy", sentence_verifier=KeywordVerifier()
    )
    fold1, fold2 = report.groups
    assert (fold1.key, fold1.num_clips, fold2.key, fold2.num_clips) == ("dfew/fold1", 4, "dfew/fold2", 2)
    expected1 = {"war": 0.5, "uar": 0.5, "eea": 0.25, "epc": 0.25, "fcr": 0.25, "fcr_given_correct": 0.5,
                 "format_rate": 0.75, "unparseable_rate": 0.5, "unjudged": 2.0}  # fmt: skip
    assert fold1.metrics == pytest.approx(expected1)
    expected2 = {"war": 0.5, "uar": 0.5, "eea": 0.5, "epc": 1.0, "fcr": 0.5, "fcr_given_correct": 1.0,
                 "format_rate": 1.0, "unparseable_rate": 0.0, "unjudged": 0.0}  # fmt: skip
    assert fold2.metrics == pytest.approx(expected2)
    assert fold1.per_class_recall["happy"] == 1.0
    assert fold1.per_class_recall["sad"] == 0.5
    assert math.isnan(fold1.per_class_recall["fear"])
    # confusion row "sad": one sad answer, one unparseable (last column)
    assert fold1.confusion[1] == [0, 1, 0, 0, 0, 0, 0, 1]
    eea = report.summary["dfew"]["eea"]
    assert eea["mean"] == pytest.approx(0.375)
    assert eea["std"] == pytest.approx(0.1767767)
    assert eea["folds"] == 2


def test_report_folder_files(tmp_path: Path) -> None:
    out = tmp_path / "r"
    build_report(records(), [KeywordJudge(), KeywordJudge("always-sad", "sad")], out, name="toy",
                 sentence_verifier=KeywordVerifier())  # fmt: skip
    stems = {p.name for p in out.glob("*.png")}
    assert stems == {"confusion_dfew_fold1.png", "confusion_dfew_fold2.png", "per_class_recall_dfew.png",
                     "explanation_agreement.png"}  # fmt: skip
    for png in out.glob("*.png"):
        with Image.open(png) as image:
            assert image.format == "PNG"
            assert image.width > 100
            assert image.height > 100
    metrics = load_metrics(out)
    assert metrics["judge"] == "keywords"
    assert len(metrics["groups"]) == 2
    assert metrics["groups"][0]["per_class_recall"]["fear"] is None
    assert metrics["groups"][0]["confusion_matrix"]["columns"][-1] == "unparseable"
    (agreement,) = metrics["agreement"]
    assert agreement["judges"] == ["keywords", "always-sad"]
    assert agreement["num_items"] == 6
    assert agreement["unjudged"] == [2, 1]  # "d" has no rationale: no judge sees it
    markdown = (out / "report.md").read_text()
    assert "| mean ± std | 6 | 50.0 ± 0.0 | 50.0 ± 0.0 | 37.5 ± 17.7 | 62.5 ± 53.0 |" in markdown
    assert "| 1 | 4 | 50.0 | 50.0 | 25.0 | 25.0 | 25.0 | 50.0 | 75.0 | 50.0 | 2 |" in markdown
    assert "![explanation_agreement](explanation_agreement.png)" in markdown
    with (out / "predictions.csv").open(newline="") as handle:
        rows = list(csv.DictReader(handle))
    assert [r["clip"] for r in rows] == ["a", "b", "c", "d", "e", "f"]
    assert rows[1]["verifier_sentences"] == "1: joy | 2: neutral"
    assert (rows[1]["answer"], rows[1]["correct"], rows[1]["judge:keywords"], rows[1]["judge:always-sad"]) == (
        "sad", "1", "happy", "sad"
    )  # fmt: skip
    assert (rows[3]["rationale"], rows[3]["well_formatted"], rows[3]["judge:keywords"]) == ("", "0", "")
    assert rows[0]["rater_score"] == ""
    assert list((out / "tensorboard").glob("events.out.tfevents.*"))


def test_sentence_labels_follow_the_reward_rule() -> None:
    labels = sentence_labels(["Joy and sorrow. Calm.", None], KeywordVerifier())
    assert labels == ["1: joy, sadness | 2: neutral", ""]


def test_per_sentence_labels_come_from_a_verifier_judge(tmp_path: Path) -> None:
    def column(judge: Judge, out: Path) -> list[str]:
        build_report(records(), [judge], out, name="toy", tensorboard=False)
        with (out / "predictions.csv").open(newline="") as handle:
            return [row["verifier_sentences"] for row in csv.DictReader(handle)]

    judged = column(VerifierJudge(KeywordVerifier(), name="erv"), tmp_path / "v")
    assert judged == ["1: joy", "1: joy | 2: neutral", "1: neutral", "", "1: fear", "1: sadness"]
    assert column(KeywordJudge(), tmp_path / "k") == [""] * 6  # not a verifier judge: no sentence labels


def test_comparison_table_rows_per_run_and_dataset(tmp_path: Path) -> None:
    report = build_report(records(), [KeywordJudge()], None, name="toy")
    table = comparison_table({"A": report.to_dict(), "B": report.to_dict()})
    lines = table.splitlines()
    assert lines[0] == "| run | dataset | folds | WAR | UAR | EEA | EPC | FCR |"
    assert lines[2] == "| A | dfew | 2 | 50.0 ± 0.0 | 50.0 ± 0.0 | 37.5 ± 17.7 | 62.5 ± 53.0 | 37.5 ± 17.7 |"
    assert len(lines) == 4


def test_build_report_rejects_no_judge_and_duplicate_names() -> None:
    with pytest.raises(ValueError, match="at least one judge"):
        build_report(records(), [], None)
    with pytest.raises(ValueError, match="judge names must differ"):
        build_report(records(), [KeywordJudge(), KeywordJudge()], None)


def test_predictions_round_trip_and_errors_name_the_line(tmp_path: Path) -> None:
    path = write_predictions(records(), tmp_path / "p" / "predictions.jsonl")
    assert read_predictions([path]) == records()
    bad = tmp_path / "bad.jsonl"
    bad.write_text(json.dumps({"clip_id": "x", "dataset": "dfew", "gold": "bored", "completion": ""}) + "\n")
    with pytest.raises(ValueError, match=r"bad.jsonl:1: gold label 'bored' is not a dfew label"):
        read_predictions([bad])
    bad.write_text('{"clip_id": "x"}\n')
    with pytest.raises(ValueError, match=r"bad.jsonl:1: missing field\(s\) dataset, gold, completion"):
        read_predictions([bad])


def test_report_command_writes_and_compares(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    path = write_predictions(records(), tmp_path / "predictions.jsonl")
    monkeypatch.setattr(report_cli, "load_judge", lambda spec: KeywordJudge(spec))
    out = tmp_path / "report"
    argv = ["--predictions", str(path), "--judge", "kw", "--out", str(out), "--no-tensorboard"]
    assert report_cli.main(argv) == 0
    printed = capsys.readouterr().out
    assert "| report | dfew | 2 | 50.0 ± 0.0 |" in printed
    assert f"report written to {out}" in printed
    assert not (out / "tensorboard").exists()
    assert (out / "metrics.json").is_file()
    assert report_cli.main(["--compare", f"ERV={out}"]) == 0
    assert "| ERV | dfew | 2 |" in capsys.readouterr().out
    assert report_cli.main(["--compare", str(tmp_path)]) == 2
    assert "is not a report folder (no metrics.json)" in capsys.readouterr().err


def test_load_judge_from_class_path_yaml_and_bad_spec(tmp_path: Path) -> None:
    config = tmp_path / "judge.yaml"
    config.write_text(
        "class_path: ervlight.evaluation.llm_judge.LLMJudge\n"
        "init_args: {base_url: 'http://127.0.0.1:9/v1/', model: judge-mini}\n"
    )
    judge = report_cli.load_judge(f"gpt={config}")
    assert (type(judge).__name__, judge.name) == ("LLMJudge", "gpt")
    with pytest.raises(ValueError, match="expected a verifier folder"):
        report_cli.load_judge(str(tmp_path / "missing"))


def test_report_figures_plot_the_report_numbers_in_each_format(tmp_path: Path) -> None:
    import matplotlib.pyplot as plt
    import numpy as np
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    from ervlight.evaluation.report_files import write_figures

    report = build_report(records(), [KeywordJudge()], None, name="toy")
    figures = write_figures(report, tmp_path, ["svg", "pdf", "svg"])
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(
        f"{stem}.{fmt}" for stem in figures for fmt in ("png", "pdf", "svg")
    )
    confusion = figures["confusion_dfew_fold1"].axes[0]
    counts = np.asarray(report.groups[0].confusion, dtype=float)  # [C, C+1]
    shares = counts / np.maximum(counts.sum(axis=1, keepdims=True), 1)
    np.testing.assert_allclose(np.asarray(confusion.images[0].get_array()), shares)
    sad_row = [t.get_text() for t in confusion.texts[8:16]]
    assert sad_row == ["0", "1", "0", "0", "0", "0", "0", "1"]
    assert confusion.get_xticklabels()[-1].get_text() == "unparseable"
    recall = figures["per_class_recall_dfew"].axes[0]
    assert [c.get_label() for c in recall.containers] == ["fold1", "fold2"]
    assert [b.get_height() for b in recall.containers[0]][:2] == [1.0, 0.5]  # happy, sad of fold 1
    agreement = figures["explanation_agreement"].axes[0]
    assert [c.get_label() for c in agreement.containers] == ["WAR", "EEA", "EPC", "FCR", "FCR|correct"]
    assert [b.get_height() for b in agreement.containers[1]] == pytest.approx([0.25, 0.5])  # EEA per fold
    assert [t.get_text() for t in agreement.get_xticklabels()] == ["dfew/fold1", "dfew/fold2"]
    assert plt.get_fignums() == []
    out = tmp_path / "r"
    build_report(records(), [KeywordJudge()], out, name="toy", figure_formats=["pdf"])
    assert len(list(out.glob("*.pdf"))) == len(list(out.glob("*.png"))) == 4
    assert not list(out.glob("*.svg"))
    (events,) = (out / "tensorboard").glob("events.out.tfevents.*")
    tags = EventAccumulator(str(events)).Reload().Tags()["images"]
    assert sorted(tags) == sorted(f"toy/{stem}" for stem in figures)


def test_report_command_figure_formats(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys) -> None:
    path = write_predictions(records(), tmp_path / "predictions.jsonl")
    monkeypatch.setattr(report_cli, "load_judge", lambda spec: KeywordJudge(spec))
    out = tmp_path / "report"
    argv = ["--predictions", str(path), "--judge", "kw", "--out", str(out), "--no-tensorboard"]
    assert report_cli.main([*argv, "--figure-format", "png", "svg"]) == 0
    assert sorted(p.suffix for p in out.glob("explanation_agreement.*")) == [".png", ".svg"]
    with pytest.raises(SystemExit) as error:
        report_cli.main([*argv, "--figure-format", "jpg"])
    assert error.value.code == 2
    assert "argument --figure-format: invalid choice: 'jpg'" in capsys.readouterr().err
