"""The training progress bar without Lightning's ``Epoch 0/-2`` when only ``max_steps`` bounds the run."""

from __future__ import annotations

from lightning.pytorch.callbacks import RichProgressBar

__all__ = ["StepBoundProgressBar"]


class StepBoundProgressBar(RichProgressBar):
    """Lightning's rich bar; ``Epoch k`` without the ``/max - 1`` that reads ``/-2`` when ``max_epochs`` is -1."""

    def _get_train_description(self, current_epoch: int) -> str:
        description = super()._get_train_description(current_epoch)
        max_epochs = self.trainer.max_epochs
        if max_epochs is not None and max_epochs < 0:
            description = description.replace(f"/{max_epochs - 1}", "", 1)
        return description
