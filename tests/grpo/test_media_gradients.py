"""GRPO trains the whole policy: media towers and projectors learn through one with-gradient encoding per update."""

from __future__ import annotations

from functools import partial
from pathlib import Path

import torch
from grpo_stubs import erv_rewards, tiny_trainer
from torch.utils.data import DataLoader

from ervlight.data.batch import MediaBatch
from ervlight.policy.backbones.tiny_omni import TinyOmni
from ervlight.tasks.grpo import GRPOModule
from policy.media import synthetic_batch
from tiny_models import tiny_omni_kwargs

SMALL = tiny_omni_kwargs()


def _module(micro_batch_size: int | None) -> GRPOModule:
    """GRPO (G = 2, 4 new tokens, SGD, no reference) over a seeded small TinyOmni."""
    torch.manual_seed(0)
    return GRPOModule(
        TinyOmni(**SMALL),
        rewards=erv_rewards(),
        num_generations=2,
        max_completion_length=4,
        beta=0.0,
        micro_batch_size=micro_batch_size,
        max_grad_norm=None,
        datasets=["dfew"],
        log_completions_steps=0,
        optimizer=partial(torch.optim.SGD, lr=0.5),
    )


def _one_step(module: GRPOModule, root: Path) -> dict[str, torch.Tensor]:
    """Train one step on three synthetic clips; return the policy's parameters afterwards."""
    batch = synthetic_batch(["happy", "sad", "angry"], frames=2)
    loader: DataLoader[MediaBatch] = DataLoader([batch], batch_size=None)
    tiny_trainer(root, max_steps=1).fit(module, train_dataloaders=loader)
    return {name: p.detach().clone() for name, p in module.policy.named_parameters()}


def test_towers_and_projectors_learn(tmp_path: Path) -> None:
    module = _module(micro_batch_size=None)
    before = {name: p.detach().clone() for name, p in module.policy.named_parameters()}
    after = _one_step(module, tmp_path)
    moved = {name.split(".")[0] for name in before if not torch.equal(before[name], after[name])}
    assert {"vision_encoder", "audio_encoder", "projectors", "lm"} <= moved


def test_micro_batches_share_one_encoding_and_give_the_same_update(tmp_path: Path) -> None:
    whole = _one_step(_module(micro_batch_size=None), tmp_path / "whole")
    for micro in (
        1,
        2,
        4,
    ):  # single rows, whole groups, groups and a cut group: the graph is kept between passes
        split = _one_step(_module(micro_batch_size=micro), tmp_path / f"micro{micro}")
        for name, value in whole.items():
            torch.testing.assert_close(
                split[name], value, rtol=1e-4, atol=1e-6, msg=f"{name} (micro {micro})"
            )
