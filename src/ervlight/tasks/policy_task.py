"""``PolicyTask``: the evaluation-capable base of every task that owns a policy (SFT, GRPO, evaluation).

It builds the policy, keeps one metric collection per dataset and stage (``val/<dataset>/war``,
``test/<dataset>/uar``…: WAR, UAR, the format rate and, with a judge, EEA/EPC/FCR), generates one completion per
clip in validation, test and predict (seeded per batch), and saves the policy at the end of ``fit``. Select
checkpoints on one of these task metrics (e.g. ``val/mafw/uar``), never on a training reward.

Every listed clip is counted: ``<stage>/<dataset>/listed``, ``…/evaluated`` and ``…/unreadable`` are logged next
to the metrics, and an unreadable clip (missing or undecodable) counts as a wrong, unparseable answer unless the
data module's ``unreadable_policy`` is ``readable_only`` (:func:`scored_rows`). A batch of only unreadable clips
generates nothing.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, Literal

import torch
from torch import nn

from ervlight.data.batch import MediaBatch
from ervlight.evaluation.clip_counts import ClipCounts
from ervlight.evaluation.judge import Judge, run_judge
from ervlight.evaluation.metric_inputs import encode_completions, encode_judgements, encode_targets
from ervlight.evaluation.metrics import consistency_metrics
from ervlight.grpo.types import PromptBatch
from ervlight.labels import get_label_space
from ervlight.policy.base import Policy, SamplingConfig
from ervlight.tasks.base import BaseModule

__all__ = [
    "EvalBatch",
    "PolicyTask",
    "clip_counts",
    "computed_metrics",
    "evaluation_sampling",
    "gold_indices",
    "logged_counts",
    "prompt_fields",
    "scored_rows",
    "update_counts",
    "update_metrics",
    "validation_metrics",
]

Stage = Literal["val", "test"]
EvalBatch = MediaBatch | PromptBatch


def validation_metrics(datasets: Sequence[str], judged: bool, stage: str = "val") -> nn.ModuleDict:
    """One metric collection per dataset, keys ``<stage>/<dataset>/<metric>`` (``stage``: ``val`` or ``test``)."""
    return nn.ModuleDict(
        {
            name: consistency_metrics(get_label_space(name).num_classes, f"{stage}/{name}/", judged=judged)
            for name in datasets
        }
    )


def prompt_fields(batch: EvalBatch) -> tuple[MediaBatch | list[str], list[str], list[str]]:
    """What to encode, the gold labels and the label spaces of a batch."""
    if isinstance(batch, PromptBatch):
        return list(batch.prompts), list(batch.label_names), list(batch.datasets)
    return batch, list(batch.label_names), list(batch.datasets)


def gold_indices(batch: EvalBatch, rows: Sequence[int], dataset: str) -> torch.Tensor:
    """``[n]`` gold class indices of ``rows`` (a media batch carries them; prompts' labels are encoded)."""
    if isinstance(batch, MediaBatch):
        return batch.labels[list(rows)].cpu()  # [n]
    return encode_targets([batch.label_names[i] for i in rows], dataset)  # [n]


def scored_rows(batch: EvalBatch, completions: Sequence[str]) -> tuple[list[str], list[str], torch.Tensor]:
    """The completions, label spaces and ``[N]`` gold indices the metrics count.

    The batch's clips come first; a media batch's unreadable clips follow as empty completions (wrong and
    unparseable, hence unjudged) unless the batch says ``unreadable_policy: readable_only``.
    """
    texts, datasets = list(completions), list(batch.datasets)
    golds = torch.full((len(datasets),), -1, dtype=torch.long)  # [B]
    for name in set(datasets):
        rows = [i for i, dataset in enumerate(datasets) if dataset == name]
        golds[rows] = gold_indices(batch, rows, name)
    if isinstance(batch, MediaBatch) and batch.unreadable_policy == "wrong" and batch.unreadable:
        texts += [""] * len(batch.unreadable)
        datasets += [lost.dataset for lost in batch.unreadable]
        lost_golds = torch.tensor([lost.label for lost in batch.unreadable], dtype=torch.long)  # [U]
        golds = torch.cat([golds, lost_golds])  # [B + U]
    return texts, datasets, golds


def update_metrics(
    metrics: nn.ModuleDict,
    completions: Sequence[str],
    batch: EvalBatch,
    judge: Judge | None,
    device: torch.device,
) -> None:
    """Add a batch of completions (and its unreadable clips, :func:`scored_rows`) to their datasets' collections."""
    completions, datasets, golds = scored_rows(batch, completions)
    for name in sorted(set(datasets)):
        if name not in metrics:
            raise ValueError(f"evaluation batch holds {name!r} clips but the module tracks {list(metrics)}")
        rows = [i for i, dataset in enumerate(datasets) if dataset == name]
        encoded = encode_completions([completions[i] for i in rows], name)
        tensors = {"preds": encoded.preds, "target": golds[rows]}
        tensors["well_formatted"] = encoded.well_formatted
        if judge is not None:
            judged = run_judge(judge, encoded.rationales, [name] * len(rows))
            tensors["judged"] = encode_judgements(judged, name)
        metrics[name].update(**{key: value.to(device) for key, value in tensors.items()})  # type: ignore[operator]


def computed_metrics(metrics: nn.ModuleDict) -> dict[str, torch.Tensor]:
    """Computed values of every collection that saw data (all collections are reset)."""
    values: dict[str, torch.Tensor] = {}
    for collection in metrics.values():
        if int(next(iter(collection.values())).joint.sum()) > 0:  # type: ignore[operator]
            values.update({key: value.float() for key, value in collection.compute().items()})  # type: ignore[operator]
        collection.reset()  # type: ignore[operator]
    return values


def clip_counts(datasets: Sequence[str]) -> nn.ModuleDict:
    """One :class:`ClipCounts` per dataset (listed / evaluated / unreadable clips of a stage)."""
    return nn.ModuleDict({name: ClipCounts() for name in datasets})


def update_counts(counts: nn.ModuleDict, batch: EvalBatch) -> None:
    """Count a batch's evaluated clips and (media batches) its unreadable clips per dataset."""
    lost = [clip.dataset for clip in batch.unreadable] if isinstance(batch, MediaBatch) else []
    for name in sorted(set(batch.datasets) | set(lost)):
        if name not in counts:
            raise ValueError(f"evaluation batch holds {name!r} clips but the module tracks {list(counts)}")
        counts[name].update(list(batch.datasets).count(name), lost.count(name))  # type: ignore[operator]


def logged_counts(counts: nn.ModuleDict, stage: str) -> dict[str, torch.Tensor]:
    """``<stage>/<dataset>/listed|evaluated|unreadable`` of every dataset that saw clips (all counts are reset)."""
    values: dict[str, torch.Tensor] = {}
    for name, counter in counts.items():
        computed: dict[str, torch.Tensor] = counter.compute()  # type: ignore[operator]
        if int(computed["listed"]) > 0:
            values.update({f"{stage}/{name}/{key}": value.float() for key, value in computed.items()})
        counter.reset()  # type: ignore[operator]
    return values


def evaluation_sampling(temperature: float, top_p: float, max_new_tokens: int) -> SamplingConfig:
    """Evaluation decoding: ``temperature`` 0 decodes greedily (reference evaluation: 0.3, 0.9, 512)."""
    return SamplingConfig(temperature, top_p, 0, max_new_tokens, do_sample=temperature > 0)


class PolicyTask(BaseModule):
    """A task that owns a policy: per-dataset val/test metrics, generate-and-score, predict, saving after ``fit``.

    Args:
        policy: the policy, or a factory building it (in YAML: ``class_path`` + ``init_args``).
        sampling: decoding of validation, test and predict (:func:`evaluation_sampling`).
        datasets: label spaces of the val and test metrics (one collection each; batches may mix them).
        policy_dir: where the trained policy is saved at the end of ``fit`` (default ``<log dir>/policy``).
        seed: seed of the evaluation sampler (each batch index offsets it).
        optimisation: ``optimizer``, ``lr_scheduler`` and ``scheduler_interval`` of :class:`BaseModule`.
    """

    hparams_ignore: tuple[str, ...] = ("optimizer", "lr_scheduler", "sampling")

    def __init__(
        self,
        policy: Policy | Callable[[], Policy],
        sampling: SamplingConfig,
        datasets: list[str] | None = None,
        policy_dir: str | None = None,
        seed: int = 0,
        **optimisation: Any,
    ) -> None:
        self._policy_holder = (policy,)  # nn.Module attributes can only be set after Module.__init__
        self.dataset_names = list(datasets) if datasets is not None else ["dfew", "mafw"]
        self.eval_sampling = sampling
        self.policy_dir, self.seed = policy_dir, seed
        super().__init__(**optimisation)

    def configure_models(self) -> None:
        """Build the policy (or take the given one)."""
        policy = self._policy_holder[0]
        del self._policy_holder
        self.policy: Policy = policy if isinstance(policy, Policy) else policy()

    def configure_metrics(self) -> None:
        """Per-dataset val and test WAR, UAR, format rate (and EEA/EPC/FCR when :meth:`judge` gives a judge), and
        the listed / evaluated / unreadable clip counts."""
        self.judge = self.build_judge()
        judged = self.judge is not None
        self.val_metrics = validation_metrics(self.dataset_names, judged=judged)
        self.test_metrics = validation_metrics(self.dataset_names, judged=judged, stage="test")
        self.val_counts = clip_counts(self.dataset_names)
        self.test_counts = clip_counts(self.dataset_names)

    def build_judge(self) -> Judge | None:
        """The judge of the rationales in evaluation (``None``: no EEA/EPC/FCR); subclasses may give one."""
        return None

    # ----------------------------------------------------------------- generate and score
    def eval_generator(self, batch_idx: int) -> torch.Generator:
        """The evaluation sampler of batch ``batch_idx`` (seeded by ``seed + batch_idx``)."""
        return torch.Generator(device=self.device).manual_seed(self.seed + batch_idx)

    def generate_texts(self, batch: EvalBatch, batch_idx: int) -> list[str]:
        """One completion per clip with the evaluation sampler (none for a batch of only unreadable clips)."""
        if not len(batch):
            return []
        source = prompt_fields(batch)[0]
        context = self.policy.encode(source)
        return self.policy.generate(context, 1, self.eval_sampling, self.eval_generator(batch_idx)).texts

    def evaluate(self, batch: EvalBatch, batch_idx: int, stage: Stage) -> list[str]:
        """Generate one completion per clip, update the stage's per-dataset metrics and clip counts (unreadable
        clips included, :func:`scored_rows`); returns the completions of the batch's readable clips."""
        texts = self.generate_texts(batch, batch_idx)
        metrics = self.val_metrics if stage == "val" else self.test_metrics
        update_metrics(metrics, texts, batch, self.judge, self.device)
        update_counts(self.val_counts if stage == "val" else self.test_counts, batch)
        return texts

    def validation_step(self, batch: EvalBatch, batch_idx: int) -> None:
        """Generate on the val split and update the per-dataset metrics."""
        self.evaluate(batch, batch_idx, "val")

    def on_validation_epoch_end(self) -> None:
        """Log and reset the validation metrics and clip counts."""
        self.log_dict(computed_metrics(self.val_metrics) | logged_counts(self.val_counts, "val"))

    def test_step(self, batch: EvalBatch, batch_idx: int) -> dict[str, list[str]]:
        """As validation on the test split (``test/...`` keys); returns ``{"completions": texts}`` for writers."""
        return {"completions": self.evaluate(batch, batch_idx, "test")}

    def on_test_epoch_end(self) -> None:
        """Log and reset the test metrics and clip counts."""
        self.log_dict(computed_metrics(self.test_metrics) | logged_counts(self.test_counts, "test"))

    def predict_step(self, batch: EvalBatch, batch_idx: int) -> list[str]:
        """Generated completions of a batch."""
        return self.generate_texts(batch, batch_idx)

    def on_fit_end(self) -> None:
        """Save the trained policy (:meth:`Policy.save_pretrained`) under ``policy_dir`` on the main process."""
        if not self.trainer.is_global_zero:
            return
        root = self.trainer.log_dir or self.trainer.default_root_dir
        self.policy.save_pretrained(Path(self.policy_dir or Path(root) / "policy"))
