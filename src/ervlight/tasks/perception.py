"""Perception pre-training: train TinyOmni's media towers to recognise the training clips' emotions before SFT.

Real omni models start from pretrained vision and audio encoders; TinyOmni's towers start from random weights and
the cold-start SFT set is too small to teach them to see. :class:`PerceptionModule` stands in for that encoder
pre-training: the policy's towers and projectors run as in :meth:`TinyOmni.encode_media`, their tokens are
mean-pooled over the real frames and audio tokens, and a linear head per dataset predicts the clip's class
(cross-entropy). Only labelled TRAINING clips are used (the demo config trains on the fold-1 training clips minus a
held-out part and validates on that part); at the end the whole policy (towers trained, language model untouched)
is saved for SFT to start from, with the held-out accuracy in ``perception.json`` beside it.

Symbols: ``B`` clips, ``T+A`` media tokens, ``D`` hidden size, ``C`` classes of a dataset.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Any

import torch
import torch.nn.functional as F  # noqa: N812
from lightning.pytorch.cli import LRSchedulerCallable, OptimizerCallable
from torch import nn

from ervlight.data.batch import MediaBatch
from ervlight.labels import get_label_space
from ervlight.policy.backbones.tiny_omni import TinyOmni
from ervlight.tasks.base import BaseModule
from ervlight.tasks.schedules import WarmupCosineLR

__all__ = ["PerceptionModule", "pooled_media"]


def pooled_media(policy: TinyOmni, batch: MediaBatch) -> torch.Tensor:
    """``[B, D]`` mean of the policy's media tokens over the real frames and audio tokens."""
    tokens, mask = policy.encode_media(batch)  # [B, T+A, D], [B, T+A]
    weights = mask.float().unsqueeze(-1)  # [B, T+A, 1]
    return (tokens * weights).sum(1) / weights.sum(1).clamp(min=1.0)  # [B, D]


def _shifted(frames: torch.Tensor, max_shift: int, generator: torch.Generator) -> torch.Tensor:
    """``[B, T, C, H, W]`` frames rolled by one random (dy, dx) in ``[-max_shift, max_shift]`` per batch."""
    if max_shift <= 0:
        return frames
    dy, dx = (int(s) for s in torch.randint(-max_shift, max_shift + 1, (2,), generator=generator))
    return torch.roll(frames, (dy, dx), dims=(-2, -1))


class PerceptionModule(BaseModule):
    """Pre-train a :class:`TinyOmni`'s towers and projectors on clip labels (see the module docstring).

    Args:
        policy: builds the policy whose towers are trained (its language model is not used and not changed).
        datasets: label spaces with a head each (every training clip must belong to one).
        policy_dir: where the policy is saved at the end of ``fit`` (``None``: not saved).
        max_shift: frames are rolled by up to this many pixels in training (translation augmentation).
        seed: seed of the augmentation draws.
        optimizer: builds the optimizer from the towers', projectors' and heads' parameters.
        lr_scheduler: builds the learning-rate scheduler (``None`` keeps the rate constant).
        scheduler_interval: ``"step"`` or ``"epoch"``.
    """

    def __init__(
        self,
        policy: Callable[[], TinyOmni],
        datasets: Sequence[str] = ("dfew", "mafw"),
        policy_dir: str | None = None,
        max_shift: int = 4,
        seed: int = 0,
        optimizer: OptimizerCallable = torch.optim.AdamW,
        lr_scheduler: LRSchedulerCallable | None = None,
        scheduler_interval: str = "step",
    ) -> None:
        self.policy_factory = policy
        self.datasets = list(datasets)
        self.policy_dir = policy_dir
        self.max_shift = max_shift
        self.generator = torch.Generator().manual_seed(seed)
        self.held_out: dict[str, dict[str, float]] = {}
        self._counts: dict[str, list[int]] = {}
        super().__init__(
            optimizer=optimizer, lr_scheduler=lr_scheduler, scheduler_interval=scheduler_interval
        )

    def configure_models(self) -> None:
        """Build the policy and one linear head per dataset on its hidden size."""
        self.policy: TinyOmni = self.policy_factory()
        hidden = int(self.policy.sizes["hidden_size"])
        self.heads = nn.ModuleDict(
            {name: nn.Linear(hidden, get_label_space(name).num_classes) for name in self.datasets}
        )

    def trainable_parameters(self) -> Iterator[nn.Parameter]:
        """What is trained: the frame and audio encoders, the projectors and the heads (not the LM)."""
        parts = (self.policy.vision_encoder, self.policy.audio_encoder, self.policy.projectors, self.heads)
        return (p for part in parts for p in part.parameters())

    def forward(self, batch: MediaBatch) -> dict[str, tuple[torch.Tensor, torch.Tensor]]:
        """Per dataset in the batch: ``[b, C]`` logits and ``[b]`` gold class indices."""
        unknown = sorted(set(batch.datasets) - set(self.datasets))
        if unknown:
            raise ValueError(
                f"PerceptionModule has no head for dataset(s) {unknown}; datasets: {self.datasets}"
            )
        pooled = pooled_media(self.policy, batch)  # [B, D]
        labels = batch.labels.to(pooled.device)  # [B]
        out = {}
        for name in self.datasets:
            rows = torch.tensor([i for i, d in enumerate(batch.datasets) if d == name], dtype=torch.long)
            if len(rows):
                rows = rows.to(pooled.device)
                out[name] = (self.heads[name](pooled[rows]), labels[rows])  # [b, C], [b]
        return out

    def training_step(self, batch: MediaBatch, batch_idx: int) -> torch.Tensor:
        """Cross-entropy summed over the batch's datasets, averaged over its clips."""
        batch.frames = _shifted(batch.frames, self.max_shift, self.generator)
        groups = self(batch)
        loss = sum(F.cross_entropy(logits, gold, reduction="sum") for logits, gold in groups.values())
        loss = torch.as_tensor(loss) / len(batch)
        self.log("train/loss", loss, batch_size=len(batch), prog_bar=True)
        return loss

    def on_validation_epoch_start(self) -> None:
        """Reset the held-out counts."""
        self._counts = {name: [0, 0] for name in self.datasets}

    def validation_step(self, batch: MediaBatch, batch_idx: int, dataloader_idx: int = 0) -> None:
        """Count held-out clips and correct top-1 predictions per dataset."""
        for name, (logits, gold) in self(batch).items():
            self._counts[name][0] += int((logits.argmax(-1) == gold).sum())
            self._counts[name][1] += len(gold)

    def on_validation_epoch_end(self) -> None:
        """Log ``val/<dataset>/accuracy`` (%) and keep the latest figures for ``perception.json``."""
        for name, (correct, total) in self._counts.items():
            if total:
                accuracy = 100.0 * correct / total
                self.held_out[name] = {"accuracy": round(accuracy, 2), "clips": total}
                self.log(f"val/{name}/accuracy", accuracy)

    def configure_optimizers(self) -> Any:
        """The injected optimizer and scheduler; a :class:`WarmupCosineLR` without ``total_steps`` gets the run's."""
        configured = super().configure_optimizers()
        if isinstance(configured, dict):
            scheduler = configured["lr_scheduler"]["scheduler"]
            if isinstance(scheduler, WarmupCosineLR) and scheduler.total_steps is None:
                scheduler.total_steps = int(self.trainer.estimated_stepping_batches)
        return configured

    def on_fit_end(self) -> None:
        """Save the policy and ``perception.json`` (held-out accuracy of the last validation) to ``policy_dir``."""
        if self.policy_dir is None or not self.trainer.is_global_zero:
            return
        folder = Path(self.policy_dir)
        self.policy.save_pretrained(folder)
        summary = {"held_out": self.held_out, "epochs": self.trainer.current_epoch}
        (folder / "perception.json").write_text(json.dumps(summary, indent=2) + "\n", encoding="utf-8")
