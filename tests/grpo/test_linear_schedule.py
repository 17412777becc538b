"""GRPO under the reference LR schedule: a linear decay to 0 over the run's optimiser steps, filled in by the task."""

from __future__ import annotations

from collections.abc import Callable
from functools import partial
from pathlib import Path

import pytest
import torch
from grpo_stubs import PromptData, tiny_trainer

from ervlight.tasks.grpo import GRPOModule
from ervlight.tasks.schedules import WarmupLinearLR


@pytest.mark.parametrize(
    ("num_iterations", "max_steps", "total"), [(1, -1, 2), (2, -1, 4), (2, 3, 4), (2, 2, 2)]
)
def test_the_linear_schedule_spans_every_update(
    make_module: Callable[..., GRPOModule], tmp_path: Path, num_iterations: int, max_steps: int, total: int
) -> None:
    module = make_module(
        optimizer=partial(torch.optim.SGD, lr=0.04),
        lr_scheduler=WarmupLinearLR,
        num_iterations=num_iterations,
    )
    trainer = tiny_trainer(tmp_path, max_steps=max_steps, max_epochs=1)
    trainer.fit(module, datamodule=PromptData(batch_size=2))  # 4 prompts: 2 batches
    scheduler = module.lr_schedulers()
    assert isinstance(scheduler, WarmupLinearLR)
    assert scheduler.total_steps == total
    assert trainer.global_step == total
    assert scheduler.get_last_lr() == [pytest.approx(0.0)]  # decayed to 0 at the last update
