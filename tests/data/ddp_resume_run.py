"""ERVDataModule's training loader under 2-process DDP on CPU (gloo): what each rank trains on, and resuming.

Run by ``test_sampling_ddp.py`` as ``python ddp_resume_run.py OUT_DIR CORPUS MODE`` with MODE ``straight``
(6 steps), ``first`` (3 steps, ``OUT_DIR/first/last.ckpt``), ``resumed`` (from that checkpoint to 6 steps) or
``unsharded`` (``use_distributed_sampler=False``, no ``data_seed``, rank-dependent global seeds; 2 steps).
Lightning re-launches this script for rank 1; each rank writes the texts of its batches to
``OUT_DIR/MODE_rank<r>.json`` and rank 0 the weights to ``OUT_DIR/MODE.json``.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import torch
from lightning.pytorch import LightningModule, Trainer
from lightning.pytorch.callbacks import ModelCheckpoint

from ervlight.data.batch import TextBatch
from ervlight.data.datamodule import ERVDataModule
from ervlight.data.text import TextSourceConfig
from ervlight.training.distributed import release_process_group


class TextRecorder(LightningModule):
    """Fits a line to the text lengths of each batch and records the texts."""

    def __init__(self, rank_seeds: bool = False) -> None:
        super().__init__()
        torch.manual_seed(0)
        self.line = torch.nn.Linear(1, 1)
        self.seen: list[list[str]] = []
        self.rank_seeds = rank_seeds

    def setup(self, stage: str) -> None:
        """With ``rank_seeds``, give each rank's global generator another seed before the loader is built."""
        if self.rank_seeds:
            torch.manual_seed(1000 + self.global_rank)

    def training_step(self, batch: TextBatch, batch_idx: int) -> torch.Tensor:
        self.seen.append(list(batch.texts))
        x = torch.tensor([[len(t) / 20.0] for t in batch.texts])  # [B, 1]
        return ((self.line(x) - 1.0) ** 2).mean()

    def configure_optimizers(self) -> torch.optim.Optimizer:
        return torch.optim.SGD(self.parameters(), lr=0.1)


def main(out: Path, corpus: Path, mode: str) -> None:
    """Fit with 2 ranks, batch 2 per rank, 10 texts (3 batches per rank and epoch, the last one short)."""
    unsharded = mode == "unsharded"  # also: no data_seed, so rank 0's drawn seed must reach rank 1
    data = ERVDataModule(modality="text", text=TextSourceConfig(str(corpus), source="emer"), batch_size=2,
                         data_seed=None if unsharded else 9)  # fmt: skip
    steps = {"straight": 6, "first": 3, "resumed": 6, "unsharded": 2}[mode]
    trainer = Trainer(
        accelerator="cpu", devices=2, strategy="ddp", max_steps=steps, logger=False, enable_progress_bar=False,
        enable_model_summary=False, default_root_dir=out, use_distributed_sampler=not unsharded,
        callbacks=[ModelCheckpoint(out / mode, save_last=True)],
    )  # fmt: skip
    module = TextRecorder(rank_seeds=unsharded)
    ckpt = out / "first" / "last.ckpt" if mode == "resumed" else None
    trainer.fit(module, datamodule=data, ckpt_path=ckpt)
    (out / f"{mode}_rank{trainer.global_rank}.json").write_text(json.dumps(module.seen))
    if trainer.is_global_zero:
        weights = [p.detach().flatten().tolist() for p in module.parameters()]
        (out / f"{mode}.json").write_text(json.dumps({"weights": weights, "world_size": trainer.world_size}))
    release_process_group()  # left to the interpreter's exit, gloo sometimes aborts ("terminate called ...")


if __name__ == "__main__":
    main(Path(sys.argv[1]), Path(sys.argv[2]), sys.argv[3])
