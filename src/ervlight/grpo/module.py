"""``GRPOModule``: GRPO with a registry of weighted rewards, on any :class:`~ervlight.policy.base.Policy`.

One training step takes ``B`` prompts (per device), samples ``G`` completions each, scores them, turns the rewards
into group-relative advantages and makes ``num_iterations`` optimiser updates on that rollout, each made of
``micro_batch_size``-row backward passes normalised for the whole step (gradient accumulation without bias).
Every group stays on its rank; statistics are reduced over ranks before they are logged.
Symbols: ``B`` prompts, ``G`` group size, ``N = B * G``, ``L`` completion tokens, ``R`` rewards.
"""

from __future__ import annotations

import copy
import time
from collections.abc import Callable
from functools import partial
from pathlib import Path
from typing import Any

import torch
from lightning.pytorch.cli import LRSchedulerCallable, OptimizerCallable
from lightning.pytorch.loggers import TensorBoardLogger

from ervlight.base import BaseModule
from ervlight.data.batch import MediaBatch
from ervlight.grpo.advantages import Aggregation, ScaleRewards, aggregate_advantages, zero_std_groups
from ervlight.grpo.loss import GRPOLoss, LossType
from ervlight.grpo.rollout import adapters_disabled, has_adapters, scored_logprobs
from ervlight.grpo.stats import completion_stats, completion_table, markdown_table, reward_stats
from ervlight.grpo.training import optimise_rollout
from ervlight.grpo.types import PromptBatch, Rollout
from ervlight.grpo.validation import computed_metrics, registry_judge, update_metrics, validation_metrics
from ervlight.policy.base import Policy, PromptContext, SamplingConfig
from ervlight.rewards.base import RewardInputs
from ervlight.rewards.registry import RewardRegistry

__all__ = ["GRPOModule"]


def _default_rewards() -> list[dict[str, Any]]:
    """Format + accuracy (the explanation reward needs a verifier, so configs add it explicitly)."""
    return [{"name": "format"}, {"name": "accuracy"}]


class GRPOModule(BaseModule):
    """GRPO on a policy with weighted rewards (manual optimisation; TRL's option names).

    Args:
        policy: the policy to train, or a factory building it (in YAML: ``class_path`` + ``init_args``); its
            weights at the start are the reference when ``beta > 0``.
        rewards: the weighted reward functions, entries ``{name, class_path, weight, init_args}`` (see
            :mod:`ervlight.rewards.registry`; default: format and accuracy, weight 1 each).
        num_generations: ``G``, completions per prompt (>= 2).
        max_completion_length: new tokens per completion.
        temperature: sampling temperature (also divides the logits when scoring, as in TRL).
        top_p: nucleus sampling (1 = off).
        top_k: top-k sampling (0 = off).
        loss_type: ``grpo`` (the reference), ``bnpo``, ``dr_grpo`` or ``dapo``.
        beta: KL coefficient; 0 builds no reference model.
        epsilon: lower clipping range of the ratio.
        epsilon_high: upper clipping range (default ``epsilon``).
        num_iterations: optimiser updates per rollout (> 1 keeps the sampling log-probs for clipping).
        scale_rewards: ``group`` (reference), ``batch`` or ``none``.
        multi_objective_aggregation: ``sum_then_normalize`` (reference) or ``normalize_then_sum``.
        mask_truncated_completions: leave completions without EOS out of the loss.
        filter_zero_std_groups: leave out groups whose ``filter_reward`` does not vary (no signal).
        filter_reward: name of the reward the filter looks at (the accuracy, not the shaped total).
        micro_batch_size: completions per forward/backward pass (default: the whole step at once).
        logprob_chunk_size: completion tokens per LM-head chunk in log-prob passes.
        max_grad_norm: gradient clipping by global norm (``None``: off).
        log_completions_steps: every this many steps log a table of sample completions (0: never).
        num_completions_to_print: rows of that table.
        datasets: label spaces of the val and test metrics (one collection each: ``val/<dataset>/war``…).
        val_temperature: validation and test sampling temperature (0: greedy); reference evaluation uses 0.3.
        val_top_p: validation and test nucleus sampling (reference evaluation: 0.9).
        policy_dir: where the trained policy is saved at the end of ``fit`` (default ``<log dir>/policy``).
        seed: base seed of the sampling generators (one per step and rank, so resuming repeats the samples).
        optimizer: builds the optimizer from the trainable parameters.
        lr_scheduler: builds a scheduler, stepped after every optimiser update.
        scheduler_interval: kept for the base module (schedulers step per update here).
    """

    def __init__(
        self,
        policy: Policy | Callable[[], Policy],
        rewards: list[dict[str, Any]] | None = None,
        num_generations: int = 4,
        max_completion_length: int = 512,
        temperature: float = 1.0,
        top_p: float = 1.0,
        top_k: int = 0,
        loss_type: LossType = "grpo",
        beta: float = 0.04,
        epsilon: float = 0.2,
        epsilon_high: float | None = None,
        num_iterations: int = 1,
        scale_rewards: ScaleRewards = "group",
        multi_objective_aggregation: Aggregation = "sum_then_normalize",
        mask_truncated_completions: bool = False,
        filter_zero_std_groups: bool = False,
        filter_reward: str = "accuracy",
        micro_batch_size: int | None = None,
        logprob_chunk_size: int = 1024,
        max_grad_norm: float | None = 1.0,
        log_completions_steps: int = 50,
        num_completions_to_print: int = 8,
        datasets: list[str] | None = None,
        val_temperature: float = 0.3,
        val_top_p: float = 0.9,
        policy_dir: str | None = None,
        seed: int = 0,
        optimizer: OptimizerCallable = torch.optim.AdamW,
        lr_scheduler: LRSchedulerCallable | None = None,
        scheduler_interval: str = "step",
    ) -> None:
        if num_generations < 2:
            raise ValueError(
                f"num_generations must be >= 2 for group-relative advantages, got {num_generations}"
            )
        if num_iterations < 1:
            raise ValueError(f"num_iterations must be >= 1, got {num_iterations}")
        self._policy_holder = (policy,)  # nn.Module attributes can only be set after Module.__init__
        self.reward_specs = list(rewards) if rewards is not None else _default_rewards()
        self.num_generations = num_generations
        self.sampling = SamplingConfig(temperature, top_p, top_k, max_completion_length, True)
        self.val_sampling = SamplingConfig(
            val_temperature, val_top_p, 0, max_completion_length, do_sample=val_temperature > 0
        )
        self.loss_type: LossType = loss_type
        self.beta, self.epsilon, self.epsilon_high = beta, epsilon, epsilon_high
        self.num_iterations = num_iterations
        self.scale_rewards: ScaleRewards = scale_rewards
        self.aggregation: Aggregation = multi_objective_aggregation
        self.mask_truncated_completions = mask_truncated_completions
        self.filter_zero_std_groups, self.filter_reward = filter_zero_std_groups, filter_reward
        self.micro_batch_size, self.logprob_chunk_size = micro_batch_size, logprob_chunk_size
        self.max_grad_norm = max_grad_norm
        self.log_completions_steps, self.num_completions_to_print = (
            log_completions_steps,
            num_completions_to_print,
        )
        self.dataset_names = list(datasets) if datasets is not None else ["dfew", "mafw"]
        self.policy_dir, self.seed = policy_dir, seed
        #: The latest table of sample completions (rows of :func:`ervlight.grpo.stats.completion_table`).
        self.last_completion_table: list[dict[str, str | float]] = []
        super().__init__(
            optimizer=optimizer, lr_scheduler=lr_scheduler, scheduler_interval=scheduler_interval
        )
        self.save_hyperparameters(ignore=["policy", "rewards", "optimizer", "lr_scheduler"])
        self.automatic_optimization = False

    # ----------------------------------------------------------------- template hooks
    def configure_models(self) -> None:
        """The policy and, when ``beta > 0`` without adapters, a frozen copy of it as the reference."""
        policy = self._policy_holder[0]
        del self._policy_holder
        self.policy: Policy = policy if isinstance(policy, Policy) else policy()
        self.reference: Policy | None = None
        if self.beta != 0.0 and not has_adapters(self.policy):
            self.reference = copy.deepcopy(self.policy).eval().requires_grad_(False)

    def configure_losses(self) -> None:
        """The GRPO loss and the reward registry."""
        self.loss_fn = GRPOLoss(self.loss_type, self.epsilon, self.epsilon_high, self.beta)
        self.rewards = RewardRegistry(self.reward_specs)
        if self.filter_zero_std_groups:
            self.rewards.index(self.filter_reward)  # fail early on a wrong name

    def configure_metrics(self) -> None:
        """Per-dataset val and test WAR, UAR, format rate (and EEA/EPC/FCR when a verifier can judge)."""
        self.val_judge = registry_judge(self.rewards)
        judged = self.val_judge is not None
        self.val_metrics = validation_metrics(self.dataset_names, judged=judged)
        self.test_metrics = validation_metrics(self.dataset_names, judged=judged, stage="test")

    # ----------------------------------------------------------------- rollout
    def _generator(self) -> torch.Generator:
        """A sampling generator seeded by (seed, optimiser step, rank): resuming reproduces the samples."""
        seed = (self.seed * 1_000_003 + self.global_step * 1_009 + self.global_rank) % (2**63)
        return torch.Generator(device=self.device).manual_seed(seed)

    def _prompt_fields(
        self, batch: MediaBatch | PromptBatch
    ) -> tuple[MediaBatch | list[str], list[str], list[str]]:
        """What to encode, the gold labels and the label spaces of a batch."""
        if isinstance(batch, PromptBatch):
            return list(batch.prompts), list(batch.label_names), list(batch.datasets)
        return batch, list(batch.label_names), list(batch.datasets)

    def reference_logprobs(
        self, context: PromptContext, ids: torch.Tensor, mask: torch.Tensor
    ) -> torch.Tensor | None:
        """``[N, L]`` reference log-probs (``None`` when ``beta == 0``): frozen copy or adapters switched off."""
        if self.beta == 0.0:
            return None
        args = (context, ids, mask, self.num_generations, self.micro_batch_size, self.logprob_chunk_size)
        if self.reference is not None:
            return scored_logprobs(self.reference, *args, self.sampling.temperature)
        with adapters_disabled(self.policy):
            return scored_logprobs(self.policy, *args, self.sampling.temperature)

    def make_rollout(
        self, batch: MediaBatch | PromptBatch, timings: dict[str, float]
    ) -> tuple[Rollout, PromptContext, list[str], list[str]]:
        """Sample, score and weigh ``G`` completions per prompt; returns the rollout, context, texts and labels."""
        source, labels, datasets = self._prompt_fields(batch)
        group = self.num_generations
        start = time.perf_counter()
        with torch.no_grad():
            context = self.policy.encode(source)
            generation = self.policy.generate(context, group, self.sampling, self._generator())
        timings["generation"] = time.perf_counter() - start
        labels_g = [label for label in labels for _ in range(group)]
        start = time.perf_counter()
        inputs = RewardInputs(generation.texts, labels_g, [d for d in datasets for _ in range(group)])
        rewards = self.rewards(inputs).to(self.device)  # [N, R]
        batch_rewards = None
        if self.scale_rewards == "batch":
            batch_rewards = self.gather_rows(rewards)  # [N_global, R]
        total, advantages = aggregate_advantages(
            rewards,
            self.rewards.weights,
            group,
            self.aggregation,
            self.scale_rewards,
            batch_rewards=batch_rewards,
        )
        weights = torch.ones_like(total)  # [N]
        if self.filter_zero_std_groups:
            flat = zero_std_groups(rewards[:, self.rewards.index(self.filter_reward)], group)  # [B]
            weights = (~flat).repeat_interleave(group).to(total)  # [N]
        timings["rewards"] = time.perf_counter() - start
        mask = generation.completion_mask  # [N, L]
        if self.mask_truncated_completions:
            mask = mask & ~generation.truncated[:, None]
        start = time.perf_counter()
        old = None
        if self.num_iterations > 1:
            old = scored_logprobs(
                self.policy, context, generation.completion_ids, mask, group, self.micro_batch_size,
                self.logprob_chunk_size, self.sampling.temperature,
            )  # fmt: skip
        ref = self.reference_logprobs(context, generation.completion_ids, mask)
        timings["reference"] = time.perf_counter() - start
        rollout = Rollout(
            generation.completion_ids,
            mask,
            generation.truncated,
            advantages,
            weights,
            old,
            ref,
            rewards,
            total,
        )
        self._completion_lengths = generation.completion_mask.sum(-1)  # [N], ranks may differ in L
        return rollout, context, generation.texts, labels_g

    # ----------------------------------------------------------------- training
    def on_train_start(self) -> None:
        """Put the policy in eval mode for the whole fit (fresh or resumed; validation restores modes it changes).

        GRPO samples, scores the old and reference log-probs and computes the loss with the same policy, so they
        must see the same function: in train mode dropout would make each pass a different sub-network and
        batch normalisation (TinyOmni's audio tower) would normalise each clip by whatever clips share its batch
        and keep moving its statistics (the frozen reference uses the stored ones). Eval mode switches both off;
        gradients flow as usual. TRL's ``disable_dropout`` serves the same purpose. Lightning itself leaves each
        module in the mode it was built in (``nn.Module``: train; HF ``from_pretrained``: eval).
        """
        self.policy.eval()

    def training_step(self, batch: MediaBatch | PromptBatch, batch_idx: int) -> torch.Tensor:
        """One rollout and ``num_iterations`` optimiser updates; logs TRL-named statistics."""
        step_start = time.perf_counter()
        timings: dict[str, float] = {}
        rollout, context, texts, labels = self.make_rollout(batch, timings)
        first_step = self.global_step
        start = time.perf_counter()
        source = self._prompt_fields(batch)[0]
        loss, loss_logs = optimise_rollout(self, rollout, context, partial(self.policy.encode, source))
        timings["policy"] = time.perf_counter() - start
        logs = self._rollout_logs(rollout) | loss_logs
        logs["step_time"] = time.perf_counter() - step_start
        logs |= {f"step_time/{name}": value for name, value in timings.items()}
        self.log_dict(logs, on_step=True, on_epoch=False, batch_size=len(labels) // self.num_generations)
        if self.log_completions_steps > 0 and first_step % self.log_completions_steps == 0:
            self._log_completions(batch, rollout, texts, labels)
        return loss

    def gather_rows(self, value: torch.Tensor) -> torch.Tensor:
        """Rows of ``value`` from every rank, concatenated (``value`` itself on one process)."""
        gathered = self.all_gather(value)
        assert isinstance(gathered, torch.Tensor)
        return gathered.reshape(-1, *value.shape[1:])

    def _rollout_logs(self, rollout: Rollout) -> dict[str, float]:
        """Reward and completion statistics over all ranks."""
        rewards = self.gather_rows(rollout.rewards)  # [N_global, R]
        total = self.gather_rows(rollout.total_rewards)  # [N_global]
        lengths = self.gather_rows(self._completion_lengths)  # [N_global]
        truncated = self.gather_rows(rollout.truncated)  # [N_global]
        logs = reward_stats(rewards, total, self.rewards.names, self.num_generations, self.scale_rewards)
        logs |= completion_stats(lengths, truncated)
        if self.filter_zero_std_groups:
            logs["frac_groups_filtered"] = 1.0 - self.gather_rows(rollout.sequence_weights).mean().item()
        return logs

    def _log_completions(
        self, batch: MediaBatch | PromptBatch, rollout: Rollout, texts: list[str], labels: list[str]
    ) -> None:
        """A table of completions with per-function rewards and advantages (TensorBoard text)."""
        names = batch.prompts if isinstance(batch, PromptBatch) else batch.clip_ids
        prompts = [name for name in names for _ in range(self.num_generations)]
        self.last_completion_table = completion_table(
            prompts, labels, texts, rollout.rewards, self.rewards.names, rollout.advantages,
            self.num_completions_to_print,
        )  # fmt: skip
        if self.global_rank == 0 and isinstance(self.logger, TensorBoardLogger):
            self.logger.experiment.add_text(
                "completions", markdown_table(self.last_completion_table), self.global_step
            )

    # ----------------------------------------------------------------- validation and test
    def _evaluate(self, batch: MediaBatch | PromptBatch, batch_idx: int, stage: str) -> list[str]:
        """Sample one completion per clip; update the stage's per-dataset metrics and log each reward's mean."""
        source, labels, datasets = self._prompt_fields(batch)
        generator = torch.Generator(device=self.device).manual_seed(self.seed + batch_idx)
        generation = self.policy.generate(self.policy.encode(source), 1, self.val_sampling, generator)
        metrics = self.val_metrics if stage == "val" else self.test_metrics
        update_metrics(metrics, generation.texts, labels, datasets, self.val_judge, self.device)
        rewards = self.rewards(RewardInputs(generation.texts, labels, datasets))  # [B, R]
        means = {f"{stage}/rewards/{name}": rewards[:, r].mean() for r, name in enumerate(self.rewards.names)}
        self.log_dict(means, on_epoch=True, sync_dist=True, batch_size=len(labels))
        return generation.texts

    def validation_step(self, batch: MediaBatch | PromptBatch, batch_idx: int) -> None:
        """Sample one completion per clip; update the per-dataset metrics and the mean of each reward."""
        self._evaluate(batch, batch_idx, "val")

    def on_validation_epoch_end(self) -> None:
        """Log and reset the validation metrics."""
        self.log_dict(computed_metrics(self.val_metrics))

    def test_step(self, batch: MediaBatch | PromptBatch, batch_idx: int) -> dict[str, list[str]]:
        """As validation on the test split (``test/...`` keys); returns ``{"completions": texts}`` for writers."""
        return {"completions": self._evaluate(batch, batch_idx, "test")}

    def on_test_epoch_end(self) -> None:
        """Log and reset the test metrics."""
        self.log_dict(computed_metrics(self.test_metrics))

    def on_fit_end(self) -> None:
        """Save the trained policy (``save_pretrained``) under ``policy_dir`` on the main process."""
        if not self.trainer.is_global_zero:
            return
        save = getattr(self.policy, "save_pretrained", None)
        if save is None:
            raise TypeError(f"{type(self.policy).__name__} cannot be saved (no save_pretrained)")
        save(Path(self.policy_dir or Path(self.trainer.log_dir or self.trainer.default_root_dir) / "policy"))
