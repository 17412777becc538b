"""SFTModule: response-only loss, a tiny run that learns the format, validation metrics, saving the policy."""

from __future__ import annotations

import functools
from pathlib import Path

import lightning
import pytest
import torch
from torch.utils.data import DataLoader

from ervlight.data.batch import MediaBatch
from ervlight.policy.backbones.tiny_omni import TinyOmni
from ervlight.tasks.sft import SFTModule
from policy.media import synthetic_batch
from tiny_models import tiny_omni_kwargs

SMALL = tiny_omni_kwargs(hidden_size=48, intermediate_size=96)
LABELS = ["happy", "sad", "angry", "happy"]


def make_module(tmp_path: Path, **kwargs: object) -> SFTModule:
    """An SFTModule over a small TinyOmni with a short instruction."""
    torch.manual_seed(0)
    policy = functools.partial(TinyOmni, instruction="Which emotion?", **SMALL)
    settings: dict[str, object] = {"max_new_tokens": 24, "temperature": 0.0, "datasets": ["dfew"]}
    settings |= {"policy_dir": str(tmp_path / "policy")} | kwargs
    return SFTModule(policy, optimizer=functools.partial(torch.optim.AdamW, lr=3e-3), **settings)  # type: ignore[arg-type]


def first(items: list[MediaBatch]) -> MediaBatch:
    """Collate of a loader whose items are whole batches."""
    return items[0]


def loader(batch: MediaBatch, repeats: int) -> DataLoader[MediaBatch]:
    """A loader that yields the same batch ``repeats`` times."""
    return DataLoader([batch] * repeats, batch_size=1, collate_fn=first)  # type: ignore[arg-type]


def test_loss_covers_response_tokens_only(tmp_path: Path) -> None:
    module = make_module(tmp_path)
    batch = synthetic_batch(["happy", "sad"])
    policy = module.policy
    ids, mask = policy.tokenize_targets(batch.targets)  # type: ignore[arg-type]
    logprobs = policy.completion_logprobs(policy.encode(batch), ids, mask)
    torch.testing.assert_close(module.sft_loss(batch), -logprobs.sum() / mask.sum())
    assert mask.sum() == sum(len(policy.tokenizer(t)["input_ids"]) + 1 for t in batch.targets)  # type: ignore[arg-type]
    batch.targets = ["<think>x</think>\n<answer>sad</answer>", None]
    with pytest.raises(ValueError, match=r"clips without one: \['00001'\]"):
        module.sft_loss(batch)


def test_tiny_sft_lowers_loss_learns_format_and_saves(tmp_path: Path) -> None:
    module = make_module(tmp_path)
    batch = synthetic_batch(LABELS)
    initial = float(module.sft_loss(batch).detach())
    trainer = lightning.Trainer(
        max_epochs=1,
        accelerator="cpu",
        logger=False,
        enable_checkpointing=False,
        enable_progress_bar=False,
        enable_model_summary=False,
        gradient_clip_val=1.0,
        accumulate_grad_batches=2,
        num_sanity_val_steps=0,
        default_root_dir=tmp_path,
    )
    trainer.fit(module, train_dataloaders=loader(batch, 120), val_dataloaders=loader(batch, 1))
    final = float(module.sft_loss(batch).detach())
    assert final < initial / 4
    assert trainer.callback_metrics["val/dfew/format_rate"] == 1.0
    assert 0.0 <= float(trainer.callback_metrics["val/dfew/war"]) <= 1.0
    assert (tmp_path / "policy" / "towers.safetensors").is_file()
    reloaded = TinyOmni.from_pretrained(tmp_path / "policy")
    torch.testing.assert_close(
        reloaded.lm.model.embed_tokens.weight, module.policy.lm.model.embed_tokens.weight
    )


def test_bf16_mixed_step_runs(tmp_path: Path) -> None:
    module = make_module(tmp_path, max_new_tokens=3)
    batch = synthetic_batch(["happy", "sad"])
    trainer = lightning.Trainer(
        max_steps=2,
        accelerator="cpu",
        precision="bf16-mixed",
        logger=False,
        enable_checkpointing=False,
        enable_progress_bar=False,
        enable_model_summary=False,
        num_sanity_val_steps=0,
        default_root_dir=tmp_path,
    )
    trainer.fit(module, train_dataloaders=loader(batch, 2), val_dataloaders=loader(batch, 1))
    assert trainer.global_step == 2
    assert float(trainer.callback_metrics["val/dfew/format_rate"]) in (0.0, 0.5, 1.0)
    assert module.policy.lm.model.embed_tokens.weight.dtype == torch.float32
