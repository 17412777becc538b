"""Two GRPO steps of a tiny Qwen2.5-Omni thinker: one process, 2-process DDP or 2-process FSDP2 (gloo, CPU).

Run by ``test_sharding.py`` as ``python shard_run.py OUT_DIR OMNI_FOLDER MODE`` with MODE one of ``single``,
``ddp``, ``fsdp`` (FSDP2 with gradient checkpointing; saves a distributed checkpoint after each step) and
``fsdp_resume`` (resumes ``fsdp``'s step-1 checkpoint). Lightning re-launches this script for rank 1. Every run
sees the same 4 clips per step (global batch), full fine-tuning with a frozen reference (``beta > 0``), 2
completion rows per micro-batch, gradient clipping and SGD with momentum (its state is in the checkpoint). Each
row is sampled alone from a generator with a fixed seed (see :class:`SeededThinker`), so every run sees the same
completions whatever rank a clip lands on.
The trained policy is what :meth:`PolicyTask.on_fit_end` saves (``policy_<mode>/``, gathered from the shards).
"""

from __future__ import annotations

import json
import sys
from functools import partial
from pathlib import Path

import torch
from grpo_stubs import erv_rewards, sample_each_prompt_alone
from lightning.pytorch import Trainer
from lightning.pytorch.callbacks import ModelCheckpoint
from lightning.pytorch.strategies import ModelParallelStrategy
from torch.utils.data import DataLoader

from ervlight.data.batch import MediaBatch
from ervlight.policy.backbones.qwen_omni import QwenOmniThinker
from ervlight.policy.base import Generation, PromptContext, SamplingConfig
from ervlight.tasks.grpo import GRPOModule
from policy.media import synthetic_batch

CLIPS = [("happy", 1), ("sad", 2), ("angry", 3), ("happy", 4)]


class SeededThinker(QwenOmniThinker):
    """Samples each prompt alone (padding stripped) from a generator seeded with 0."""

    def generate(
        self,
        context: PromptContext,
        num_samples: int = 1,
        sampling: SamplingConfig | None = None,
        generator: torch.Generator | None = None,
    ) -> Generation:
        def one(alone: PromptContext, seeded: torch.Generator) -> Generation:
            return super(SeededThinker, self).generate(alone, num_samples, sampling, seeded)

        return sample_each_prompt_alone(one, context, lambda alone: 0, self.pad_token_id)


def collate(rows: list[tuple[str, int]]) -> MediaBatch:
    """One clip per row, drawn from its own seed (the same clip on any rank)."""
    clips = [synthetic_batch([label], frames=2, size=56, seconds=0.25, seed=seed) for label, seed in rows]
    return MediaBatch(
        clip_ids=[f"{seed:05d}" for _, seed in rows],
        datasets=[d for clip in clips for d in clip.datasets],
        labels=torch.cat([clip.labels for clip in clips]),
        label_names=[n for clip in clips for n in clip.label_names],
        frames=torch.cat([clip.frames for clip in clips]),
        frame_mask=torch.cat([clip.frame_mask for clip in clips]),
        audio=torch.cat([clip.audio for clip in clips]),
        audio_mask=torch.cat([clip.audio_mask for clip in clips]),
        has_audio=torch.cat([clip.has_audio for clip in clips]),
        targets=[t for clip in clips for t in clip.targets],
    )


def main(out: Path, folder: Path, mode: str) -> None:
    """Fit 2 steps (one per epoch) with 4 clips per step: 2 ranks x 2 clips, or 1 process x 4 clips."""
    factory = partial(
        SeededThinker, str(folder), dtype="float32", frame_mean=(0.0, 0.0, 0.0), frame_std=(1.0, 1.0, 1.0)
    )
    module = GRPOModule(
        factory, rewards=erv_rewards(), num_generations=2, max_completion_length=4, datasets=["dfew"],
        beta=0.04, micro_batch_size=2, max_grad_norm=1.0, log_completions_steps=0,
        policy_dir=str(out / f"policy_{mode}"), gradient_checkpointing="fsdp" in mode,
        optimizer=partial(torch.optim.SGD, lr=0.5, momentum=0.9),
    )  # fmt: skip
    two = mode != "single"
    strategy = (
        ModelParallelStrategy(data_parallel_size=2, tensor_parallel_size=1) if "fsdp" in mode else "ddp"
    )
    checkpoint = ModelCheckpoint(out / "ckpt", filename="{step}", save_top_k=-1, every_n_epochs=1)
    trainer = Trainer(
        accelerator="cpu", devices=2 if two else 1, strategy=strategy if two else "auto", max_steps=2,
        logger=False, enable_checkpointing=mode == "fsdp", callbacks=[checkpoint] if mode == "fsdp" else [],
        enable_progress_bar=False, enable_model_summary=False, num_sanity_val_steps=0, limit_val_batches=0,
        default_root_dir=out / mode,
    )  # fmt: skip
    loader = DataLoader(CLIPS, batch_size=2 if two else 4, shuffle=False, collate_fn=collate)
    resume = out / "ckpt" / "step=1.ckpt" if mode == "fsdp_resume" else None
    trainer.fit(module, train_dataloaders=loader, ckpt_path=resume)
    if trainer.is_global_zero:
        metrics = {k: float(v) for k, v in trainer.logged_metrics.items()}
        (out / f"{mode}.json").write_text(json.dumps(metrics | {"world_size": trainer.world_size}))


if __name__ == "__main__":
    main(Path(sys.argv[1]), Path(sys.argv[2]), sys.argv[3])
