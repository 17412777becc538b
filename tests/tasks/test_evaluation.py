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


# answers whose count differs between the protocols: the reference maps "Happy!"/"unhappy" (MAFW) and "anger and
# disgust" (DFEW) onto labels and reads "surprised"/"fearful" as no label; ervlight does the opposite
SCRIPTED = ("<think>a</think><answer>surprised</answer>", "<answer>Happy!</answer>", "no answer at all",
            "<answer>anger and disgust</answer>", "<think>b</think><answer>fearful</answer>",
            "<answer>unhappy</answer>", "<answer>sad</answer>")  # fmt: skip


class ScriptedEvaluation(EvaluationTask):
    """Answers from :data:`SCRIPTED` in turn instead of generating (the counting is what is tested)."""

    def generate_texts(self, batch, batch_idx: int) -> list[str]:  # type: ignore[no-untyped-def]
        start = batch_idx * 3  # eval_batch_size of mini_test_data
        return [SCRIPTED[(start + i) % len(SCRIPTED)] for i in range(len(batch))]


@pytest.mark.parametrize("protocol", ["reference", "both"])
def test_reference_protocol_counts_war_uar_as_the_reference_scripts(
    saved_policy: Path, dfew_root: Path, mafw_root: Path, tmp_path: Path, protocol: str
) -> None:
    from ervlight.protocol import reference_recognition

    task = ScriptedEvaluation(functools.partial(TinyOmni, pretrained=str(saved_policy)), protocol=protocol)  # type: ignore[arg-type]
    metrics, _ = run_test(task, mini_test_data(dfew_root, mafw_root), tmp_path / "p.jsonl")
    rows = read_predictions([tmp_path / "p.jsonl"])
    for dataset in ("dfew", "mafw"):
        mine = [row for row in rows if row.dataset == dataset]
        expected = reference_recognition([r.completion for r in mine], [r.gold for r in mine], dataset)
        assert metrics[f"test/{dataset}/war_reference"] == pytest.approx(expected.war)
        assert metrics[f"test/{dataset}/uar_reference"] == pytest.approx(expected.uar)
        assert metrics[f"test/{dataset}/unparseable_reference"] == expected.unparseable
        assert metrics[f"test/{dataset}/listed"] == len(mine)
        assert (f"test/{dataset}/war" in metrics) is (protocol == "both")


def test_reference_metric_sums_per_class_counts() -> None:
    from ervlight.protocol.metric import ReferenceRecognitionMetric

    metric = ReferenceRecognitionMetric("mafw")
    happiness, sadness = (metric.labels.index(c) for c in ("happiness", "sadness"))
    # "Happy!" -> happiness (right); "xyz" unparseable: MAFW leaves it out of sadness's total; "sad" -> sadness
    metric.update(["<answer>Happy!</answer>", "<answer>xyz</answer>"], torch.tensor([happiness, sadness]))
    metric.update(["<answer>sad</answer>"], torch.tensor([sadness]))
    values = metric.compute()
    assert float(values["war_reference"]) == pytest.approx(2 / 3)
    assert float(values["uar_reference"]) == pytest.approx(2 / 11)  # two classes at 1.0, nine at 0
    assert int(values["unparseable_reference"]) == 1
    with pytest.raises(
        ValueError, match="the reference protocol evaluates dfew, mafw only, not 'mafw_compound'"
    ):
        ReferenceRecognitionMetric("mafw_compound")


def test_evaluation_task_refuses_an_unknown_protocol(saved_policy: Path) -> None:
    with pytest.raises(ValueError, match="protocol must be one of ervlight, reference, both, got 'paper'"):
        EvaluationTask(functools.partial(TinyOmni, pretrained=str(saved_policy)), protocol="paper")  # type: ignore[arg-type]
