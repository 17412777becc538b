"""``LastCheckpoint``: ``last.ckpt`` always holds the newest training step, whatever a monitored metric does.

Lightning's ``ModelCheckpoint(monitor=..., save_last=True)`` refreshes ``last.ckpt`` only when the monitored
metric enters its top k, so after a run whose best validation came early, ``last.ckpt`` lies steps behind the
end and a resume from it goes back in time. This callback writes ``last.ckpt`` on its own schedule, independent
of any metric: every ``every_n_train_steps`` optimiser steps, every ``every_n_epochs`` training epochs, at the
end of ``fit``, and when SIGTERM stops the run (Lightning raises ``SIGTERMException`` after the current step;
the checkpoint then holds that step). Presets keep their monitored ``ModelCheckpoint`` for the best weights with
``save_last: false`` and add this callback::

    - class_path: ervlight.training.LastCheckpoint
      init_args: {every_n_train_steps: 50}
"""

from __future__ import annotations

import sys
from typing import Any

import lightning.pytorch as pl
from lightning.pytorch.callbacks import ModelCheckpoint
from lightning.pytorch.utilities.exceptions import SIGTERMException

from ervlight.errors import ConfigError

__all__ = ["LastCheckpoint"]


class LastCheckpoint(ModelCheckpoint):
    """Writes ``last.ckpt`` every n steps, every n epochs, at the end of ``fit`` and on SIGTERM (no metric).

    Args:
        dirpath: the checkpoint folder (default: Lightning's, ``<logger dir>/<name>/<version>/checkpoints``).
        every_n_train_steps: save after every this many optimiser steps (0: not on a step schedule).
        every_n_epochs: save at the end of every this many training epochs (0: not on an epoch schedule).
    """

    def __init__(
        self, dirpath: str | None = None, every_n_train_steps: int = 0, every_n_epochs: int = 1
    ) -> None:
        if every_n_train_steps < 0 or every_n_epochs < 0:
            raise ConfigError(
                f"LastCheckpoint: every_n_train_steps and every_n_epochs must be >= 0 (0 = off), "
                f"got {every_n_train_steps} and {every_n_epochs}"
            )
        # the parent's own triggers stay off (0): this class decides when to save
        super().__init__(
            dirpath=dirpath, save_last=True, save_top_k=0, every_n_train_steps=0, every_n_epochs=0
        )
        self.step_interval = every_n_train_steps
        self.epoch_interval = every_n_epochs

    @property
    def state_key(self) -> str:
        """Key of this callback's state in a checkpoint (distinct from any ``ModelCheckpoint``'s)."""
        return self._generate_state_key(
            every_n_train_steps=self.step_interval, every_n_epochs=self.epoch_interval
        )

    def save_now(self, trainer: pl.Trainer) -> str | None:
        """Write ``last.ckpt`` at the current step; returns its path (``None``: nothing to save now)."""
        if self._should_skip_saving_checkpoint(trainer):
            return None
        self._save_last_checkpoint(trainer, self._monitor_candidates(trainer))
        return self.last_model_path

    def on_train_batch_end(
        self, trainer: pl.Trainer, pl_module: pl.LightningModule, outputs: Any, batch: Any, batch_idx: int
    ) -> None:
        """Save on the step schedule."""
        if self.step_interval and trainer.global_step % self.step_interval == 0:
            self.save_now(trainer)

    def on_train_epoch_end(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        """Save on the epoch schedule."""
        if self.epoch_interval and (trainer.current_epoch + 1) % self.epoch_interval == 0:
            self.save_now(trainer)

    def on_validation_end(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        """Nothing: validation metrics do not decide when ``last.ckpt`` is written."""

    def on_train_end(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        """Save the final step."""
        self.save_now(trainer)

    def on_exception(
        self, trainer: pl.Trainer, pl_module: pl.LightningModule, exception: BaseException
    ) -> None:
        """On SIGTERM, save the step the run stopped at and say where (other exceptions save nothing)."""
        if not isinstance(exception, SIGTERMException):
            return
        path = self.save_now(trainer) or self.last_model_path
        if trainer.is_global_zero:
            print(
                f"SIGTERM: stopped after step {trainer.global_step}; {path} holds it (resume with --ckpt_path {path})",
                file=sys.stderr,
            )
