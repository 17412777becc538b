"""#15 row 6: ``last.ckpt`` always holds the newest step, and a resumed run keeps its logger version.

Lightning's ``ModelCheckpoint(monitor=..., save_last=True)`` refreshes ``last.ckpt`` only when the metric improves
(shown here, as the reason); :class:`ervlight.training.LastCheckpoint` saves on a step schedule and at the end.
"""

from __future__ import annotations

from functools import partial
from pathlib import Path

import pytest
import torch
from fit_args import fit_args
from lightning.pytorch import Callback, LightningModule, Trainer
from lightning.pytorch.callbacks import ModelCheckpoint
from safetensors.torch import load_file
from torch.utils.data import DataLoader, TensorDataset

from ervlight.cli import main
from ervlight.data.datamodule import ERVDataModule
from ervlight.data.sources import DataSource
from ervlight.policy.backbones.tiny_omni import TinyOmni
from ervlight.tasks.grpo import GRPOModule
from ervlight.training import LastCheckpoint
from tiny_models import tiny_omni_kwargs


class Worsening(LightningModule):
    """A linear regressor whose validation metric is best at the first validation and worse after."""

    def __init__(self) -> None:
        super().__init__()
        self.net = torch.nn.Linear(2, 1)
        self.validations = 0

    def training_step(self, batch: list[torch.Tensor], batch_idx: int) -> torch.Tensor:
        x, y = batch
        return torch.nn.functional.mse_loss(self.net(x), y)

    def validation_step(self, batch: list[torch.Tensor], batch_idx: int) -> None:
        self.log("score", float(-self.validations))  # 0, -1, -2, ...: only the first is the best (mode max)

    def on_validation_epoch_end(self) -> None:
        self.validations += 1

    def configure_optimizers(self) -> torch.optim.Optimizer:
        return torch.optim.SGD(self.parameters(), lr=0.1)


class Crash(Callback):
    """Raises after optimiser step ``at`` (a crash mid-run)."""

    def __init__(self, at: int) -> None:
        self.at = at

    def on_train_batch_end(self, trainer: Trainer, *args: object) -> None:
        if trainer.global_step == self.at:
            raise RuntimeError("crash")


def _loader() -> DataLoader:  # type: ignore[type-arg]
    generator = torch.Generator().manual_seed(0)
    x = torch.randn(16, 2, generator=generator)
    return DataLoader(TensorDataset(x, x.sum(1, keepdim=True)), batch_size=2)


def _step(path: Path) -> int:
    step: int = torch.load(path, weights_only=True, map_location="cpu")["global_step"]
    return step


def _fit(root: Path, callbacks: list[Callback], steps: int = 16, ckpt: Path | None = None) -> Worsening:
    torch.manual_seed(0)
    module = Worsening()
    trainer = Trainer(
        max_steps=steps, val_check_interval=4, logger=False, enable_progress_bar=False, enable_model_summary=False,
        num_sanity_val_steps=0, default_root_dir=root, callbacks=callbacks,
    )  # fmt: skip
    trainer.fit(module, _loader(), _loader(), ckpt_path=ckpt)
    return module


def test_monitored_save_last_lags_and_last_checkpoint_does_not(tmp_path: Path) -> None:
    lightning_last = ModelCheckpoint(tmp_path / "lightning", monitor="score", mode="max", save_last=True)
    _fit(tmp_path, [lightning_last])
    assert _step(tmp_path / "lightning" / "last.ckpt") == 4  # the reason for row 6: stuck at the best step
    best = ModelCheckpoint(tmp_path / "ervlight", monitor="score", mode="max", save_last=False)
    _fit(tmp_path, [best, LastCheckpoint(tmp_path / "ervlight", every_n_train_steps=5)])
    assert sorted(p.name for p in (tmp_path / "ervlight").iterdir()) == ["epoch=0-step=4.ckpt", "last.ckpt"]
    assert _step(tmp_path / "ervlight" / "last.ckpt") == 16  # the end of the run, not the best step


def _grpo(root: Path, mafw_root: Path, callbacks: list[Callback], ckpt: Path | None = None) -> GRPOModule:
    """8 GRPO steps of a small TinyOmni on MAFW-mini (10 clips, 5 batches an epoch, resumable sampling)."""
    torch.manual_seed(1 if ckpt else 0)  # a resumed run starts from other weights: the checkpoint brings them
    policy = TinyOmni(**tiny_omni_kwargs(vocab_size=300, image_size=16, instruction="Which emotion?"))
    module = GRPOModule(
        policy, rewards=[{"name": "format"}, {"name": "accuracy"}], num_generations=2, max_completion_length=4,
        datasets=["mafw"], policy_dir=None, log_completions_steps=0, optimizer=partial(torch.optim.AdamW, lr=0.01),
    )  # fmt: skip
    data = ERVDataModule(train=[DataSource("mafw", str(mafw_root))], num_frames=4, image_size=16, batch_size=2,
                         data_seed=3)  # fmt: skip
    trainer = Trainer(
        accelerator="cpu", max_steps=8, logger=False, enable_progress_bar=False, enable_model_summary=False,
        limit_val_batches=0, default_root_dir=root, callbacks=callbacks,
    )  # fmt: skip
    trainer.fit(module, datamodule=data, ckpt_path=ckpt)
    return module


def test_crash_then_resume_from_last_matches_the_uninterrupted_run(tmp_path: Path, mafw_root: Path) -> None:
    straight = _grpo(tmp_path / "straight", mafw_root, [LastCheckpoint(every_n_train_steps=3)])
    with pytest.raises(RuntimeError, match="crash"):
        _grpo(tmp_path / "crashed", mafw_root, [LastCheckpoint(every_n_train_steps=3), Crash(at=4)])
    last = tmp_path / "crashed" / "checkpoints" / "last.ckpt"
    assert _step(last) == 3  # the step schedule's last save before the crash; the crash itself writes nothing
    resumed = _grpo(tmp_path / "crashed", mafw_root, [LastCheckpoint(every_n_train_steps=3)], ckpt=last)
    assert _step(last) == 8  # and the end of the run is saved too (8 is not on the schedule)
    for (name, value), other in zip(straight.named_parameters(), resumed.parameters(), strict=True):
        assert torch.equal(value, other), name


def test_cli_resume_keeps_the_logger_version_and_ends_at_the_last_step(
    tmp_path: Path, dfew_root: Path, emer_json: Path
) -> None:
    """``ervlight fit`` 5 steps = 3 steps + ``--ckpt_path last.ckpt`` to 5, in one TensorBoard version folder."""
    assert main(fit_args(tmp_path / "straight", dfew_root, emer_json, 5)) == 0
    run = tmp_path / "run"
    assert main(fit_args(run, dfew_root, emer_json, 3)) == 0
    last = run / "tensorboard" / "version_0" / "checkpoints" / "last.ckpt"
    assert _step(last) == 3
    assert main([*fit_args(run, dfew_root, emer_json, 5), f"--ckpt_path={last}"]) == 0
    assert sorted(p.name for p in (run / "tensorboard").iterdir()) == ["version_0"]  # no version_1
    assert _step(last) == 5
    assert (
        len(list((run / "tensorboard" / "version_0").glob("events.out.tfevents.*"))) == 2
    )  # one per process
    for weights in ("lm/model.safetensors", "towers.safetensors"):
        straight, resumed = (
            load_file(tmp_path / "straight" / "policy" / weights),
            load_file(run / "policy" / weights),
        )
        assert straight.keys() == resumed.keys()
        assert all(torch.equal(straight[k], resumed[k]) for k in straight), weights
