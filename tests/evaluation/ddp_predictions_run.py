"""``ervlight test``'s PredictionWriter under 2-process DDP on CPU (gloo), on a toy module and 5 toy clips.

Run by ``test_prediction_writer.py`` as ``python ddp_predictions_run.py OUT_FILE DEVICES``; Lightning re-launches
this script for rank 1. Batches of 2: DistributedSampler gives rank 0 clips [0, 2, 4] and rank 1 [1, 3] plus
clip 0 again (padding), so the merged file must hold clips 0..4 once each, in order.
"""

from __future__ import annotations

import sys
from dataclasses import dataclass

import torch
from lightning.pytorch import LightningModule, Trainer
from torch.utils.data import DataLoader

from ervlight.evaluation.predictions import PredictionWriter

CLIPS = [f"{i:05d}" for i in range(1, 6)]
GOLD = ["happy", "sad", "fear", "angry", "neutral"]


@dataclass
class ToyBatch:
    """The fields the writer reads from a batch."""

    clip_ids: list[str]
    datasets: list[str]
    label_names: list[str]


def collate(indices: list[int]) -> ToyBatch:
    """A batch of clip positions."""
    return ToyBatch([CLIPS[i] for i in indices], ["dfew"] * len(indices), [GOLD[i] for i in indices])


class ToyTask(LightningModule):
    """``test_step`` returns ``{"completions": [...]}`` like the project's tasks (the answer is the gold label)."""

    def __init__(self) -> None:
        super().__init__()
        self.weight = torch.nn.Parameter(torch.zeros(1))

    def test_step(self, batch: ToyBatch, batch_idx: int) -> dict[str, list[str]]:
        return {"completions": [f"<think>clip {c}.</think><answer>{g}</answer>" for c, g in
                                zip(batch.clip_ids, batch.label_names, strict=True)]}  # fmt: skip


def main(out: str, devices: int) -> None:
    """Test the toy task on ``devices`` CPU processes and write the predictions to ``out``."""
    trainer = Trainer(accelerator="cpu", devices=devices, strategy="ddp" if devices > 1 else "auto",
                      callbacks=[PredictionWriter(out, fold=1)], logger=False, enable_progress_bar=False,
                      enable_model_summary=False)  # fmt: skip
    trainer.test(
        ToyTask(), DataLoader(list(range(len(CLIPS))), batch_size=2, collate_fn=collate), verbose=False
    )


if __name__ == "__main__":
    main(sys.argv[1], int(sys.argv[2]))
