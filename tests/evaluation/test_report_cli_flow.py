"""``ervlight test`` with configs/eval/demo.yaml (tiny policy, DFEW-mini) then ``ervlight report`` on its output."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml
from test_report import KeywordJudge  # same folder (pytest prepends it to sys.path)

from ervlight.cli import main
from ervlight.evaluation import report_cli
from ervlight.evaluation.predictions import read_predictions
from ervlight.policy import TinyOmni

CONFIG = Path(__file__).resolve().parents[2] / "configs" / "eval" / "demo.yaml"
#: DFEW-mini fold-1 test clips on disk (tests/mini_trees.py: fold = (id - 1) % 5 + 1; 00011 is listed but has no mp4).
FOLD1_DFEW = {"00001", "00006"}


def test_eval_config_parses_with_reference_decoding(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as stop:
        main(["test", "--print_config", "--config", str(CONFIG)])
    assert stop.value.code == 0
    printed = yaml.safe_load(capsys.readouterr().out)
    model = printed["model"]["init_args"]
    assert (model["temperature"], model["top_p"], model["max_new_tokens"]) == (0.3, 0.9, 512)
    (callback,) = printed["trainer"]["callbacks"]
    assert callback["class_path"] == "ervlight.evaluation.predictions.PredictionWriter"
    assert printed["data"]["init_args"]["fold"] == 1


def test_ervlight_test_writes_predictions_and_report_reads_them(
    tmp_path: Path, dfew_root: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    policy_dir = tmp_path / "policy"
    TinyOmni(hidden_size=32, intermediate_size=64, num_layers=1, num_heads=2, num_kv_heads=1,
             vocab_size=300, image_size=64).save_pretrained(policy_dir)  # fmt: skip
    predictions = tmp_path / "eval" / "predictions.jsonl"
    writer = [{"class_path": "ervlight.evaluation.predictions.PredictionWriter",
               "init_args": {"path": str(predictions)}}]  # fmt: skip
    argv = ["test", "--config", str(CONFIG),
            f"--model.init_args.policy.init_args.pretrained={policy_dir}",
            "--model.init_args.datasets=[dfew]", "--model.init_args.max_new_tokens=6",
            f"--data.init_args.test={json.dumps([{'kind': 'dfew', 'root': str(dfew_root), 'split': 'test'}])}",
            f"--trainer.default_root_dir={tmp_path}", f"--trainer.callbacks={json.dumps(writer)}"]  # fmt: skip
    assert main(argv) == 0
    records = read_predictions([predictions])
    assert {r.clip_id for r in records if r.status == "ok"} == FOLD1_DFEW
    assert [(r.clip_id, r.status, r.completion) for r in records if r.status != "ok"] == [
        ("00011", "unreadable", "")
    ]
    assert {(r.dataset, r.fold) for r in records} == {("dfew", 1)}
    monkeypatch.setattr(report_cli, "load_judge", lambda spec: KeywordJudge(spec))
    out = tmp_path / "report"
    capsys.readouterr()
    assert report_cli.main(["--predictions", str(predictions), "--judge", "kw", "--out", str(out)]) == 0
    metrics = json.loads((out / "metrics.json").read_text())
    (group,) = metrics["groups"]
    assert (group["dataset"], group["fold"], group["num_clips"]) == (
        "dfew",
        1,
        3,
    )  # 00011 is listed, not on disk
    assert group["clips"] == {"listed": 3, "evaluated": 2, "unreadable": 1, "scored": 3, "unjudged": 3}
    # an untrained policy's 6 tokens are never well formatted, so no rationale is judged
    assert (group["metrics"]["format_rate"], group["metrics"]["unjudged"]) == (0.0, 3.0)
