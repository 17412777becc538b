"""``ervlight report --protocol``: the reference counting beside ervlight's on predictions where they differ."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from ervlight.evaluation import report_cli
from ervlight.evaluation.predictions import PredictionRecord, write_predictions
from ervlight.evaluation.report import build_report, comparison_table, load_metrics

#: keyword -> (MAFW label, DFEW label).
WORDS = {"joy": ("happiness", "happy"), "sorrow": ("sadness", "sad"), "rage": ("anger", "angry"),
         "calm": ("neutral", "neutral")}  # fmt: skip


class WordJudge:
    """Names the label of the first keyword of a rationale in its dataset; ``None`` without one."""

    def __init__(self, name: str = "words") -> None:
        self.name = name
        self.calls: list[list[str]] = []

    def judge(self, rationales: list[str], dataset: str) -> list[str | None]:
        self.calls.append(list(rationales))
        column = 0 if dataset == "mafw" else 1
        found = [
            [labels[column] for word, labels in WORDS.items() if word in text.lower()] for text in rationales
        ]
        return [hits[0] if hits else None for hits in found]


def records() -> list[PredictionRecord]:
    """MAFW fold 5 (8 clips) and DFEW fold 5 (2 clips) where the two protocols count differently."""
    mafw = [
        ("happiness", "<think>Pure joy.</think><answer>happy</answer>"),  # both: right, judged right
        (
            "happiness",
            "<think>Pure joy.</think><answer>unhappy</answer>",
        ),  # reference: "unhappy" -> happiness
        (
            "sadness",
            "<think>Deep sorrow.</think><answer>xyz</answer>",
        ),  # reference: out of sadness's UAR count
        ("sadness", "<think>Deep sorrow.</think><answer>sad</answer>"),
        ("anger", "<think>Calm face.</think><answer>surprised</answer>"),  # reference: unparseable
        ("anger", "no tags at all"),  # unparseable and unjudged in both
        ("neutral", "<Think>Calm face.</Think><answer>neutral</answer>"),  # reference: no rationale
        ("neutral", "<think>Rage.\n</think>\n<answer>\nneutral\n</answer>"),
    ]
    dfew = [
        ("angry", "<think>Rage.</think><answer>danger</answer>"),  # reference: "danger" -> angry
        ("sad", "<think>Deep sorrow.</think><answer>xyz</answer>"),  # reference: in sad's UAR count
    ]
    return [PredictionRecord(f"m{i}", "mafw", 5, gold, text) for i, (gold, text) in enumerate(mafw)] + [
        PredictionRecord(f"d{i}", "dfew", 5, gold, text) for i, (gold, text) in enumerate(dfew)
    ]


ERVLIGHT = {
    "mafw": {"war": 0.5, "uar": 0.5, "eea": 5 / 8, "epc": 3 / 8, "fcr": 3 / 8, "unparseable_rate": 3 / 8,
             "unjudged": 1.0},
    "dfew": {"war": 0.0, "uar": 0.0, "eea": 1.0, "epc": 0.0, "fcr": 0.0, "unparseable_rate": 1.0, "unjudged": 0.0},
}  # fmt: skip
REFERENCE = {
    "mafw": {"war": 5 / 8, "uar": 3 / 11, "eea": 3 / 8, "epc": 3 / 8, "fcr": 3 / 8, "unparseable": 3.0,
             "unreadable": 4.0},
    "dfew": {"war": 0.5, "uar": 1 / 7, "eea": 0.5, "epc": 0.5, "fcr": 0.5, "unparseable": 1.0, "unreadable": 1.0},
}  # fmt: skip


def _subset(metrics: dict[str, float], keys: dict[str, float]) -> dict[str, float]:
    return {key: metrics[key] for key in keys}


def test_ervlight_protocol_counts(tmp_path: Path) -> None:
    report = build_report(records(), [WordJudge()], None)
    assert report.protocol == "ervlight"
    assert report.reference_groups == []
    for group in report.groups:
        assert _subset(group.metrics, ERVLIGHT[group.dataset]) == pytest.approx(ERVLIGHT[group.dataset])


def test_reference_protocol_counts(tmp_path: Path) -> None:
    report = build_report(records(), [WordJudge()], tmp_path / "r", protocol="reference", tensorboard=False)
    assert report.groups == []
    assert report.summary == {}
    dfew, mafw = report.reference_groups
    assert (dfew.key, mafw.key) == ("dfew/fold5", "mafw/fold5")
    for group in (dfew, mafw):
        assert group.metrics == pytest.approx(REFERENCE[group.dataset])
    assert mafw.class_totals == {"anger": 0, "disgust": 0, "fear": 0, "happiness": 2, "neutral": 2, "sadness": 1,
                                 "surprise": 0, "contempt": 0, "anxiety": 0, "helplessness": 0,
                                 "disappointment": 0}  # fmt: skip
    assert mafw.per_class_recall["anger"] is None
    assert dfew.class_totals["sad"] == 1
    assert dfew.per_class_recall["sad"] == 0.0
    saved = load_metrics(tmp_path / "r")
    assert saved["protocol"] == "reference"
    assert "reference" not in saved
    assert [g["dataset"] for g in saved["groups"]] == ["dfew", "mafw"]
    assert saved["summary"]["mafw"]["uar"] == {"mean": pytest.approx(3 / 11), "std": None, "folds": 1}
    markdown = (tmp_path / "r" / "report.md").read_text()
    assert "Protocol: **reference**" in markdown
    assert "| 5 | 8 | 62.5 | 27.3 | 37.5 | 37.5 | 37.5 | 3 | 4 |" in markdown
    assert "| 5 | 2 | 50.0 | 14.3 | 50.0 | 50.0 | 50.0 | 1 | 1 |" in markdown
    assert "Protocols side by side" not in markdown
    assert (tmp_path / "r" / "per_class_recall_mafw_reference.png").is_file()
    assert not (tmp_path / "r" / "explanation_agreement.png").exists()
    assert comparison_table({"ERV": saved}).splitlines()[2:] == [
        "| ERV | dfew | 1 | 50.0 | 14.3 | 50.0 | 50.0 | 50.0 |",
        "| ERV | mafw | 1 | 62.5 | 27.3 | 37.5 | 37.5 | 37.5 |",
    ]


def test_both_protocols_side_by_side_judge_each_rationale_once(tmp_path: Path) -> None:
    judge = WordJudge()
    report = build_report(records(), [judge], tmp_path / "r", protocol="both", tensorboard=False)
    assert (
        [g.key for g in report.groups]
        == [g.key for g in report.reference_groups]
        == ["dfew/fold5", "mafw/fold5"]
    )
    for group, reference in zip(report.groups, report.reference_groups, strict=True):
        assert _subset(group.metrics, ERVLIGHT[group.dataset]) == pytest.approx(ERVLIGHT[group.dataset])
        assert reference.metrics == pytest.approx(REFERENCE[reference.dataset])
    asked = [text for call in judge.calls for text in call]
    # one call per dataset, each distinct rationale once (clip m6's "<Think>" rationale only for ervlight)
    assert sorted(asked) == ["Calm face.", "Deep sorrow.", "Deep sorrow.", "Pure joy.", "Rage.", "Rage."]
    saved = json.loads((tmp_path / "r" / "metrics.json").read_text())
    assert saved["protocol"] == "both"
    assert saved["summary"]["mafw"]["war"]["mean"] == 0.5
    assert saved["reference"]["summary"]["mafw"]["war"]["mean"] == 0.625
    assert saved["reference"]["groups"][1]["metrics"]["unreadable"] == 4.0
    markdown = (tmp_path / "r" / "report.md").read_text()
    assert "## Protocols side by side" in markdown
    assert "| mafw | 5 | 50.0 | 62.5 | 50.0 | 27.3 | 62.5 | 37.5 | 37.5 | 37.5 | 37.5 | 37.5 |" in markdown
    assert "| dfew | 5 | 0.0 | 50.0 | 0.0 | 14.3 | 100.0 | 50.0 | 0.0 | 50.0 | 0.0 | 50.0 |" in markdown


def test_report_command_protocol_option(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    path = write_predictions(records(), tmp_path / "predictions.jsonl")
    monkeypatch.setattr(report_cli, "load_judge", lambda spec: WordJudge(spec))
    argv = ["--predictions", str(path), "--judge", "w", "--out", str(tmp_path / "r"), "--no-tensorboard"]
    assert report_cli.main([*argv, "--protocol", "both"]) == 0
    printed = capsys.readouterr().out
    assert "protocol: both" in printed
    assert "| r (ervlight) | mafw | 1 | 50.0 | 50.0 | 62.5 | 37.5 | 37.5 |" in printed
    assert "| r (reference) | mafw | 1 | 62.5 | 27.3 | 37.5 | 37.5 | 37.5 |" in printed
    demo = write_predictions([PredictionRecord("x", "goemotions", None, "joy", "joy")], tmp_path / "go.jsonl")
    bad = [
        "--predictions",
        str(demo),
        "--judge",
        "w",
        "--out",
        str(tmp_path / "g"),
        "--protocol",
        "reference",
    ]
    assert report_cli.main(bad) == 2
    assert "the reference protocol evaluates dfew, mafw only, not 'goemotions'" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        report_cli.main([*argv, "--protocol", "strict"])
    with pytest.raises(ValueError, match="protocol must be one of ervlight, reference, both, got 'strict'"):
        build_report(records(), [WordJudge()], None, protocol="strict")
