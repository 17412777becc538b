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
from torch.distributed.device_mesh import DeviceMesh
from torchmetrics import MetricCollection

from ervlight.data.batch import MediaBatch
from ervlight.evaluation.clip_counts import ClipCounts
from ervlight.evaluation.judge import Judge, run_judge
from ervlight.evaluation.metric_inputs import encode_completions, encode_judgements, encode_targets
from ervlight.evaluation.metrics import consistency_metrics
from ervlight.grpo.types import PromptBatch
from ervlight.labels import get_label_space
from ervlight.policy.base import Policy, SamplingConfig
from ervlight.tasks.base import BaseModule
from ervlight.tasks.sharding import data_parallel_mesh, full_state_dict, is_sharded, shard_policy

__all__ = [
    "JUDGED_METRICS",
    "EvalBatch",
    "PolicyTask",
    "Stage",
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


#: The judged metrics of a collection (renamed after their judge by ``judge_suffix``).
JUDGED_METRICS = frozenset({"eea", "epc", "fcr", "fcr_given_correct", "unjudged"})


def validation_metrics(
    datasets: Sequence[str], judged: bool, stage: str = "val", judge_suffix: str = ""
) -> nn.ModuleDict:
    """One metric collection per dataset, keys ``<stage>/<dataset>/<metric>`` (``stage``: ``val`` or ``test``).

    ``judge_suffix`` is appended to the judged metrics' names (``eea_reward_verifier``), so that metrics judged
    by something other than an independent judge cannot be mistaken for the paper's EEA/EPC/FCR.
    """
    collections = {}
    for name in datasets:
        members = consistency_metrics(get_label_space(name).num_classes, judged=judged)
        renamed = {
            f"{key}{judge_suffix}" if key in JUDGED_METRICS else key: metric
            for key, metric in members.items(keep_base=True, copy_state=False)
        }
        collections[name] = MetricCollection(renamed, prefix=f"{stage}/{name}/")  # type: ignore[arg-type]
    return nn.ModuleDict(collections)


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

    A policy given as a factory is built in Lightning's :meth:`configure_model` (after the strategy is set up, before
    a checkpoint is restored), and sharded there with FSDP2 under ``ModelParallelStrategy``
    (:mod:`ervlight.tasks.sharding`); a policy given as an object is used as it is (sharded in ``configure_model``
    too). Outside a trainer, call :meth:`configure_model` before using ``policy``.

    Args:
        policy: the policy, or a factory building it (in YAML: ``class_path`` + ``init_args``).
        sampling: decoding of validation, test and predict (:func:`evaluation_sampling`).
        datasets: label spaces of the val and test metrics (one collection each; batches may mix them).
        policy_dir: where the trained policy is saved at the end of ``fit`` (default ``<log dir>/policy``).
        seed: seed of the evaluation sampler (each batch index offsets it).
        gradient_checkpointing: recompute the decoder layers' activations in backward (TRL's name; the policy's
            :meth:`~ervlight.policy.base.Policy.gradient_checkpointing_enable`).
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
        gradient_checkpointing: bool = False,
        **optimisation: Any,
    ) -> None:
        # nn.Module attributes can only be set after Module.__init__: hold the policy in a tuple until then
        self._policy_source: tuple[Policy | Callable[[], Policy]] = (policy,)
        self.dataset_names = list(datasets) if datasets is not None else ["dfew", "mafw"]
        self.eval_sampling = sampling
        self.policy_dir, self.seed = policy_dir, seed
        self.gradient_checkpointing = gradient_checkpointing
        super().__init__(**optimisation)

    @property
    def policy_factory(self) -> Callable[[], Policy] | None:
        """The factory the policy is built from (``None`` when the policy was given as an object)."""
        source = self._policy_source[0]
        return None if isinstance(source, Policy) else source

    def configure_models(self) -> None:
        """Take a policy given as an object now; a factory waits for :meth:`configure_model`."""
        source = self._policy_source[0]
        if isinstance(source, Policy):
            self.policy: Policy = source
            self.prepare_policy()

    def configure_model(self) -> None:
        """Build the policy from its factory (once), then shard it with FSDP2 when the strategy gives a mesh."""
        if "policy" not in self._modules:
            factory = self.policy_factory
            assert factory is not None
            self.policy = factory()
            self.prepare_policy()
        mesh = self.device_mesh
        if mesh is not None and not is_sharded(self.policy):
            if self.policy_factory is None:
                raise ValueError(
                    f"{type(self).__name__}: a sharded policy is saved by rebuilding it, so pass it as a factory "
                    "(in YAML: class_path + init_args), not as an object"
                )
            self.shard_models(data_parallel_mesh(mesh))

    def prepare_policy(self) -> None:
        """Set the policy up for the task once it exists (gradient checkpointing; GRPO adds its reference)."""
        if self.gradient_checkpointing:
            self.policy.gradient_checkpointing_enable()

    def shard_models(self, mesh: DeviceMesh) -> None:
        """Shard the policy over the data-parallel ``mesh`` (GRPO shards its frozen reference the same way)."""
        shard_policy(self.policy, mesh)

    def configure_metrics(self) -> None:
        """Per-dataset val and test WAR, UAR, format rate (and EEA/EPC/FCR when :meth:`judge` gives a judge), and
        the listed / evaluated / unreadable clip counts."""
        self.judge = self.build_judge()
        judged = self.judge is not None
        self.val_metrics = validation_metrics(self.dataset_names, judged, "val", self.judge_suffix)
        self.test_metrics = validation_metrics(self.dataset_names, judged, "test", self.judge_suffix)
        self.val_counts = clip_counts(self.dataset_names)
        self.test_counts = clip_counts(self.dataset_names)

    #: Appended to the judged metrics' names (see :func:`validation_metrics`); a subclass whose judge is not
    #: independent of training names it here.
    judge_suffix: str = ""

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
        """Save the trained policy (:meth:`Policy.save_pretrained`) under ``policy_dir`` on the main process.

        A sharded policy is gathered first (every rank takes part) into a policy rebuilt on rank 0's CPU.
        """
        root = self.trainer.log_dir or self.trainer.default_root_dir
        folder = Path(self.policy_dir or Path(root) / "policy")
        if is_sharded(self.policy):
            state = full_state_dict(self.policy)
            if self.trainer.is_global_zero:
                self.unsharded_policy(state).save_pretrained(folder)
        elif self.trainer.is_global_zero:
            self.policy.save_pretrained(folder)

    def unsharded_policy(self, state: dict[str, torch.Tensor]) -> Policy:
        """A fresh policy from the factory holding ``state`` (a full state dict of the sharded policy)."""
        factory = self.policy_factory
        assert factory is not None
        policy = factory()
        policy.load_state_dict(state)
        return policy
