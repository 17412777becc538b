"""WarmupCosineLR: linear warm-up, cosine decay, total steps filled in later."""

from __future__ import annotations

import math

import pytest
import torch

from ervlight.tasks.schedules import WarmupCosineLR


def test_warmup_then_cosine() -> None:
    optimizer = torch.optim.SGD([torch.nn.Parameter(torch.zeros(1))], lr=1.0)
    schedule = WarmupCosineLR(optimizer, total_steps=100, warmup_ratio=0.03)
    assert [schedule.factor(s) for s in (0, 1, 2, 3)] == [0.0, 1 / 3, 2 / 3, 1.0]
    assert schedule.factor(3 + 97 // 2) == pytest.approx(0.5 * (1 + math.cos(math.pi * 48 / 97)))
    assert schedule.factor(100) == 0.0
    assert schedule.factor(500) == 0.0
    assert WarmupCosineLR(optimizer, 10, warmup_ratio=0.0, min_ratio=0.1).factor(10) == pytest.approx(0.1)


def test_total_steps_filled_in_later() -> None:
    optimizer = torch.optim.SGD([torch.nn.Parameter(torch.zeros(1))], lr=2.0)
    schedule = WarmupCosineLR(optimizer, warmup_ratio=0.5)
    assert optimizer.param_groups[0]["lr"] == 0.0
    schedule.total_steps = 4
    optimizer.step()
    schedule.step()
    assert optimizer.param_groups[0]["lr"] == 1.0
    with pytest.raises(ValueError, match=r"warmup_ratio must be in \[0, 1\)"):
        WarmupCosineLR(optimizer, 4, warmup_ratio=1.0)
