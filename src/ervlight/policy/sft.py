"""``SFTModule``: the cold start — teacher forcing on R1-format targets, loss on response tokens only.

Training encodes each clip once and scores the target ``<think>…</think>\\n<answer>…</answer>`` (plus the stop
token) through :meth:`Policy.completion_logprobs` (chunked LM head, no full-vocabulary logits over the sequence);
the loss is the mean negative log-likelihood over target tokens of the batch. Gradient accumulation, clipping and
bf16-mixed come from the Lightning ``Trainer``. Validation and test generate one completion per clip and log format
rate, WAR, UAR and the unparseable rate per dataset (``val/<dataset>/war`` …) with the project's torchmetrics.
At the end of ``fit`` the policy is saved (:meth:`save_pretrained`) for GRPO and evaluation.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import torch
from lightning.pytorch.cli import LRSchedulerCallable, OptimizerCallable
from torch import nn

from ervlight.base import BaseModule
from ervlight.data.batch import MediaBatch
from ervlight.evaluation.metric_inputs import encode_completions
from ervlight.evaluation.metrics import consistency_metrics
from ervlight.labels import get_label_space
from ervlight.policy.base import Policy, SamplingConfig
from ervlight.policy.decoder import DecoderPolicy
from ervlight.policy.schedule import WarmupCosineLR

__all__ = ["SFTModule"]


class SFTModule(BaseModule):
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
        self.policy_factory = policy
        self.dataset_names = list(datasets) if datasets is not None else ["dfew", "mafw"]
        self.sampling = SamplingConfig(
            temperature=temperature, top_p=top_p, max_new_tokens=max_new_tokens, do_sample=temperature > 0
        )
        self.logprob_chunk_size = logprob_chunk_size
        self.policy_dir = policy_dir
        self.seed = seed
        super().__init__(
            optimizer=optimizer, lr_scheduler=lr_scheduler, scheduler_interval=scheduler_interval
        )

    def configure_models(self) -> None:
        """Build the policy."""
        self.policy: Policy = self.policy_factory()

    def configure_metrics(self) -> None:
        """Per-dataset recognition and format metrics for validation and test."""
        self.stage_metrics = nn.ModuleDict(
            {
                stage: nn.ModuleDict(
                    {
                        name: consistency_metrics(
                            len(get_label_space(name).labels), f"{stage}/{name}/", judged=False
                        )
                        for name in self.dataset_names
                    }
                )
                for stage in ("val", "test")
            }
        )

    def configure_optimizers(self) -> Any:
        """The injected optimizer and scheduler; a :class:`WarmupCosineLR` without ``total_steps`` gets the run's."""
        configured = super().configure_optimizers()
        if isinstance(configured, dict):
            scheduler = configured["lr_scheduler"]["scheduler"]
            if isinstance(scheduler, WarmupCosineLR) and scheduler.total_steps is None:
                scheduler.total_steps = int(self.trainer.estimated_stepping_batches)
        return configured

    # ----------------------------------------------------------------- loss
    def sft_loss(self, batch: MediaBatch) -> torch.Tensor:
        """Mean negative log-likelihood of the target tokens (response only; the prompt carries no loss)."""
        missing = [clip for clip, target in zip(batch.clip_ids, batch.targets, strict=False) if not target]
        if missing or len(batch.targets) != len(batch):
            raise ValueError(
                f"SFT needs a reasoning target for every clip; clips without one: {missing or 'all'}"
            )
        policy = self._decoder_policy()
        context = policy.encode(batch)
        ids, mask = policy.tokenize_targets([str(t) for t in batch.targets])  # [B, L]
        logprobs = policy.completion_logprobs(context, ids, mask, 1, self.logprob_chunk_size)  # [B, L]
        return -logprobs.sum() / mask.sum()

    def _decoder_policy(self) -> DecoderPolicy:
        """The policy, which must tokenise targets (every built-in backbone does)."""
        if not isinstance(self.policy, DecoderPolicy):
            raise TypeError(
                f"SFTModule needs a DecoderPolicy (targets are tokenised), got {type(self.policy)}"
            )
        return self.policy

    def training_step(self, batch: MediaBatch, batch_idx: int) -> torch.Tensor:
        """Teacher-forced loss on one batch."""
        loss = self.sft_loss(batch)
        self.log("train/loss", loss, prog_bar=True, batch_size=len(batch))
        return loss

    # ----------------------------------------------------------------- evaluation
    def _evaluate(self, batch: MediaBatch, batch_idx: int, stage: str) -> list[str]:
        """Generate one completion per clip and update the stage's metrics; returns the completions."""
        if batch.targets and all(batch.targets):
            self.log(f"{stage}/loss", self.sft_loss(batch), batch_size=len(batch), sync_dist=True)
        generator = torch.Generator(device=self.device).manual_seed(self.seed + batch_idx)
        generation = self.policy.generate(self.policy.encode(batch), 1, self.sampling, generator)
        metrics: Any = self.stage_metrics[stage]
        for name in sorted(set(batch.datasets)):
            if name not in metrics:
                raise ValueError(f"batch holds {name!r} clips but the module tracks {self.dataset_names}")
            rows = [i for i, ds in enumerate(batch.datasets) if ds == name]
            encoded = encode_completions([generation.texts[i] for i in rows], name)
            target = batch.labels[rows].cpu()  # [N]
            metrics[name].update(preds=encoded.preds, target=target, well_formatted=encoded.well_formatted)
        return generation.texts

    def _log_metrics(self, stage: str) -> None:
        """Log and reset every dataset's metrics that saw data this epoch."""
        metrics: Any = self.stage_metrics[stage]
        for name in self.dataset_names:
            collection = metrics[name]
            if int(next(iter(collection.values())).joint.sum()) > 0:
                self.log_dict({k: v.float() for k, v in collection.compute().items()}, sync_dist=False)
            collection.reset()

    def validation_step(self, batch: MediaBatch, batch_idx: int) -> None:
        """Generate on the val split and update format rate, WAR and UAR."""
        self._evaluate(batch, batch_idx, "val")

    def on_validation_epoch_end(self) -> None:
        """Log the validation metrics."""
        self._log_metrics("val")

    def test_step(self, batch: MediaBatch, batch_idx: int) -> dict[str, list[str]]:
        """Generate on the test split and update format rate, WAR and UAR; returns ``{"completions": texts}``."""
        return {"completions": self._evaluate(batch, batch_idx, "test")}

    def on_test_epoch_end(self) -> None:
        """Log the test metrics."""
        self._log_metrics("test")

    def predict_step(self, batch: MediaBatch, batch_idx: int) -> list[str]:
        """Generated completions of a batch."""
        generator = torch.Generator(device=self.device).manual_seed(self.seed + batch_idx)
        return self.policy.generate(self.policy.encode(batch), 1, self.sampling, generator).texts

    def on_fit_end(self) -> None:
        """Save the trained policy (peft adapter folder and/or ``lm/``, tokenizer, towers) for GRPO."""
        if not self.trainer.is_global_zero:
            return
        folder = Path(
            self.policy_dir or Path(self.trainer.log_dir or self.trainer.default_root_dir) / "policy"
        )
        save = getattr(self.policy, "save_pretrained", None)
        if save is None:
            raise TypeError(f"{type(self.policy).__name__} cannot be saved (no save_pretrained)")
        save(folder)
