"""Fault suite, #15 row 4: a judge whose endpoint is down makes ``ervlight report`` exit non-zero (not 0.0 metrics)."""

from __future__ import annotations

import csv
import json
import socket
from pathlib import Path

import pytest
import yaml

from ervlight.evaluation import report_cli
from ervlight.evaluation.predictions import PredictionRecord, write_predictions

RECORDS = [
    PredictionRecord("a", "dfew", 1, "happy", "<think>She smiles.</think><answer>happy</answer>"),
    PredictionRecord("b", "dfew", 1, "sad", "<think>He cries.</think><answer>sad</answer>"),
]


def closed_port_judge(tmp_path: Path) -> Path:
    """A judge YAML naming an endpoint on a 127.0.0.1 port nobody listens on (one try, no retry)."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    spec = {
        "class_path": "ervlight.evaluation.llm_judge.LLMJudge",
        "init_args": {"base_url": f"http://127.0.0.1:{port}/v1", "model": "m", "api_key_env": None,
                      "max_retries": 0, "cache_dir": str(tmp_path / "cache"), "progress": False},
    }  # fmt: skip
    path = tmp_path / "judge.yaml"
    path.write_text(yaml.safe_dump(spec), encoding="utf-8")
    return path


@pytest.mark.parametrize(("allowed", "code"), [(None, 1), ("0.5", 1), ("1", 0)])
def test_a_judge_that_could_not_judge_exits_1_unless_allowed(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], allowed: str | None, code: int
) -> None:
    predictions = write_predictions(RECORDS, tmp_path / "predictions.jsonl")
    out = tmp_path / "report"
    argv = ["--predictions", str(predictions), "--judge", f"llm={closed_port_judge(tmp_path)}", "--out", str(out),
            "--no-tensorboard", *([] if allowed is None else ["--max-judge-failures", allowed])]  # fmt: skip
    assert report_cli.main(argv) == code
    err = capsys.readouterr().err
    expected = "ervlight report: judge 'llm' could not judge 2 of 2 rationales"
    assert (expected in err) == (code == 1)
    rows = list(csv.DictReader((out / "predictions.csv").open(encoding="utf-8")))
    assert [row["judge:llm"] for row in rows] == ["failed", "failed"]  # the report is written either way
    groups = json.loads((out / "metrics.json").read_text())["groups"]
    assert groups[0]["metrics"]["unjudged"] == 2
