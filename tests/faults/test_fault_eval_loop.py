"""Fault suite, #15 rows 1 and 2 end to end: ``ervlight test`` with broken clips in the test list, at batch size 1
and at the default, writes every listed clip, and the metrics, ``metrics.json`` and ``report.md`` count them all."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
import torch
from lightning.pytorch import Trainer

from ervlight.cli import main
from ervlight.data.batch import MediaBatch
from ervlight.data.datamodule import ERVDataModule
from ervlight.data.sources import DataSource
from ervlight.evaluation import report_cli
from ervlight.evaluation.predictions import PredictionWriter, read_predictions
from ervlight.policy import TinyOmni
from ervlight.tasks.evaluation import EvaluationTask
from ervlight.tasks.grpo import GRPOModule

CONFIG = Path(__file__).resolve().parents[2] / "configs" / "eval" / "demo.yaml"
ANSWER = (
    "<think>She smiles with joy.</think><answer>happy</answer>"  # right for 00001 (happy), wrong otherwise
)


class HappyJudge:
    """Names ``happy`` for every rationale it gets (``None`` for a missing one)."""

    name = "happy"

    def judge(self, rationales: list[str | None], dataset: str) -> list[str | None]:
        return ["happy" if text else None for text in rationales]


class CannedAnswers(EvaluationTask):
    """The real generation path (encode + generate), with one fixed completion per generated clip."""

    def generate_texts(self, batch: MediaBatch, batch_idx: int) -> list[str]:  # type: ignore[override]
        return [ANSWER for _ in super().generate_texts(batch, batch_idx)]


class CannedGRPO(GRPOModule):
    """GRPO's validation path with one fixed completion per generated clip."""

    def generate_texts(self, batch: MediaBatch, batch_idx: int) -> list[str]:  # type: ignore[override]
        return [ANSWER for _ in super().generate_texts(batch, batch_idx)]


@pytest.fixture(scope="module")
def policy_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("policy") / "policy"
    TinyOmni(hidden_size=32, intermediate_size=64, num_layers=1, num_heads=2, num_kv_heads=1, vocab_size=300,
             image_size=64).save_pretrained(path)  # fmt: skip
    return path


@pytest.fixture
def broken_dfew(dfew_root: Path, tmp_path: Path) -> Path:
    """DFEW-mini with fold-1 test clip 00006 zero bytes; 00011 (same list) has no mp4 at all."""
    root = tmp_path / "DFEW"
    shutil.copytree(dfew_root, root)
    (root / "Clip" / "original" / "00006.mp4").write_bytes(b"")
    return root


@pytest.mark.parametrize("batch_size", [1, 16])
def test_ervlight_test_survives_broken_clips_and_writes_every_listed_clip(
    policy_dir: Path, broken_dfew: Path, tmp_path: Path, batch_size: int
) -> None:
    predictions = tmp_path / "predictions.jsonl"
    writer = [{"class_path": "ervlight.evaluation.predictions.PredictionWriter",
               "init_args": {"path": str(predictions)}}]  # fmt: skip
    argv = ["test", "--config", str(CONFIG), f"--model.init_args.policy.init_args.pretrained={policy_dir}",
            "--model.init_args.datasets=[dfew]", "--model.init_args.max_new_tokens=4",
            f"--data.init_args.test={json.dumps([{'kind': 'dfew', 'root': str(broken_dfew), 'split': 'test'}])}",
            f"--data.init_args.eval_batch_size={batch_size}", f"--trainer.default_root_dir={tmp_path}",
            f"--trainer.callbacks={json.dumps(writer)}"]  # fmt: skip
    assert main(argv) == 0
    records = read_predictions([predictions])
    assert [(r.clip_id, r.status) for r in records if r.status == "ok"] == [("00001", "ok")]
    assert sorted((r.clip_id, r.status, r.gold, r.completion) for r in records if r.status != "ok") == [
        ("00006", "unreadable", "disgust", ""),
        ("00011", "unreadable", "disgust", ""),
    ]


def _test(policy_dir: Path, root: Path, path: Path, batch_size: int, policy: str) -> dict[str, float]:
    task = CannedAnswers(TinyOmni.from_pretrained(str(policy_dir)), datasets=["dfew"], max_new_tokens=4)
    data = ERVDataModule(test=[DataSource("dfew", str(root), split="test")], image_size=64, eval_batch_size=batch_size,
                         unreadable_policy=policy)  # type: ignore[arg-type]  # fmt: skip
    trainer = Trainer(accelerator="cpu", logger=False, enable_progress_bar=False, enable_model_summary=False,
                      callbacks=[PredictionWriter(str(path))], default_root_dir=str(path.parent))  # fmt: skip
    (logged,) = trainer.test(task, datamodule=data, verbose=False)
    return logged


@pytest.mark.parametrize("batch_size", [1, 2, 16])
def test_unreadable_clips_count_as_wrong_at_every_batch_size(
    policy_dir: Path, broken_dfew: Path, tmp_path: Path, batch_size: int
) -> None:
    logged = _test(policy_dir, broken_dfew, tmp_path / "p.jsonl", batch_size, "wrong")
    assert logged["test/dfew/listed"] == 3.0
    assert logged["test/dfew/evaluated"] == 1.0
    assert logged["test/dfew/unreadable"] == 2.0
    assert logged["test/dfew/war"] == pytest.approx(1 / 3)  # 1 right of 3 listed
    assert logged["test/dfew/unparseable_rate"] == pytest.approx(2 / 3)
    assert logged["test/dfew/format_rate"] == pytest.approx(1 / 3)


def test_readable_only_leaves_them_out_and_still_counts_them(
    policy_dir: Path, broken_dfew: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:  # fmt: skip
    path = tmp_path / "p.jsonl"
    logged = _test(policy_dir, broken_dfew, path, 1, "readable_only")
    assert (logged["test/dfew/listed"], logged["test/dfew/evaluated"], logged["test/dfew/unreadable"]) == (
        3,
        1,
        2,
    )
    assert logged["test/dfew/war"] == 1.0  # 1 right of 1 readable
    assert [r.status for r in read_predictions([path])] == ["ok", "excluded", "excluded"]
    monkeypatch.setattr(report_cli, "load_judge", lambda spec: HappyJudge())
    out = tmp_path / "report"
    assert (
        report_cli.main(
            ["--predictions", str(path), "--judge", "happy", "--out", str(out), "--no-tensorboard"]
        )
        == 0
    )
    (group,) = json.loads((out / "metrics.json").read_text())["groups"]
    assert group["clips"] == {"listed": 3, "evaluated": 1, "unreadable": 2, "scored": 1, "unjudged": 0}
    assert (group["num_clips"], group["metrics"]["war"]) == (1, 1.0)
    assert (
        "- fold 1: listed 3, evaluated 1, unreadable 2, scored 1, unjudged 0"
        in (out / "report.md").read_text()
    )


def test_report_counts_unreadable_clips_as_wrong(
    policy_dir: Path, broken_dfew: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "p.jsonl"
    _test(policy_dir, broken_dfew, path, 16, "wrong")
    monkeypatch.setattr(report_cli, "load_judge", lambda spec: HappyJudge())
    out = tmp_path / "report"
    assert (
        report_cli.main(
            ["--predictions", str(path), "--judge", "happy", "--out", str(out), "--no-tensorboard"]
        )
        == 0
    )
    (group,) = json.loads((out / "metrics.json").read_text())["groups"]
    assert group["clips"] == {"listed": 3, "evaluated": 1, "unreadable": 2, "scored": 3, "unjudged": 2}
    assert group["num_clips"] == 3
    assert group["metrics"]["war"] == pytest.approx(1 / 3)
    assert sum(map(sum, group["confusion_matrix"]["counts"])) == 3
    assert (
        "- fold 1: listed 3, evaluated 1, unreadable 2, scored 3, unjudged 2"
        in (out / "report.md").read_text()
    )


def test_an_empty_evaluation_batch_generates_nothing(policy_dir: Path) -> None:
    task = EvaluationTask(TinyOmni.from_pretrained(str(policy_dir)), datasets=["dfew"], max_new_tokens=4)
    empty = MediaBatch([], [], torch.zeros(0, dtype=torch.long), [], torch.zeros(0, 0, 3, 0, 0),
                       torch.zeros(0, 0, dtype=torch.bool), torch.zeros(0, 0), torch.zeros(0, 0, dtype=torch.bool),
                       torch.zeros(0, dtype=torch.bool))  # fmt: skip
    assert task.generate_texts(empty, 0) == []
    assert task.predict_step(empty, 0) == []


@pytest.mark.parametrize("batch_size", [1, 16])
def test_grpo_validation_survives_broken_clips(
    policy_dir: Path, broken_dfew: Path, tmp_path: Path, batch_size: int
) -> None:
    task = CannedGRPO(TinyOmni.from_pretrained(str(policy_dir)), datasets=["dfew"], max_completion_length=4,
                      policy_dir=str(tmp_path / "policy"))  # fmt: skip
    data = ERVDataModule(val=[DataSource("dfew", str(broken_dfew), split="test")], image_size=64,
                         eval_batch_size=batch_size)  # fmt: skip
    trainer = Trainer(accelerator="cpu", logger=False, enable_progress_bar=False, enable_model_summary=False,
                      default_root_dir=str(tmp_path))  # fmt: skip
    (logged,) = trainer.validate(task, datamodule=data, verbose=False)
    assert (logged["val/dfew/listed"], logged["val/dfew/evaluated"], logged["val/dfew/unreadable"]) == (
        3,
        1,
        2,
    )
    assert logged["val/dfew/war"] == pytest.approx(1 / 3)  # 1 right of 3 listed
    assert logged["val/dfew/unparseable_rate"] == pytest.approx(2 / 3)  # the two unreadable clips
    assert logged["val/rewards/accuracy"] == 1.0  # rewards average the generated completions only
