"""``GRPOModule``: GRPO with a registry of weighted rewards, on any :class:`~ervlight.policy.base.Policy`.

One training step takes ``B`` prompts (per device), samples ``G`` completions each, scores them, turns the rewards
into group-relative advantages and makes ``num_iterations`` optimiser updates on that rollout, each made of
``micro_batch_size``-row backward passes normalised for the whole step (gradient accumulation without bias;
:func:`ervlight.grpo.step.optimise_rollout`). Every group stays on its rank; statistics are reduced over ranks
before they are logged. The algorithm's options form one :class:`~ervlight.grpo.config.GRPOConfig` (``config``).
Symbols: ``B`` prompts, ``G`` group size, ``N = B * G``, ``L`` completion tokens, ``R`` rewards.
"""

from __future__ import annotations

import copy
import time
from collections.abc import Callable
from functools import partial
from typing import Any, NamedTuple

import torch
from lightning.pytorch.cli import LRSchedulerCallable, OptimizerCallable
from torch.optim import Optimizer
from torch.optim.lr_scheduler import LRScheduler

from ervlight.data.batch import MediaBatch
from ervlight.evaluation.judge import Judge
from ervlight.grpo.advantages import Aggregation, ScaleRewards, aggregate_advantages, zero_std_groups
from ervlight.grpo.config import GRPOConfig
from ervlight.grpo.loss import GRPOLoss, LossType
from ervlight.grpo.rollout import scored_logprobs
from ervlight.grpo.stats import completion_stats, completion_table, reward_stats, rollout_tokens
from ervlight.grpo.step import optimise_rollout
from ervlight.grpo.types import PromptBatch, Rollout
from ervlight.policy.base import Policy, PromptContext, SamplingConfig
from ervlight.rewards.base import RewardInputs
from ervlight.rewards.explanation import ExplanationReward
from ervlight.rewards.registry import RewardRegistry
from ervlight.tasks.completion_log import log_completion_table
from ervlight.tasks.policy_task import EvalBatch, PolicyTask, Stage, evaluation_sampling, prompt_fields
from ervlight.verifier.judge import VerifierJudge

__all__ = ["PROGRESS_BAR_METRICS", "GRPOModule", "RolloutSample"]

#: Training metrics the progress bar shows (every metric goes to the loggers).
PROGRESS_BAR_METRICS = ("reward", "loss")


def _default_rewards() -> list[dict[str, Any]]:
    """Format + accuracy (the explanation reward needs a verifier, so configs add it explicitly)."""
    return [{"name": "format"}, {"name": "accuracy"}]


class RolloutSample(NamedTuple):
    """A scored rollout with what produced it: the prompt context, the completions, their labels and timings."""

    rollout: Rollout
    context: PromptContext
    texts: list[str]  # [N] completions
    labels: list[str]  # [N] gold label of each completion's prompt
    timings: dict[str, float]  # seconds of generation, rewards and reference scoring


class GRPOModule(PolicyTask):
    """GRPO on a policy with weighted rewards (manual optimisation; TRL's option names).

    Args:
        policy: the policy to train, or a factory building it (in YAML: ``class_path`` + ``init_args``); its
            weights at the start are the reference when ``beta > 0``.
        rewards: the weighted reward functions, entries ``{name, class_path, weight, init_args}`` (see
            :mod:`ervlight.rewards.registry`; default: format and accuracy, weight 1 each).
        num_generations … max_grad_norm: the GRPO options, TRL's names; see :class:`GRPOConfig` (one object,
            validated at construction, kept as ``self.config``).
        log_completions_steps: every this many steps log a table of sample completions to every logger that
            takes a table, else to ``completions.csv`` (:mod:`ervlight.tasks.completion_log`; 0: never).
        num_completions_to_print: rows of that table.
        datasets: label spaces of the val and test metrics (one collection each: ``val/<dataset>/war``…).
        val_temperature: validation and test sampling temperature (0: greedy); reference evaluation uses 0.3.
        val_top_p: validation and test nucleus sampling (reference evaluation: 0.9).
        policy_dir: where the trained policy is saved at the end of ``fit`` (default ``<log dir>/policy``).
        seed: base seed of the sampling generators (one per step and rank, so resuming repeats the samples).
        optimizer: builds the optimizer from the trainable parameters.
        lr_scheduler: builds a scheduler, stepped after every optimiser update.
    """

    hparams_ignore = ("optimizer", "lr_scheduler", "sampling", "policy", "rewards", "scheduler_interval")

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
    ) -> None:
        self.config = GRPOConfig(
            num_generations, max_completion_length, temperature, top_p, top_k, loss_type, beta, epsilon,
            epsilon_high, num_iterations, scale_rewards, multi_objective_aggregation, mask_truncated_completions,
            filter_zero_std_groups, filter_reward, micro_batch_size, logprob_chunk_size, max_grad_norm, seed,
        )  # fmt: skip
        self.reward_specs = list(rewards) if rewards is not None else _default_rewards()
        self.log_completions_steps = log_completions_steps
        self.num_completions_to_print = num_completions_to_print
        #: The latest table of sample completions (rows of :func:`ervlight.grpo.stats.completion_table`).
        self.last_completion_table: list[dict[str, str | float]] = []
        #: Prompt and completion tokens of every rollout so far, all ranks (TRL's ``num_tokens``; checkpointed).
        self.num_tokens_seen = 0
        sampling = evaluation_sampling(val_temperature, val_top_p, max_completion_length)
        super().__init__(
            policy, sampling, datasets, policy_dir, seed, optimizer=optimizer, lr_scheduler=lr_scheduler
        )
        self.automatic_optimization = False

    @property
    def sampling(self) -> SamplingConfig:
        """The training sampler's settings."""
        return self.config.sampling

    # ----------------------------------------------------------------- template hooks
    def configure_models(self) -> None:
        """The policy and its reference: the policy with adapters off (LoRA), a frozen copy, or none (``beta == 0``).

        The choice is made here, once: ``reference_from_adapters`` says which of the first two applies.
        """
        super().configure_models()
        uses_reference = self.config.uses_reference
        self.reference_from_adapters = uses_reference and self.policy.has_adapters
        self.reference: Policy | None = None
        if uses_reference and not self.reference_from_adapters:
            self.reference = copy.deepcopy(self.policy).eval().requires_grad_(False)

    def configure_losses(self) -> None:
        """The GRPO loss and the reward registry."""
        config = self.config
        self.loss_fn = GRPOLoss(config.loss_type, config.epsilon, config.epsilon_high, config.beta)
        self.rewards = RewardRegistry(self.reward_specs)
        if config.filter_zero_std_groups:
            self.rewards.index(config.filter_reward)  # fail early on a wrong name

    def build_judge(self) -> Judge | None:
        """A judge made from the verifier of the registry's ``explanation`` reward (``None`` without one)."""
        reward = dict(self.rewards).get("explanation")
        return VerifierJudge(reward.verifier) if isinstance(reward, ExplanationReward) else None

    # ----------------------------------------------------------------- Lightning interface of the step
    def reduce_sum(self, value: torch.Tensor) -> torch.Tensor:
        """``value`` summed over ranks (itself on one process or outside a trainer)."""
        if self.world_size == 1:
            return value
        reduced: torch.Tensor = self.trainer.strategy.reduce(value, reduce_op="sum")
        return reduced

    @property
    def world_size(self) -> int:
        """Number of ranks (1 outside a trainer)."""
        return 1 if self._trainer is None else self.trainer.world_size

    def gather_rows(self, value: torch.Tensor) -> torch.Tensor:
        """Rows of ``value`` from every rank, concatenated (``value`` itself on one process)."""
        gathered = self.all_gather(value)
        assert isinstance(gathered, torch.Tensor)
        return gathered.reshape(-1, *value.shape[1:])

    # ----------------------------------------------------------------- rollout
    def _generator(self) -> torch.Generator:
        """A sampling generator seeded by (seed, optimiser step, rank): resuming reproduces the samples."""
        seed = (self.config.seed * 1_000_003 + self.global_step * 1_009 + self.global_rank) % (2**63)
        return torch.Generator(device=self.device).manual_seed(seed)

    def _scored(
        self, policy: Policy, context: PromptContext, ids: torch.Tensor, mask: torch.Tensor
    ) -> torch.Tensor:
        """``[N, L]`` log-probs of the completions under ``policy`` (no gradient, micro-batched)."""
        config = self.config
        return scored_logprobs(
            policy, context, ids, mask, config.num_generations, config.micro_batch_size,
            config.logprob_chunk_size, config.temperature,
        )  # fmt: skip

    def reference_logprobs(
        self, context: PromptContext, ids: torch.Tensor, mask: torch.Tensor
    ) -> torch.Tensor | None:
        """``[N, L]`` reference log-probs (``None`` when ``beta == 0``): frozen copy or adapters switched off."""
        if self.reference_from_adapters:
            with self.policy.adapters_disabled():
                return self._scored(self.policy, context, ids, mask)
        return None if self.reference is None else self._scored(self.reference, context, ids, mask)

    def make_rollout(self, batch: MediaBatch | PromptBatch) -> RolloutSample:
        """Sample, score and weigh ``G`` completions per prompt."""
        config, timings = self.config, {}
        source, labels, datasets = prompt_fields(batch)
        group = config.num_generations
        start = time.perf_counter()
        with torch.no_grad():
            context = self.policy.encode(source)
            generation = self.policy.generate(context, group, config.sampling, self._generator())
        timings["generation"] = time.perf_counter() - start
        labels_g = [label for label in labels for _ in range(group)]
        start = time.perf_counter()
        inputs = RewardInputs(generation.texts, labels_g, [d for d in datasets for _ in range(group)])
        rewards = self.rewards(inputs).to(self.device)  # [N, R]
        batch_rewards = None
        if config.scale_rewards == "batch":
            batch_rewards = self.gather_rows(rewards)  # [N_global, R]
        total, advantages = aggregate_advantages(
            rewards,
            self.rewards.weights,
            group,
            config.multi_objective_aggregation,
            config.scale_rewards,
            batch_rewards=batch_rewards,
        )
        weights = torch.ones_like(total)  # [N]
        if config.filter_zero_std_groups:
            flat = zero_std_groups(rewards[:, self.rewards.index(config.filter_reward)], group)  # [B]
            weights = (~flat).repeat_interleave(group).to(total)  # [N]
        timings["rewards"] = time.perf_counter() - start
        mask = generation.completion_mask  # [N, L]
        if config.mask_truncated_completions:
            mask = mask & ~generation.truncated[:, None]
        start = time.perf_counter()
        ids = generation.completion_ids  # [N, L]
        old = self._scored(self.policy, context, ids, mask) if config.num_iterations > 1 else None
        ref = self.reference_logprobs(context, ids, mask)
        timings["reference"] = time.perf_counter() - start
        lengths = generation.completion_mask.sum(-1)  # [N], ranks may differ in L
        rollout = Rollout(
            ids, mask, generation.truncated, advantages, weights, old, ref, rewards, total, lengths, group
        )
        return RolloutSample(rollout, context, generation.texts, labels_g, timings)

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
        sample = self.make_rollout(batch)
        rollout = sample.rollout
        first_step = self.global_step
        start = time.perf_counter()
        encode = partial(self.policy.encode, prompt_fields(batch)[0])
        optimizer, scheduler = self._optimizer(), self._scheduler()
        step = optimise_rollout(
            self.policy,
            self.loss_fn,
            rollout,
            sample.context,
            self.config,
            optimizer,
            scheduler,
            self,
            encode,
        )
        timings = sample.timings | {"policy": time.perf_counter() - start}
        tokens = rollout_tokens(sample.context.attention_mask, rollout.completion_lengths, rollout.group_size)
        self.num_tokens_seen += int(self.reduce_sum(tokens).item())
        logs = self._rollout_logs(rollout) | step.logs | {"num_tokens": float(self.num_tokens_seen)}
        logs["step_time"] = time.perf_counter() - step_start
        logs |= {f"step_time/{name}": value for name, value in timings.items()}
        shown = {name: logs.pop(name) for name in PROGRESS_BAR_METRICS}
        self.log_dict(shown, prog_bar=True, on_step=True, on_epoch=False, batch_size=rollout.num_prompts)
        self.log_dict(logs, on_step=True, on_epoch=False, batch_size=rollout.num_prompts)
        if self.log_completions_steps > 0 and first_step % self.log_completions_steps == 0:
            self._log_completions(batch, rollout, sample.texts, sample.labels, first_step)
        return step.loss

    def _optimizer(self) -> Optimizer:
        """The one optimizer (Lightning's wrapper of it)."""
        optimizer = self.optimizers()
        if isinstance(optimizer, list):
            raise ValueError("GRPOModule expects exactly one optimizer")
        return optimizer  # type: ignore[return-value]

    def _scheduler(self) -> LRScheduler | None:
        """The scheduler stepped after every update (``None``: constant learning rate)."""
        scheduler = self.lr_schedulers()
        if isinstance(scheduler, list):
            raise ValueError("GRPOModule expects at most one learning-rate scheduler")
        return scheduler

    def _rollout_logs(self, rollout: Rollout) -> dict[str, float]:
        """Reward and completion statistics over all ranks."""
        rewards = self.gather_rows(rollout.rewards)  # [N_global, R]
        total = self.gather_rows(rollout.total_rewards)  # [N_global]
        lengths = self.gather_rows(rollout.completion_lengths)  # [N_global]
        truncated = self.gather_rows(rollout.truncated)  # [N_global]
        logs = reward_stats(rewards, total, self.rewards.names, rollout.group_size)
        logs |= completion_stats(lengths, truncated)
        if self.config.filter_zero_std_groups:
            logs["frac_groups_filtered"] = 1.0 - self.gather_rows(rollout.sequence_weights).mean().item()
        return logs

    def _log_completions(
        self,
        batch: MediaBatch | PromptBatch,
        rollout: Rollout,
        texts: list[str],
        labels: list[str],
        step: int,
    ) -> None:
        """A table of completions with per-function rewards and advantages, for every logger (main process).

        ``step`` is the optimiser step the rollout was sampled at, the step its scalar metrics are logged at.
        """
        names = batch.prompts if isinstance(batch, PromptBatch) else batch.clip_ids
        prompts = [name for name in names for _ in range(rollout.group_size)]
        self.last_completion_table = completion_table(
            prompts, labels, texts, rollout.rewards, self.rewards.names, rollout.advantages,
            self.num_completions_to_print,
        )  # fmt: skip
        if self.global_rank == 0:
            log_completion_table(self.trainer, self.last_completion_table, step)

    # ----------------------------------------------------------------- checkpoints
    def on_save_checkpoint(self, checkpoint: dict[str, Any]) -> None:
        """Keep the token count so a resumed run continues ``num_tokens``."""
        checkpoint["num_tokens_seen"] = self.num_tokens_seen

    def on_load_checkpoint(self, checkpoint: dict[str, Any]) -> None:
        """Restore the token count (0 for checkpoints written before it was kept)."""
        self.num_tokens_seen = int(checkpoint.get("num_tokens_seen", 0))

    # ----------------------------------------------------------------- validation and test
    def evaluate(self, batch: EvalBatch, batch_idx: int, stage: Stage) -> list[str]:
        """Generate and score (:class:`PolicyTask`), then log each reward's mean (``<stage>/rewards/<name>``)."""
        texts = super().evaluate(batch, batch_idx, stage)
        if not texts:  # a batch of only unreadable clips: counted by the metrics, no reward to average
            return texts
        _, labels, datasets = prompt_fields(batch)
        rewards = self.rewards(RewardInputs(texts, labels, datasets))  # [B, R]
        means = {f"{stage}/rewards/{name}": rewards[:, r].mean() for r, name in enumerate(self.rewards.names)}
        self.log_dict(means, on_epoch=True, sync_dist=True, batch_size=len(labels))
        return texts
