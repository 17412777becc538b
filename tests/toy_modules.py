"""A tiny regression task used to exercise the CLI spine and BaseModule without any project model."""

import torch
from lightning.pytorch import LightningDataModule
from lightning.pytorch.cli import LRSchedulerCallable, OptimizerCallable
from torch import nn
from torch.utils.data import DataLoader, TensorDataset

from ervlight.tasks.base import BaseModule


class ToyRegressor(BaseModule):
    """Fits y = 2x with one linear layer; the first weight can be frozen to check what the optimizer sees."""

    def __init__(
        self,
        freeze_bias: bool = False,
        optimizer: OptimizerCallable = torch.optim.AdamW,
        lr_scheduler: LRSchedulerCallable | None = None,
    ) -> None:
        self.freeze_bias = freeze_bias
        super().__init__(optimizer=optimizer, lr_scheduler=lr_scheduler)

    def configure_models(self) -> None:
        self.net = nn.Linear(1, 1)
        self.net.bias.requires_grad_(not self.freeze_bias)

    def configure_losses(self) -> None:
        self.loss = nn.MSELoss()

    def step(self, batch: list[torch.Tensor], stage: str) -> torch.Tensor:
        x, y = batch
        loss = self.loss(self.net(x), y)
        self.log(f"{stage}/loss", loss)
        return loss

    def training_step(self, batch: list[torch.Tensor], batch_idx: int) -> torch.Tensor:
        return self.step(batch, "train")

    def validation_step(self, batch: list[torch.Tensor], batch_idx: int) -> None:
        self.step(batch, "val")

    def test_step(self, batch: list[torch.Tensor], batch_idx: int) -> None:
        self.step(batch, "test")

    def predict_step(self, batch: list[torch.Tensor], batch_idx: int) -> torch.Tensor:
        return self.net(batch[0])


class ToyData(LightningDataModule):
    """32 points of y = 2x."""

    def __init__(self, batch_size: int = 8) -> None:
        super().__init__()
        self.batch_size = batch_size
        x = torch.linspace(-1, 1, 32).unsqueeze(1)
        self.dataset = TensorDataset(x, 2 * x)

    def _loader(self) -> DataLoader:
        return DataLoader(self.dataset, batch_size=self.batch_size)

    def train_dataloader(self) -> DataLoader:
        return self._loader()

    def val_dataloader(self) -> DataLoader:
        return self._loader()

    def test_dataloader(self) -> DataLoader:
        return self._loader()

    def predict_dataloader(self) -> DataLoader:
        return self._loader()
