"""Resuming training on real clips: GRPO (and SFT) stopped mid-epoch and resumed = one uninterrupted run.

ERVDataModule reads the MAFW-mini tree (fold 1: 10 training clips, random frame sampling) or the EMER JSON
fixture; a tiny TinyOmni policy is trained. The interrupted run stops at ``max_steps`` mid-epoch, its
``last.ckpt`` (ModelCheckpoint ``save_last``, as in the GRPO presets) is resumed by ``fit(ckpt_path=...)`` with
another initialisation, and must end with the same parameters (bit for bit) after training on the same clips in
the same order, across the epoch boundary that follows (the resumed GRPO run decodes in two workers: per-clip
seeds make the random frame sampling independent of them).
"""

from __future__ import annotations

import json
from collections.abc import Callable
from functools import partial
from pathlib import Path
from typing import Any

import pytest
import torch
from grpo_stubs import erv_rewards
from lightning.pytorch import Callback, LightningModule, Trainer
from lightning.pytorch.callbacks import ModelCheckpoint
from safetensors.torch import load_file

from ervlight.cli import main
from ervlight.data.datamodule import ERVDataModule
from ervlight.data.sources import DataSource
from ervlight.policy.backbones.tiny_omni import TinyOmni
from ervlight.tasks.grpo import GRPOModule
from ervlight.tasks.sft import SFTModule
from tiny_models import tiny_omni_kwargs

CONFIGS = Path(__file__).resolve().parents[2] / "configs" / "grpo"
SMALL = tiny_omni_kwargs(vocab_size=300, image_size=16, instruction="Which emotion?")


class ClipLog(Callback):
    """Records the clip ids of every training batch."""

    def __init__(self) -> None:
        self.batches: list[list[str]] = []

    def on_train_batch_start(
        self, trainer: Trainer, module: LightningModule, batch: Any, batch_idx: int
    ) -> None:
        self.batches.append(list(batch.clip_ids))


def grpo_module(seed: int = 0) -> GRPOModule:
    """GRPO over a small TinyOmni (G = 2, 4 new tokens, AdamW + a step schedule)."""
    torch.manual_seed(seed)
    return GRPOModule(
        TinyOmni(**SMALL),  # type: ignore[arg-type]
        rewards=erv_rewards(), num_generations=2, max_completion_length=4, datasets=["mafw"], beta=0.04,
        policy_dir=None, log_completions_steps=0, optimizer=partial(torch.optim.AdamW, lr=0.01),
        lr_scheduler=partial(torch.optim.lr_scheduler.StepLR, step_size=1, gamma=0.9),
    )  # fmt: skip


def sft_module(seed: int = 0) -> SFTModule:
    """SFT of a small TinyOmni (AdamW)."""
    torch.manual_seed(seed)
    return SFTModule(
        partial(TinyOmni, **SMALL), datasets=["mafw", "dfew"], max_new_tokens=4, policy_dir=None,
        optimizer=partial(torch.optim.AdamW, lr=0.01),
    )  # fmt: skip


def _fit(
    module: LightningModule,
    data: ERVDataModule,
    steps: int,
    root: Path,
    ckpt: Path | None = None,
    weights_only: bool = True,
) -> ClipLog:
    log = ClipLog()
    trainer = Trainer(
        accelerator="cpu", max_steps=steps, logger=False, enable_progress_bar=False, enable_model_summary=False,
        num_sanity_val_steps=0, limit_val_batches=0, default_root_dir=root,
        callbacks=[log, ModelCheckpoint(root / "checkpoints", save_last=True)],
    )  # fmt: skip
    trainer.fit(module, datamodule=data, ckpt_path=ckpt, weights_only=weights_only)
    assert trainer.global_step == steps
    return log


def _check_resume(
    make: Callable[[int], LightningModule],
    data: Callable[[], ERVDataModule],
    steps: int,
    stop: int,
    tmp_path: Path,
    weights_only: bool = True,
) -> tuple[LightningModule, list[list[str]]]:
    """Run straight, stopped at ``stop`` and resumed; returns the straight module and its batches."""
    straight = make(0)
    whole = _fit(straight, data(), steps, tmp_path / "straight")
    first = _fit(make(0), data(), stop, tmp_path / "first")
    resumed = make(1)  # another initialisation: the checkpoint brings everything back
    last = tmp_path / "first" / "checkpoints" / "last.ckpt"
    rest = _fit(resumed, data(), steps, tmp_path / "resumed", ckpt=last, weights_only=weights_only)
    assert first.batches + rest.batches == whole.batches
    for (name, value), other in zip(straight.named_parameters(), resumed.parameters(), strict=True):
        assert torch.equal(other, value), name
    return straight, whole.batches


@pytest.mark.filterwarnings("ignore:Be aware that when using `ckpt_path`")
def test_grpo_resumed_mid_epoch_matches_the_uninterrupted_run(mafw_root: Path, tmp_path: Path) -> None:
    def data(seed: int = 3, workers: int = 0) -> ERVDataModule:
        return ERVDataModule(train=[DataSource("mafw", str(mafw_root))], num_frames=4, image_size=16,
                             batch_size=2, data_seed=seed, num_workers=workers)  # fmt: skip

    resumed_data = iter([data(), data(), data(workers=2)])  # the resumed run decodes in 2 workers
    straight, batches = _check_resume(grpo_module, lambda: next(resumed_data), 8, 3, tmp_path)
    shuffled = grpo_module(0)  # control: the same run on another order ends elsewhere
    _fit(shuffled, data(seed=4), 8, tmp_path / "other")
    assert not all(
        torch.equal(a, b) for a, b in zip(straight.parameters(), shuffled.parameters(), strict=True)
    )
    epoch = sorted(c for b in batches[:5] for c in b)
    assert len(epoch) == 10 == len(set(epoch))  # 5 batches of 2: every training clip once in epoch 0
    assert [c for b in batches[5:] for c in b] != [c for b in batches[:3] for c in b]  # epoch 1: a new order


@pytest.mark.filterwarnings("ignore:Be aware that when using `ckpt_path`")
def test_sft_resumed_mid_epoch_matches_the_uninterrupted_run(emer_json: Path, tmp_path: Path) -> None:
    def data() -> ERVDataModule:
        return ERVDataModule(train=[DataSource("emer", str(emer_json))], num_frames=4, image_size=16,
                             batch_size=2, require_targets=True, data_seed=5)  # fmt: skip

    # SFTModule keeps its policy factory (here a functools.partial) in its hyper-parameters, which a
    # weights-only load refuses: this trusted test checkpoint is loaded in full
    _, batches = _check_resume(sft_module, data, steps=5, stop=2, tmp_path=tmp_path, weights_only=False)
    assert [len(b) for b in batches] == [2, 2, 2, 2, 2]  # 6 EMER clips: 3 batches per epoch


@pytest.mark.filterwarnings("ignore:Be aware that when using `ckpt_path`")
def test_cli_fit_ckpt_path_continues_the_run(tmp_path: Path, emer_json: Path, dfew_root: Path) -> None:
    """``ervlight fit`` for 5 steps = 3 steps, then ``fit --ckpt_path last.ckpt`` (weights-only load) to 5."""
    policy = {
        "pretrained": None,
        "tokenizer_corpus": str(emer_json),
        "hidden_size": 32,
        "intermediate_size": 64,
    }

    def fit(name: str, steps: int, *extra: str) -> None:
        overrides = {
            "trainer.max_steps": str(steps), "trainer.limit_val_batches": "0",
            "trainer.default_root_dir": str(tmp_path / name),
            "trainer.logger.init_args.save_dir": str(tmp_path / name),
            "model.init_args.policy": json.dumps({"class_path": "ervlight.policy.TinyOmni", "init_args": policy}),
            "model.init_args.rewards": json.dumps([{"name": "format"}, {"name": "accuracy"}]),
            "model.init_args.num_generations": "2", "model.init_args.max_completion_length": "4",
            "model.init_args.policy_dir": str(tmp_path / name / "policy"), "model.init_args.datasets": '["dfew"]',
            "data.init_args.train": json.dumps([{"kind": "dfew", "root": str(dfew_root)}]),
            "data.init_args.val": "null", "data.init_args.batch_size": "2",
        }  # fmt: skip
        argv = ["fit", "--config", str(CONFIGS / "r1omni_baseline_demo.yaml")]
        assert main([*argv, *(f"--{key}={value}" for key, value in overrides.items()), *extra]) == 0

    fit("straight", 5)  # DFEW-mini fold 1: 9 training clips, 5 batches per epoch
    fit("first", 3)
    (last,) = (tmp_path / "first").rglob("last.ckpt")
    fit("resumed", 5, f"--ckpt_path={last}")  # the model's settings (policy_dir too) come from the checkpoint
    for weights in ("lm/model.safetensors", "towers.safetensors"):
        straight = load_file(tmp_path / "straight" / "policy" / weights)
        resumed = load_file(tmp_path / "first" / "policy" / weights)
        assert straight.keys() == resumed.keys()
        assert all(torch.equal(straight[k], resumed[k]) for k in straight), weights
