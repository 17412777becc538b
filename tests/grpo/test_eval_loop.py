"""GRPOModule's test loop: ``test/...`` metrics per dataset, reward means, completions for writers, one code path."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import torch
from grpo_stubs import KeywordVerifier, PromptData, tiny_trainer
from torch.utils.data import DataLoader

from ervlight.cli import main
from ervlight.evaluation.consistency import war
from ervlight.evaluation.metric_inputs import encode_completions, encode_targets
from ervlight.evaluation.predictions import PredictionWriter
from ervlight.grpo.types import PromptBatch
from ervlight.policy.base import Generation, PromptContext
from ervlight.tasks.grpo import GRPOModule

# (dataset, gold, completion): keywords make the stub verifier judge smiles -> happy, cries/frowns -> sad,
# shouts -> angry, anything else -> neutral. Categories: A answer and rationale right; B answer right, rationale
# wrong; E answer right without tags (unjudged, badly formatted); C rationale right, answer wrong; D answer wrong,
# rationale agrees with it; F answer outside the label set.
ROWS = [
    ("dfew", "happy", "<think>He smiles.</think>\n<answer>happy</answer>"),  # A
    ("dfew", "happy", "<think>She cries.</think>\n<answer>happy</answer>"),  # B
    ("dfew", "sad", "sad"),  # E
    ("dfew", "angry", "<think>He shouts.</think>\n<answer>neutral</answer>"),  # C
    ("dfew", "sad", "<think>He smiles.</think>\n<answer>happy</answer>"),  # D
    ("dfew", "angry", "<think>She frowns.</think>\n<answer>sad</answer>"),  # D
    ("dfew", "happy", "<think>He shouts.</think>\n<answer>angry</answer>"),  # D
    ("dfew", "sad", "<think>He looks away.</think>\n<answer>bored</answer>"),  # F
    ("mafw", "anger", "<think>He shouts.</think>\n<answer>angry</answer>"),  # A (adjective normalised)
    ("mafw", "sadness", "<think>He smiles.</think>\n<answer>sadness</answer>"),  # B
]
# DFEW, 8 clips (gold happy 3, sad 3, angry 2): right answers A, B, E -> WAR 3/8; recalls happy 2/3, sad 1/3,
# angry 0 -> UAR 1/3; EEA (judged = gold) A, C -> 2/8; EPC (judged = answer) A, D, D, D -> 4/8; FCR A -> 1/8,
# 1/3 of the right answers; one unparseable answer, one unformatted completion, one unjudged rationale.
EXPECTED_DFEW = {
    "war": 3 / 8, "uar": 1 / 3, "unparseable_rate": 1 / 8, "format_rate": 7 / 8, "eea": 2 / 8, "epc": 4 / 8,
    "fcr": 1 / 8, "fcr_given_correct": 1 / 3, "unjudged": 1.0,
}  # fmt: skip
EXPECTED_MAFW = {
    "war": 1.0, "uar": 1.0, "unparseable_rate": 0.0, "format_rate": 1.0, "eea": 0.5, "epc": 0.5, "fcr": 0.5,
    "fcr_given_correct": 0.5, "unjudged": 0.0,
}  # fmt: skip
# Over all 10 clips: format 9/10; accuracy 5/10; explanation (one sentence each: 1 when its emotion is the gold
# one) A, C and the MAFW A -> 3/10.
EXPECTED_REWARDS = {"format": 0.9, "accuracy": 0.5, "explanation": 0.3}


def _collate(rows: list[tuple[str, str, str]]) -> PromptBatch:
    """Rows of ``ROWS`` -> a prompt batch (clip ids ``<dataset>-<gold>``, for the prediction writer)."""
    return PromptBatch(
        [f"clip {gold}" for _, gold, _ in rows],
        [gold for _, gold, _ in rows],
        [dataset for dataset, _, _ in rows],
        clip_ids=[f"{dataset}-{gold}" for dataset, gold, _ in rows],
    )


def _fixed_generate(texts: list[str]) -> Callable[..., Generation]:
    """A ``generate`` replacement that answers the prompts in order with ``texts`` (the loop under test is real)."""
    queue: Iterator[str] = iter(texts)

    def generate(context: PromptContext, num_samples: int = 1, *args: Any, **kwargs: Any) -> Generation:
        rows = context.embeds.shape[0] * num_samples
        ids = torch.zeros(rows, 1, dtype=torch.long)  # [B, L]
        return Generation(
            ids, torch.ones_like(ids, dtype=torch.bool), torch.zeros(rows, dtype=torch.bool),
            [next(queue) for _ in range(rows)],
        )  # fmt: skip

    return generate


def _rewards() -> list[dict[str, Any]]:
    """Format, accuracy and the explanation reward with the keyword stub verifier (which also judges)."""
    explanation = {"name": "explanation", "init_args": {"verifier": KeywordVerifier()}}
    return [{"name": "format"}, {"name": "accuracy"}, explanation]


def test_test_loop_logs_exact_metrics_per_dataset_and_reward_means(
    make_module: Callable[..., GRPOModule], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    module = make_module(rewards=_rewards(), datasets=["dfew", "mafw", "mafw_compound"])
    monkeypatch.setattr(module.policy, "generate", _fixed_generate([text for _, _, text in ROWS]))
    writer = PredictionWriter(str(tmp_path / "predictions.jsonl"))
    trainer = tiny_trainer(tmp_path, max_steps=1, callbacks=[writer])
    loader = DataLoader(ROWS, batch_size=2, shuffle=False, collate_fn=_collate)  # type: ignore[arg-type]
    (metrics,) = trainer.test(module, dataloaders=loader, verbose=False)
    expected = {f"test/dfew/{key}": value for key, value in EXPECTED_DFEW.items()}
    expected |= {f"test/mafw/{key}": value for key, value in EXPECTED_MAFW.items()}
    expected |= {f"test/rewards/{name}": value for name, value in EXPECTED_REWARDS.items()}
    expected |= {"test/dfew/listed": 8.0, "test/dfew/evaluated": 8.0, "test/dfew/unreadable": 0.0}
    expected |= {"test/mafw/listed": 2.0, "test/mafw/evaluated": 2.0, "test/mafw/unreadable": 0.0}
    assert set(metrics) == set(expected)  # nothing for mafw_compound (no clip), nothing under val/
    for key, value in expected.items():
        assert metrics[key] == pytest.approx(value, abs=1e-6), key
    records = [json.loads(line) for line in (tmp_path / "predictions.jsonl").read_text().splitlines()]
    assert [(r["dataset"], r["gold"], r["completion"]) for r in records] == ROWS
    assert records[0]["clip_id"] == "dfew-happy"
    # the validation collections stay untouched; the test collections are reset after logging
    for collections in (module.val_metrics, module.test_metrics):
        assert all(int(next(iter(c.values())).joint.sum()) == 0 for c in collections.values())


def test_test_and_validation_share_one_code_path(
    make_module: Callable[..., GRPOModule], tmp_path: Path
) -> None:
    module = make_module(rewards=_rewards())  # sampling at 0.3, seeded per batch in both stages
    trainer = tiny_trainer(tmp_path, max_steps=1, limit_val_batches=None)
    (val,) = trainer.validate(module, datamodule=PromptData(batch_size=2), verbose=False)
    (test,) = trainer.test(module, datamodule=_TestPrompts(batch_size=2), verbose=False)
    renamed = {key.replace("val/", "test/", 1): value for key, value in val.items()}
    assert set(renamed) == set(test)
    assert test == pytest.approx(renamed, abs=0, nan_ok=True)  # fcr_given_correct is NaN: no right answer
    assert {"test/dfew/war", "test/dfew/eea", "test/rewards/explanation"} <= set(test)
    assert test["test/dfew/format_rate"] == 0.0  # the untrained policy never writes the tags


CONFIGS = Path(__file__).resolve().parents[2] / "configs" / "grpo"


def test_cli_test_with_a_grpo_checkpoint(tmp_path: Path, emer_json: Path, dfew_root: Path) -> None:
    """``ervlight fit`` a 2-step demo run, then ``ervlight test --ckpt_path`` on the DFEW-mini test split."""
    policy = {
        "pretrained": None,
        "tokenizer_corpus": str(emer_json),
        "hidden_size": 32,
        "intermediate_size": 64,
        "max_prompt_length": 8,  # the templated instruction is longer: every prompt is cut
    }
    split = {"kind": "dfew", "root": str(dfew_root), "split": "test"}
    overrides = {
        "trainer.max_steps": "2",
        "trainer.limit_val_batches": "0",
        "trainer.default_root_dir": str(tmp_path),
        "trainer.logger.init_args.save_dir": str(tmp_path),
        "model.init_args.policy": json.dumps({"class_path": "ervlight.policy.TinyOmni", "init_args": policy}),
        "model.init_args.num_generations": "2",
        "model.init_args.max_completion_length": "4",
        "model.init_args.policy_dir": str(tmp_path / "policy"),
        "model.init_args.datasets": '["dfew"]',
        "data.init_args.train": json.dumps([{"kind": "dfew", "root": str(dfew_root)}]),
        "data.init_args.val": "null",
        "data.init_args.test": json.dumps([split]),
        "data.init_args.batch_size": "2",
        "data.init_args.eval_batch_size": "2",
    }
    config = ["--config", str(CONFIGS / "r1omni_baseline_demo.yaml")]
    config += [f"--{key}={value}" for key, value in overrides.items()]
    with pytest.warns(UserWarning, match="max_prompt_length=8: 2 of 2 prompts had more text tokens"):
        assert main(["fit", *config]) == 0
    (checkpoint,) = tmp_path.rglob("last.ckpt")
    predictions = tmp_path / "predictions.jsonl"
    writer = {
        "class_path": "ervlight.evaluation.predictions.PredictionWriter",
        "init_args": {"path": str(predictions)},
    }
    assert (
        main(["test", *config, f"--trainer.callbacks+={json.dumps(writer)}", "--ckpt_path", str(checkpoint)])
        == 0
    )
    records = [json.loads(line) for line in predictions.read_text().splitlines()]
    # DFEW-mini fold 1 test split: clips 1 (happy) and 6 (disgust) have videos; clip 11 has none: it is written as
    # unreadable with an empty completion and counted as a wrong answer
    assert [(r["dataset"], r["clip_id"], r["gold"], r["fold"], r["status"]) for r in records] == [
        ("dfew", "00001", "happy", 1, "ok"),
        ("dfew", "00006", "disgust", 1, "ok"),
        ("dfew", "00011", "disgust", 1, "unreadable"),
    ]
    assert records[2]["completion"] == ""
    scalars = _tensorboard_scalars(tmp_path)
    assert {"test/dfew/war", "test/dfew/uar", "test/dfew/format_rate", "test/rewards/accuracy"} <= set(
        scalars
    )
    preds = encode_completions([r["completion"] for r in records], "dfew").preds  # [N]
    target = encode_targets([r["gold"] for r in records], "dfew")  # [N]
    # the logged WAR is the one of the written completions (the unreadable clip's empty one included)
    assert scalars["test/dfew/war"] == pytest.approx(float(war(preds, target, 7)))


def _tensorboard_scalars(root: Path) -> dict[str, float]:
    """The last value of every scalar in the TensorBoard event files under ``root``."""
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    values: dict[str, float] = {}
    for events in sorted(root.rglob("events.out.tfevents.*")):
        accumulator = EventAccumulator(str(events))
        accumulator.Reload()
        for tag in accumulator.Tags()["scalars"]:
            values[tag] = accumulator.Scalars(tag)[-1].value
    return values


class _TestPrompts(PromptData):
    """The prompt data module with its validation rows as the test split."""

    def test_dataloader(self) -> DataLoader[PromptBatch]:
        return self.val_dataloader()
