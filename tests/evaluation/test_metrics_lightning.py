"""The consistency metrics inside a LightningModule: a per-stage collection logged with ``log_dict``."""

from __future__ import annotations

import pytest
import torch
from lightning import LightningModule, Trainer
from torch.utils.data import DataLoader, TensorDataset

from ervlight.evaluation.metrics import consistency_metrics

PREDS = torch.tensor([0, 0, 1, -1, 1, 1, 0, 2, -1, 2])
TARGET = torch.tensor([0, 0, 0, 0, 1, 1, 1, 2, 2, 2])
JUDGED = torch.tensor([0, 1, 1, -1, 1, -1, 0, 2, -1, 0])
FORMATTED = torch.tensor([1, 1, 1, 0, 1, 1, 1, 1, 0, 1], dtype=torch.bool)


class _Evaluated(LightningModule):
    """Counts batches of (preds, target, judged, well_formatted) into a ``test/`` collection."""

    def __init__(self) -> None:
        super().__init__()
        self.test_metrics = consistency_metrics(3, prefix="test/")

    def test_step(self, batch: list[torch.Tensor], batch_idx: int) -> None:
        preds, target, judged, formatted = batch
        self.test_metrics.update(preds=preds, target=target, judged=judged, well_formatted=formatted)
        self.log_dict(self.test_metrics, batch_size=len(target))


def test_collection_logs_epoch_values_through_lightning() -> None:
    loader = DataLoader(TensorDataset(PREDS, TARGET, JUDGED, FORMATTED), batch_size=4)  # 3 uneven batches
    trainer = Trainer(
        accelerator="cpu",
        logger=False,
        enable_checkpointing=False,
        enable_progress_bar=False,
        enable_model_summary=False,
    )
    (results,) = trainer.test(_Evaluated(), loader, verbose=False)
    expected = {
        "test/war": 0.6,
        "test/uar": (1 / 2 + 2 / 3 + 2 / 3) / 3,
        "test/unparseable_rate": 0.2,
        "test/format_rate": 0.8,
        "test/eea": 0.3,
        "test/epc": 0.5,
        "test/fcr": 0.3,
        "test/fcr_given_correct": 0.5,
        "test/unjudged": 3,
    }
    assert results.keys() == expected.keys()
    for key, value in expected.items():
        assert results[key] == pytest.approx(value, abs=1e-6), key
