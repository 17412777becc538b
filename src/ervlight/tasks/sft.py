"""``SFTModule``: the cold start — teacher forcing on R1-format targets, loss on response tokens only.

Training encodes each clip once and scores the target ``<think>…</think>\\n<answer>…</answer>`` (plus the stop
token) through :meth:`Policy.completion_logprobs` (chunked LM head, no full-vocabulary logits over the sequence);
the loss is the mean negative log-likelihood over target tokens of the batch. Gradient accumulation, clipping and
bf16-mixed come from the Lightning ``Trainer``. Validation and test generate one completion per clip and log format
rate, WAR, UAR and the unparseable rate per dataset (``val/<dataset>/war`` …) with the project's torchmetrics
(:class:`~ervlight.tasks.policy_task.PolicyTask`). At the end of ``fit`` the policy is saved for GRPO and evaluation.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import torch
from lightning.pytorch.cli import LRSchedulerCallable, OptimizerCallable

from ervlight.data.batch import MediaBatch
from ervlight.policy.base import Policy
from ervlight.tasks.policy_task import EvalBatch, PolicyTask, Stage, evaluation_sampling
from ervlight.tasks.schedules import WarmupCosineLR

__all__ = ["SFTModule", "target_nll"]


def target_nll(policy: Policy, batch: MediaBatch, chunk_size: int) -> torch.Tensor:
    """Mean negative log-likelihood of the batch's target tokens (response only; the prompt carries no loss)."""
    missing = [clip for clip, target in zip(batch.clip_ids, batch.targets, strict=False) if not target]
    if missing or len(batch.targets) != len(batch):
        raise ValueError(
            f"SFT needs a reasoning target for every clip; clips without one: {missing or 'all'}"
        )
    context = policy.encode(batch)
    ids, mask = policy.tokenize_targets([str(t) for t in batch.targets])  # [B, L]
    logprobs = policy.completion_logprobs(context, ids, mask, 1, chunk_size)  # [B, L]
    return -logprobs.sum() / mask.sum()


class SFTModule(PolicyTask):
    """Supervised cold start of a policy on reasoning targets (``MediaBatch.targets``).

    Args:
        policy: builds the policy (a ``class_path`` in YAML, e.g. ``ervlight.policy.TinyOmni``).
        datasets: label spaces that validation/test metrics are kept for (batches may mix them).
        max_new_tokens: completion budget when generating in validation and test.
        temperature: validation sampling temperature (reference evaluation: 0.3); ``0`` decodes greedily.
        top_p: validation nucleus threshold (reference evaluation: 0.9).
        logprob_chunk_size: target tokens per LM-head chunk in the loss.
        policy_dir: where the trained policy is saved at the end of ``fit`` (default ``<log dir>/policy``).
        seed: seed of the validation sampler (each batch index offsets it).
        optimizer: builds the optimizer over trainable parameters.
        lr_scheduler: builds the learning-rate scheduler (``None`` keeps the rate constant).
        scheduler_interval: ``"step"`` or ``"epoch"``.
    """

    def __init__(
        self,
        policy: Callable[[], Policy],
        datasets: list[str] | None = None,
        max_new_tokens: int = 512,
        temperature: float = 0.3,
        top_p: float = 0.9,
        logprob_chunk_size: int = 1024,
        policy_dir: str | None = None,
        seed: int = 0,
        optimizer: OptimizerCallable = torch.optim.AdamW,
        lr_scheduler: LRSchedulerCallable | None = None,
        scheduler_interval: str = "step",
    ) -> None:
        self.logprob_chunk_size = logprob_chunk_size
        sampling = evaluation_sampling(temperature, top_p, max_new_tokens)
        super().__init__(
            policy, sampling, datasets, policy_dir, seed,
            optimizer=optimizer, lr_scheduler=lr_scheduler, scheduler_interval=scheduler_interval,
        )  # fmt: skip

    def configure_optimizers(self) -> Any:
        """The injected optimizer and scheduler; a :class:`WarmupCosineLR` without ``total_steps`` gets the run's."""
        configured = super().configure_optimizers()
        if isinstance(configured, dict):
            scheduler = configured["lr_scheduler"]["scheduler"]
            if isinstance(scheduler, WarmupCosineLR) and scheduler.total_steps is None:
                scheduler.total_steps = int(self.trainer.estimated_stepping_batches)
        return configured

    def sft_loss(self, batch: MediaBatch) -> torch.Tensor:
        """Mean negative log-likelihood of the target tokens (:func:`target_nll`)."""
        return target_nll(self.policy, batch, self.logprob_chunk_size)

    def training_step(self, batch: MediaBatch, batch_idx: int) -> torch.Tensor:
        """Teacher-forced loss on one batch."""
        loss = self.sft_loss(batch)
        self.log("train/loss", loss, prog_bar=True, batch_size=len(batch))
        return loss

    def evaluate(self, batch: EvalBatch, batch_idx: int, stage: Stage) -> list[str]:
        """The target loss (``<stage>/loss``, when every clip has a target), then generate and score."""
        if isinstance(batch, MediaBatch) and batch.targets and all(batch.targets):
            self.log(f"{stage}/loss", self.sft_loss(batch), batch_size=len(batch), sync_dist=True)
        return super().evaluate(batch, batch_idx, stage)
