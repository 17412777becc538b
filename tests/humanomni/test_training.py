"""One SFT step and one GRPO step of a tiny HumanOmni on CPU."""

from __future__ import annotations

import functools
from pathlib import Path

import lightning
import torch
from torch.utils.data import DataLoader

from ervlight.data.batch import MediaBatch
from ervlight.policy.finetune import FinetuneConfig
from ervlight.policy.humanomni import HumanOmni, HumanOmniConfig, HumanOmniModel
from humanomni.training_modules import GRPOModule, SFTModule
from policy.media import synthetic_batch


def _factory(config: HumanOmniConfig, tokenizer, bert_tok, **kwargs):  # type: ignore[no-untyped-def]
    torch.manual_seed(0)
    return functools.partial(
        lambda: HumanOmni(HumanOmniModel(config), tokenizer, bert_tok, instruction="Which emotion?",
                          frame_mean=(0.0, 0.0, 0.0), frame_std=(1.0, 1.0, 1.0), **kwargs)
    )  # fmt: skip


def _loader(batch: MediaBatch, repeats: int) -> DataLoader[MediaBatch]:
    return DataLoader([batch] * repeats, batch_size=1, collate_fn=lambda items: items[0])  # type: ignore[arg-type]


def _trainer(root: Path, steps: int) -> lightning.Trainer:
    return lightning.Trainer(
        accelerator="cpu", max_steps=steps, logger=False, enable_checkpointing=False, enable_progress_bar=False,
        enable_model_summary=False, num_sanity_val_steps=0, limit_val_batches=0, default_root_dir=root,
    )  # fmt: skip


def test_sft_step_moves_the_projector_and_lm(config, tokenizer, bert_tok, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    freeze = FinetuneConfig(mode="full", freeze=["vision_encoder", "audio_encoder"])
    module = SFTModule(_factory(config, tokenizer, bert_tok, finetune=freeze), datasets=["dfew"],
                       max_new_tokens=4, policy_dir=None,
                       optimizer=functools.partial(torch.optim.AdamW, lr=1e-2))  # fmt: skip
    batch = synthetic_batch(["happy", "sad"], frames=4, size=32, seconds=0.5)
    _trainer(tmp_path, 1).fit(module, train_dataloaders=_loader(batch, 1))
    policy = module.policy
    assert isinstance(policy, HumanOmni)
    assert all(not p.requires_grad for p in policy.media.vision_tower.parameters())
    torch.manual_seed(0)
    start = HumanOmniModel(config)
    assert not torch.equal(
        policy.media.mm_projector.readout_video[0].weight, start.media.mm_projector.readout_video[0].weight
    )
    assert torch.equal(policy.media.vision_tower.vision_tower.embeddings.patch_embedding.weight,
                       start.media.vision_tower.vision_tower.embeddings.patch_embedding.weight)  # fmt: skip


def test_grpo_step_runs_with_lora(config, tokenizer, bert_tok, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    lora = FinetuneConfig(
        mode="lora", lora_r=2, target_modules=["q_proj", "v_proj"], freeze=["vision_encoder"]
    )
    module = GRPOModule(_factory(config, tokenizer, bert_tok, finetune=lora), num_generations=2,
                        max_completion_length=4, datasets=["dfew"], policy_dir=None, log_completions_steps=0,
                        optimizer=functools.partial(torch.optim.SGD, lr=0.05))  # fmt: skip
    batch = synthetic_batch(["happy", "sad"], frames=4, size=32, seconds=0.5)
    trainer = _trainer(tmp_path, 1)
    trainer.fit(module, train_dataloaders=_loader(batch, 1))
    assert trainer.global_step == 1
    assert module.policy.has_adapters  # type: ignore[union-attr]
