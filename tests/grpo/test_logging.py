"""What a GRPO run shows: the progress bar, the cumulative token count (resumed too) and completion tables."""

from __future__ import annotations

import csv
from collections.abc import Callable
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest
import torch
from grpo_stubs import PromptData, tiny_trainer
from lightning.pytorch import Callback, LightningModule, Trainer
from lightning.pytorch.loggers import CSVLogger, Logger, MLFlowLogger, TensorBoardLogger, WandbLogger
from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

from ervlight.grpo.stats import markdown_table
from ervlight.tasks.completion_log import append_csv, log_completion_table
from ervlight.tasks.grpo import GRPOModule, RolloutSample

ROWS: list[dict[str, str | float]] = [
    {
        "prompt": "p0",
        "label": "happy",
        "completion": "<answer>happy</answer>",
        "format": 1.0,
        "advantage": 0.5,
    },
    {"prompt": "p0", "label": "happy", "completion": "a, b\nc", "format": 0.0, "advantage": -0.5},
]


def _read_csv(path: Path) -> list[list[str]]:
    with path.open(newline="", encoding="utf-8") as handle:
        return list(csv.reader(handle))


class TokenLog(Callback):
    """Records ``num_tokens`` after every step and, by wrapping ``make_rollout``, each rollout's tokens."""

    def __init__(self, module: GRPOModule) -> None:
        self.logged: list[float] = []
        self.increments: list[int] = []
        make_rollout = module.make_rollout

        def recording(batch: Any) -> RolloutSample:
            sample = make_rollout(batch)
            prompts = int(sample.context.attention_mask.sum()) * sample.rollout.group_size
            self.increments.append(prompts + int(sample.rollout.completion_mask.sum()))
            return sample

        module.make_rollout = recording  # type: ignore[method-assign]

    def on_train_batch_end(self, trainer: Trainer, pl_module: LightningModule, *args: Any) -> None:
        self.logged.append(float(trainer.callback_metrics["num_tokens"]))


def test_reward_and_loss_are_in_the_progress_bar(
    make_module: Callable[..., GRPOModule], tmp_path: Path
) -> None:
    trainer = tiny_trainer(tmp_path, max_steps=1, enable_progress_bar=True)
    trainer.fit(make_module(), datamodule=PromptData(batch_size=2))
    shown = trainer.progress_bar_metrics
    assert set(shown) == {"reward", "loss"}
    assert shown["reward"] == pytest.approx(float(trainer.logged_metrics["reward"]))
    assert shown["loss"] == pytest.approx(float(trainer.logged_metrics["loss"]))


def test_num_tokens_accumulates_across_steps_and_resume(
    make_module: Callable[..., GRPOModule], tmp_path: Path
) -> None:
    module = make_module(log_completions_steps=0)
    log = TokenLog(module)
    trainer = tiny_trainer(tmp_path, max_steps=2, callbacks=[log])
    trainer.fit(module, datamodule=PromptData(batch_size=2))
    first, second = log.increments
    assert log.logged == [float(first), float(first + second)]
    assert module.num_tokens_seen == first + second
    checkpoint = tmp_path / "two.ckpt"
    trainer.save_checkpoint(checkpoint)
    assert torch.load(checkpoint, weights_only=True)["num_tokens_seen"] == first + second

    resumed = make_module(log_completions_steps=0)
    resumed_log = TokenLog(resumed)
    trainer = tiny_trainer(tmp_path, max_steps=3, callbacks=[resumed_log])
    trainer.fit(resumed, datamodule=PromptData(batch_size=2), ckpt_path=checkpoint)
    (third,) = resumed_log.increments
    assert resumed_log.logged == [float(first + second + third)]
    old = torch.load(checkpoint, weights_only=True)
    del old["num_tokens_seen"]  # a checkpoint written before the count was kept starts it at 0
    resumed.on_load_checkpoint(old)
    assert resumed.num_tokens_seen == 0


def test_completion_tables_reach_tensorboard_and_csv(
    make_module: Callable[..., GRPOModule], tmp_path: Path
) -> None:
    module = make_module(log_completions_steps=1, num_completions_to_print=3)
    tables: list[list[dict[str, str | float]]] = []

    class Tables(Callback):
        def on_train_batch_end(self, trainer: Trainer, pl_module: LightningModule, *args: Any) -> None:
            tables.append(list(module.last_completion_table))

    loggers = [TensorBoardLogger(tmp_path, name="tb"), CSVLogger(tmp_path, name="csv")]
    trainer = tiny_trainer(tmp_path, max_steps=2, logger=loggers, callbacks=[Tables()])
    trainer.fit(module, datamodule=PromptData(batch_size=2))
    rows = _read_csv(Path(loggers[1].log_dir) / "completions.csv")
    header = [
        "step",
        "prompt",
        "label",
        "completion",
        "format",
        "accuracy",
        "explanation",
        "vowels",
        "advantage",
    ]
    expected = [
        [str(step), *(str(value) for value in row.values())] for step in (0, 1) for row in tables[step]
    ]
    assert rows == [header, *expected]
    assert (Path(loggers[1].log_dir) / "metrics.csv").is_file()  # beside the metrics
    events = EventAccumulator(str(loggers[0].log_dir), size_guidance={"tensors": 0})
    events.Reload()
    texts = events.Tensors("completions/text_summary")
    assert [event.step for event in texts] == [0, 1]
    for event, table in zip(texts, tables, strict=True):
        assert event.tensor_proto.string_val[0].decode() == markdown_table(table)


class PlainLogger(Logger):
    """A logger that takes metrics only (no table)."""

    def __init__(self, root: Path) -> None:
        super().__init__()
        self.root = root

    @property
    def name(self) -> str:
        return "plain"

    @property
    def version(self) -> int:
        return 0

    @property
    def save_dir(self) -> str:
        return str(self.root)

    def log_hyperparams(self, params: Any, *args: Any, **kwargs: Any) -> None:
        """Nothing to keep."""

    def log_metrics(self, metrics: dict[str, float], step: int | None = None) -> None:
        """Nothing to keep."""


def test_logger_without_tables_falls_back_to_csv(
    make_module: Callable[..., GRPOModule], tmp_path: Path
) -> None:
    module = make_module(log_completions_steps=1, num_completions_to_print=2)
    trainer = tiny_trainer(tmp_path, max_steps=1, logger=PlainLogger(tmp_path / "plain"))
    trainer.fit(module, datamodule=PromptData(batch_size=2))
    rows = _read_csv(tmp_path / "plain" / "completions.csv")
    assert rows[1:] == [["0", *(str(v) for v in row.values())] for row in module.last_completion_table]
    assert len(rows) == 3
    unlogged = tiny_trainer(tmp_path / "none", max_steps=1, logger=False)
    unlogged.fit(make_module(log_completions_steps=1), datamodule=PromptData(batch_size=2))
    assert not list((tmp_path / "none").rglob("completions.csv"))


class RecordingWandb(WandbLogger):
    """A W&B logger that records ``log_table`` calls (no wandb run)."""

    def __init__(self) -> None:
        self.calls: list[dict[str, Any]] = []

    def log_table(
        self, key: str, columns: Any = None, data: Any = None, dataframe: Any = None, step: Any = None
    ) -> None:
        self.calls.append({"key": key, "columns": columns, "data": data, "step": step})


class RecordingMLflow(MLFlowLogger):
    """An MLflow logger whose client records ``log_table`` calls (no MLflow server)."""

    def __init__(self) -> None:
        self.calls: list[tuple[Any, ...]] = []

    @property
    def experiment(self) -> Any:
        return SimpleNamespace(log_table=lambda *args: self.calls.append(args))

    @property
    def run_id(self) -> str:
        return "run-1"


def test_wandb_and_mlflow_get_tables(tmp_path: Path) -> None:
    wandb, mlflow = RecordingWandb(), RecordingMLflow()
    trainer = SimpleNamespace(loggers=[wandb, mlflow], log_dir=str(tmp_path), default_root_dir=str(tmp_path))
    targets = log_completion_table(trainer, ROWS, 7)  # type: ignore[arg-type]
    assert targets == ["RecordingWandb", "RecordingMLflow"]
    assert wandb.calls == [
        {"key": "completions", "columns": ["prompt", "label", "completion", "format", "advantage"],
         "data": [["p0", "happy", "<answer>happy</answer>", 1.0, 0.5], ["p0", "happy", "a, b\nc", 0.0, -0.5]],
         "step": 7}
    ]  # fmt: skip
    assert mlflow.calls == [
        ("run-1", {"prompt": ["p0", "p0"], "label": ["happy", "happy"],
                   "completion": ["<answer>happy</answer>", "a, b\nc"], "format": [1.0, 0.0],
                   "advantage": [0.5, -0.5]}, "completions/step_000007.json")
    ]  # fmt: skip
    assert not list(tmp_path.iterdir())  # no CSV fallback when a logger took the table
    assert log_completion_table(trainer, [], 8) == []


def test_append_csv_writes_the_header_once(tmp_path: Path) -> None:
    path = tmp_path / "sub" / "completions.csv"
    append_csv(path, ROWS, 0)
    append_csv(path, ROWS[:1], 5)
    append_csv(path, [], 6)
    assert _read_csv(path) == [
        ["step", "prompt", "label", "completion", "format", "advantage"],
        ["0", "p0", "happy", "<answer>happy</answer>", "1.0", "0.5"],
        ["0", "p0", "happy", "a, b\nc", "0.0", "-0.5"],
        ["5", "p0", "happy", "<answer>happy</answer>", "1.0", "0.5"],
    ]
