"""A callback for the SIGTERM fault test: the process sends itself SIGTERM after optimiser step ``at``."""

from __future__ import annotations

import os
import signal

from lightning.pytorch import Callback, Trainer


class SigtermAt(Callback):
    """Sends SIGTERM to this process once ``trainer.global_step == at`` (as a scheduler would)."""

    def __init__(self, at: int = 3) -> None:
        self.at = at

    def on_train_batch_end(self, trainer: Trainer, *args: object) -> None:
        if trainer.global_step == self.at:
            os.kill(os.getpid(), signal.SIGTERM)
