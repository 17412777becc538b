"""EvaluationTask: the test loop of a saved policy gives SFTModule's test metrics; the eval config drives it; no fit."""

from __future__ import annotations

import functools
import json
from pathlib import Path

import lightning
import pytest
import torch

from ervlight.cli import main
from ervlight.data.datamodule import ERVDataModule
from ervlight.evaluation.predictions import PredictionWriter, read_predictions
from ervlight.policy.backbones.tiny_omni import TinyOmni
from ervlight.tasks import EvaluationTask, SFTModule
from ervlight.tasks.policy_task import PolicyTask
from tiny_models import tiny_omni_kwargs

SMALL = tiny_omni_kwargs(hidden_size=48, intermediate_size=96)
EVAL_CONFIG = Path(__file__).resolve().parents[2] / "configs" / "eval" / "demo.yaml"


@pytest.fixture(scope="module")
def saved_policy(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A seeded TinyOmni saved with ``save_pretrained`` (what SFT or GRPO leave behind)."""
    torch.manual_seed(0)
    folder = tmp_path_factory.mktemp("policy")
    TinyOmni(instruction="Which emotion?", **SMALL).save_pretrained(folder)  # type: ignore[arg-type]
    return folder


def mini_test_data(dfew_root: Path, mafw_root: Path) -> ERVDataModule:
    """Both mini trees' fold-1 test lists, 3 clips per batch."""
    sources = [
        {"kind": "dfew", "root": str(dfew_root), "split": "test"},
        {"kind": "mafw", "root": str(mafw_root), "split": "test"},
    ]
    return ERVDataModule(test=sources, fold=1, num_frames=4, image_size=64, eval_batch_size=3)  # type: ignore[arg-type]


def run_test(module: PolicyTask, data: ERVDataModule, out: Path) -> tuple[dict[str, float], list[str]]:
    """Metrics and written completions of ``trainer.test``."""
    writer = PredictionWriter(str(out))
    trainer = lightning.Trainer(
        accelerator="cpu",
        logger=False,
        callbacks=[writer],
        enable_progress_bar=False,
        default_root_dir=out.parent,
    )
    trainer.test(module, datamodule=data, verbose=False)
    metrics = {key: float(value) for key, value in trainer.callback_metrics.items()}
    return metrics, [row.completion for row in read_predictions([out])]


def test_evaluation_task_gives_the_sft_test_metrics(
    saved_policy: Path, dfew_root: Path, mafw_root: Path, tmp_path: Path
) -> None:
    settings = {
        "datasets": ["dfew", "mafw"],
        "max_new_tokens": 12,
        "temperature": 0.3,
        "top_p": 0.9,
        "seed": 3,
    }
    policy = functools.partial(TinyOmni, pretrained=str(saved_policy))
    sft_metrics, sft_texts = run_test(
        SFTModule(policy, **settings),  # type: ignore[arg-type]
        mini_test_data(dfew_root, mafw_root),
        tmp_path / "sft.jsonl",
    )
    metrics, texts = run_test(
        EvaluationTask(policy, **settings),  # type: ignore[arg-type]
        mini_test_data(dfew_root, mafw_root),
        tmp_path / "eval.jsonl",
    )
    expected = {f"test/{d}/{m}" for d in ("dfew", "mafw") for m in ("war", "uar", "format_rate")}
    assert expected <= set(metrics)
    assert metrics == sft_metrics
    assert texts == sft_texts
    assert len(texts) == len(read_predictions([tmp_path / "eval.jsonl"])) > 0


def test_evaluation_task_refuses_to_train(saved_policy: Path) -> None:
    task = EvaluationTask(functools.partial(TinyOmni, pretrained=str(saved_policy)))
    with pytest.raises(
        RuntimeError, match=r"EvaluationTask only tests and predicts; train with ervlight\.tasks"
    ):
        task.configure_optimizers()


def test_eval_config_tests_a_saved_policy(
    saved_policy: Path, dfew_root: Path, mafw_root: Path, tmp_path: Path
) -> None:
    predictions = tmp_path / "predictions.jsonl"
    writer = [
        {
            "class_path": "ervlight.evaluation.predictions.PredictionWriter",
            "init_args": {"path": str(predictions)},
        }
    ]
    test = [
        {"kind": "dfew", "root": str(dfew_root), "split": "test"},
        {"kind": "mafw", "root": str(mafw_root), "split": "test"},
    ]
    argv = [
        "test", "--config", str(EVAL_CONFIG),
        "--model.init_args.policy.init_args.pretrained", str(saved_policy),
        "--model.init_args.max_new_tokens", "6",
        "--trainer.default_root_dir", str(tmp_path),
        "--trainer.callbacks", json.dumps(writer),
        "--data.init_args.test", json.dumps(test),
        "--data.init_args.num_frames", "4",
    ]  # fmt: skip
    assert main(argv) == 0
    rows = read_predictions([predictions])
    data = mini_test_data(dfew_root, mafw_root)
    data.setup("test")
    clips = data.datasets["test"]
    assert clips is not None
    assert len(rows) == len(clips)  # type: ignore[arg-type]
    assert {row.dataset for row in rows} == {"dfew", "mafw"}
    assert all(isinstance(row.completion, str) for row in rows)
