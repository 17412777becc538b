"""The thin base LightningModule every ervlight task module derives from.

``__init__`` records the hyperparameters and then calls the template hooks :meth:`configure_models`,
:meth:`configure_losses` and :meth:`configure_metrics`; optimizers and schedulers are injected by the CLI (or the
caller) as callables and only ever see parameters that require gradients, so LoRA and frozen towers work without
special cases.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import torch
from lightning.pytorch import LightningModule
from lightning.pytorch.cli import LRSchedulerCallable, OptimizerCallable
from torch import nn

__all__ = ["BaseModule"]


class BaseModule(LightningModule):
    """Base of ervlight's LightningModules: hyperparameters, template hooks, injected optimizer and scheduler.

    Args:
        optimizer: builds the optimizer from the trainable parameters (default ``torch.optim.AdamW``).
        lr_scheduler: builds a scheduler from the optimizer; ``None`` for a constant learning rate.
        scheduler_interval: ``"step"`` or ``"epoch"``, how often Lightning steps the scheduler.
    """

    #: Init arguments left out of the saved hyperparameters (callables, modules, derived objects).
    hparams_ignore: tuple[str, ...] = ("optimizer", "lr_scheduler")

    def __init__(
        self,
        optimizer: OptimizerCallable = torch.optim.AdamW,
        lr_scheduler: LRSchedulerCallable | None = None,
        scheduler_interval: str = "step",
    ) -> None:
        super().__init__()
        self.save_hyperparameters(ignore=list(self.hparams_ignore))
        self.optimizer_factory = optimizer
        self.lr_scheduler_factory = lr_scheduler
        self.configure_models()
        self.configure_losses()
        self.configure_metrics()

    def configure_models(self) -> None:
        """Build the networks (override)."""

    def configure_losses(self) -> None:
        """Build the loss functions (override)."""

    def configure_metrics(self) -> None:
        """Build per-stage torchmetrics collections (override)."""

    def trainable_parameters(self) -> Iterator[nn.Parameter]:
        """Parameters that require gradients: what the optimizer sees."""
        return (p for p in self.parameters() if p.requires_grad)

    def configure_optimizers(self) -> Any:
        """Build the injected optimizer over trainable parameters and, if given, its scheduler."""
        params = list(self.trainable_parameters())
        if not params:
            raise ValueError(
                f"{type(self).__name__} has no trainable parameters: check freezing and LoRA settings"
            )
        optimizer = self.optimizer_factory(params)
        if self.lr_scheduler_factory is None:
            return optimizer
        scheduler = self.lr_scheduler_factory(optimizer)
        interval = self.hparams.get("scheduler_interval", "step")
        return {"optimizer": optimizer, "lr_scheduler": {"scheduler": scheduler, "interval": interval}}
