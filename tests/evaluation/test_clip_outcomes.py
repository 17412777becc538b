"""Per-clip outcomes read from a report folder's predictions.csv, and paired comparison of two report folders."""

from __future__ import annotations

import csv
from pathlib import Path

import numpy as np
import pytest

from ervlight.evaluation.clip_outcomes import compare_reports, read_clip_outcomes, same_clips
from ervlight.evaluation.paired import metric_values
from ervlight.evaluation.predictions import PredictionRecord
from ervlight.evaluation.report import build_report


class _Judge:
    """Judges each rationale as the emotion named by its first word (or unjudged for ``?``)."""

    def __init__(self, name: str) -> None:
        self.name = name

    def judge(self, rationales: list[str], dataset: str) -> list[str | None]:
        words = [r.split()[0].strip(".").lower() for r in rationales]
        return [None if word == "?" else word for word in words]


def _record(
    clip: str, dataset: str, gold: str, rationale: str, answer: str, fold: int | None = 1
) -> PredictionRecord:
    return PredictionRecord(clip, dataset, fold, gold, f"<think>{rationale}</think><answer>{answer}</answer>")


RECORDS = [
    _record("00001", "dfew", "happy", "Happy face.", "happy"),
    _record("00002", "dfew", "sad", "Sad eyes.", "happy"),
    _record("00003", "dfew", "angry", "? nothing.", "angry"),
    _record("00150", "mafw", "contempt", "Contempt shows.", "contempt"),
    _record("00151", "mafw", "fear", "Happiness smile.", "gibberish"),
    PredictionRecord("00152", "mafw", 1, "fear", "no tags at all"),
]


def _report(folder: Path, records: list[PredictionRecord]) -> Path:
    build_report(records, [_Judge("first"), _Judge("second")], folder, name=folder.name, tensorboard=False)
    return folder


def test_outcomes_follow_the_csv_and_match_the_report_metrics(tmp_path: Path) -> None:
    folder = _report(tmp_path / "run", RECORDS)
    outcomes = read_clip_outcomes(folder)
    assert outcomes.keys[:2] == (("dfew", 1, "00001"), ("dfew", 1, "00002"))
    assert outcomes.datasets.tolist() == ["dfew"] * 3 + ["mafw"] * 3
    assert outcomes.gold.tolist() == [0, 1, 3, 7, 2, 2]  # dfew happy/sad/angry; mafw contempt/fear/fear
    assert outcomes.pred.tolist() == [0, 0, 3, 7, -1, -1]  # strict answers: "gibberish" and no tags are -1
    assert outcomes.judged.tolist() == [0, 1, -1, 7, 3, -1]  # "?" is unjudged
    assert outcomes.well_formatted.tolist() == [True, True, True, True, True, False]
    values = metric_values(outcomes)
    assert values["war"][0] == pytest.approx(50.0)
    assert values["eea"][0] == pytest.approx(50.0)
    assert values["fcr"][0] == pytest.approx(100 * 2 / 6)
    assert values["format"][0] == pytest.approx(100 * 5 / 6)
    assert read_clip_outcomes(folder / "predictions.csv").keys == outcomes.keys


def test_a_named_judge_column_is_read_and_bad_files_are_named(tmp_path: Path) -> None:
    folder = _report(tmp_path / "run", RECORDS)
    assert read_clip_outcomes(folder, judge="second").judged.tolist() == [0, 1, -1, 7, 3, -1]
    with pytest.raises(ValueError, match=r"no column judge:third \(judges: first, second\)"):
        read_clip_outcomes(folder, judge="third")
    with pytest.raises(FileNotFoundError, match=r"has no predictions\.csv"):
        read_clip_outcomes(tmp_path / "missing")
    rows = list(csv.reader((folder / "predictions.csv").open(encoding="utf-8")))
    bad = tmp_path / "bad.csv"
    with bad.open("w", encoding="utf-8", newline="") as handle:
        csv.writer(handle).writerows([[c for c in row if c != "well_formatted"] for row in rows[:1]])
    with pytest.raises(ValueError, match=r"bad.csv: missing column\(s\) well_formatted"):
        read_clip_outcomes(bad)


def test_compare_reports_pairs_clips_by_key(tmp_path: Path) -> None:
    a = _report(tmp_path / "a", RECORDS)
    better = [*RECORDS[:4], _record("00151", "mafw", "fear", "Fear grows.", "fear"), RECORDS[5]]
    b = _report(tmp_path / "b", list(reversed(better)))
    assert same_clips(read_clip_outcomes(a), read_clip_outcomes(b))
    rows = {(r.group, r.metric): r for r in compare_reports(a, b, num_resamples=200)}
    assert rows[("all", "war")].difference == pytest.approx(100 / 6)
    assert rows[("mafw", "fcr")].difference == pytest.approx(100 / 3)
    assert rows[("dfew", "eea")].difference == 0.0
    assert rows[("dfew", "eea")].low == rows[("dfew", "eea")].high == 0.0
    assert np.isclose(rows[("all", "war")].a, 50.0)
    fewer = _report(tmp_path / "c", RECORDS[:5])
    with pytest.raises(ValueError, match="same clips in both reports: 1 clip"):
        compare_reports(a, fewer, num_resamples=10)


def test_report_compare_prints_paired_intervals_for_the_same_clips(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from ervlight.evaluation import report_cli

    a = _report(tmp_path / "a", RECORDS)
    better = [*RECORDS[:4], _record("00151", "mafw", "fear", "Fear grows.", "fear"), RECORDS[5]]
    b = _report(tmp_path / "b", better)
    c = _report(tmp_path / "c", RECORDS[:5])
    assert report_cli.main(["--compare", f"A={a}", f"B={b}", f"C={c}"]) == 0
    out = capsys.readouterr().out
    assert "B − A, points, 95 % paired bootstrap interval over clips (first judge):" in out
    assert "| group | clips | metric | A → B | B − A [95 %] |" in out
    assert "| mafw | 3 | FCR | 33.3 → 66.7 | +33.3 [" in out
    assert "C and A judged different clips: no paired intervals" in out
