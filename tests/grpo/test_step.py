"""The GRPO optimisation step with explicit inputs: driven by a fake Lightning interface (no Trainer) it makes the
same update and logs the same statistics as GRPOModule under a Trainer; a step equals one full-batch backward pass."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import torch
from grpo_stubs import PromptData, tiny_trainer
from torch.optim import Optimizer

from ervlight.grpo.loss import normaliser_count
from ervlight.grpo.step import StepResult, TrainingBackend, optimise_rollout, step_normaliser
from ervlight.tasks.grpo import GRPOModule
from ervlight.tasks.policy_task import prompt_fields


class FakeLightning:
    """The step's interface on one process: plain backward, ``clip_grad_norm_``, identity reduction."""

    def __init__(self) -> None:
        self.backward_calls: list[bool] = []
        self.clips: list[float | None] = []

    def manual_backward(self, loss: torch.Tensor, *args: object, **kwargs: object) -> None:
        """``loss.backward`` (records whether the graph was kept)."""
        retain = bool(kwargs.get("retain_graph", False))
        self.backward_calls.append(retain)
        loss.backward(retain_graph=retain)

    def clip_gradients(
        self,
        optimizer: Optimizer,
        gradient_clip_val: float | None = None,
        gradient_clip_algorithm: str | None = None,
    ) -> None:
        """Clip by global norm, as Lightning's precision plugin does for ``"norm"``."""
        assert gradient_clip_algorithm == "norm"
        self.clips.append(gradient_clip_val)
        params = [p for group in optimizer.param_groups for p in group["params"]]
        torch.nn.utils.clip_grad_norm_(params, gradient_clip_val)  # type: ignore[arg-type]

    def reduce_sum(self, value: torch.Tensor) -> torch.Tensor:
        """One process: the value itself."""
        return value

    def gather_rows(self, value: torch.Tensor) -> torch.Tensor:
        """One process: the rows themselves."""
        return value

    @property
    def world_size(self) -> int:
        """One process."""
        return 1


def fake_step(module: GRPOModule, backend: TrainingBackend) -> tuple[StepResult, Any]:
    """One rollout of PromptData's first batch and its update, outside any Trainer."""
    batch = next(iter(PromptData(batch_size=2).train_dataloader()))
    sample = module.make_rollout(batch)
    optimizer = module.configure_optimizers()
    encode = lambda: module.policy.encode(prompt_fields(batch)[0])  # noqa: E731
    result = optimise_rollout(
        module.policy,
        module.loss_fn,
        sample.rollout,
        sample.context,
        module.config,
        optimizer,
        None,
        backend,
        encode,
    )
    return result, sample


@pytest.mark.parametrize(
    "overrides",
    [{}, {"num_iterations": 2, "micro_batch_size": 1, "loss_type": "dapo", "beta": 0.1}],
    ids=["one-update", "two-updates-micro-batched"],
)
def test_fake_interface_equals_the_trainer_step(
    make_module: Callable[..., GRPOModule], tmp_path: Path, overrides: dict[str, Any]
) -> None:
    trained = make_module(**overrides)
    trainer = tiny_trainer(tmp_path, max_steps=trained.config.num_iterations)
    trainer.fit(trained, datamodule=PromptData(batch_size=2))
    module = make_module(**overrides)
    backend = FakeLightning()
    result, sample = fake_step(module, backend)
    for (name, param), other in zip(
        module.policy.named_parameters(), trained.policy.parameters(), strict=True
    ):
        torch.testing.assert_close(param, other, rtol=0, atol=0, msg=name)
    logged = trainer.logged_metrics
    for key, value in result.logs.items():
        assert value == pytest.approx(float(logged[key]), rel=1e-6, abs=1e-9), key
    ranges = 4 if overrides else 1  # micro-batches of 1 row, or the whole step at once
    assert len(backend.backward_calls) == ranges * module.config.num_iterations
    assert backend.clips == [1.0] * module.config.num_iterations
    assert sample.rollout.group_size == 2
    assert sample.rollout.num_prompts == 2
    assert sample.rollout.completion_lengths.tolist() == sample.rollout.completion_mask.sum(-1).tolist()
    assert set(sample.timings) == {"generation", "rewards", "reference"}


def test_one_update_equals_one_full_batch_backward(make_module: Callable[..., GRPOModule]) -> None:
    module = make_module(max_grad_norm=None, beta=0.0)
    reference = make_module(max_grad_norm=None, beta=0.0)
    result, sample = fake_step(module, FakeLightning())
    rollout, config = sample.rollout, module.config
    # by hand: one pass over all rows with the step's normaliser, then plain SGD (lr 0.05)
    normaliser, total = step_normaliser(rollout, config, FakeLightning())
    count = normaliser_count("grpo", rollout.completion_mask, rollout.sequence_weights, 6)
    assert float(total) == float(count) == 4.0  # 4 kept completions
    context = reference.policy.encode(
        prompt_fields(next(iter(PromptData(batch_size=2).train_dataloader())))[0]
    )
    logprobs = reference.policy.completion_logprobs(
        context,
        rollout.completion_ids,
        rollout.completion_mask,
        2,
        config.logprob_chunk_size,
        config.temperature,
    )
    loss, _ = reference.loss_fn(logprobs.float(), rollout.completion_mask, rollout.advantages, normaliser)
    loss.backward()
    grads = [p.grad for p in reference.policy.parameters() if p.grad is not None]
    norm = torch.linalg.vector_norm(torch.stack([torch.linalg.vector_norm(g) for g in grads]))
    assert result.logs["grad_norm"] == pytest.approx(norm.item(), rel=1e-6)
    assert result.logs["learning_rate"] == 0.05
    with torch.no_grad():
        for param in reference.policy.parameters():
            if param.grad is not None:
                param -= 0.05 * param.grad
    torch.testing.assert_close(result.loss, loss.detach())
    assert result.logs["loss"] == pytest.approx(float(loss.detach()))
    for param, other in zip(module.policy.parameters(), reference.policy.parameters(), strict=True):
        torch.testing.assert_close(param, other)
