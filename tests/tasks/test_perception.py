"""Perception pre-training: heads per dataset, held-out counting, and the saved policy that SFT starts from."""

from __future__ import annotations

import json
from pathlib import Path

import lightning.pytorch as pl
import pytest
import torch
from safetensors.torch import load_file
from torch.utils.data import DataLoader

from ervlight.data.batch import MediaBatch
from ervlight.policy.backbones.tiny_omni import TinyOmni
from ervlight.tasks.perception import PerceptionModule, pooled_media
from policy.media import synthetic_batch

LABELS = ["happy", "sad", "angry", "happy", "sad", "angry"]


def _policy() -> TinyOmni:
    torch.manual_seed(0)
    return TinyOmni(vocab_size=128, hidden_size=32, num_layers=1, num_heads=2, num_kv_heads=1,
                    intermediate_size=64, image_size=32, frame_input="motion")  # fmt: skip


def _loader(batch: MediaBatch, repeats: int) -> DataLoader:
    return DataLoader([batch] * repeats, batch_size=None, collate_fn=lambda item: item)


def test_pooled_media_is_the_masked_token_mean() -> None:
    policy = _policy()
    batch = synthetic_batch(LABELS[:2], frames=4, size=32)
    batch.frame_mask[1, 2:] = False
    tokens, mask = policy.encode_media(batch)  # [2, 4 + 4, 32]
    pooled = pooled_media(policy, batch)
    assert pooled.shape == (2, 32)
    torch.testing.assert_close(pooled[0], tokens[0].mean(0))
    torch.testing.assert_close(pooled[1], tokens[1][mask[1]].mean(0))
    assert int(mask[1].sum()) == 6


def test_forward_groups_by_dataset_and_rejects_unknown_ones() -> None:
    module = PerceptionModule(_policy, datasets=["dfew", "mafw"])
    batch = synthetic_batch(LABELS[:3], frames=4, size=32)
    batch.datasets = ["dfew", "mafw", "dfew"]
    out = module(batch)
    assert out["dfew"][0].shape == (2, 7)
    assert out["mafw"][0].shape == (1, 11)
    assert out["dfew"][1].tolist() == [batch.labels[0].item(), batch.labels[2].item()]
    batch.datasets = ["dfew", "ravdess", "dfew"]
    with pytest.raises(ValueError, match=r"no head for dataset\(s\) \['ravdess'\]"):
        module(batch)


def test_fit_learns_the_labels_saves_the_policy_and_the_held_out_accuracy(tmp_path: Path) -> None:
    policy = _policy()
    lm_before = {k: v.clone() for k, v in policy.lm.state_dict().items()}
    module = PerceptionModule(lambda: policy, datasets=["dfew"], policy_dir=str(tmp_path / "policy"), max_shift=0,
                              optimizer=lambda p: torch.optim.AdamW(p, lr=3e-3))  # fmt: skip
    train, held_out = (
        synthetic_batch(LABELS, frames=4, size=32),
        synthetic_batch(LABELS, frames=4, size=32, seed=1),
    )
    trainer = pl.Trainer(max_epochs=1, logger=False, enable_checkpointing=False, enable_progress_bar=False,
                         num_sanity_val_steps=0, accelerator="cpu", enable_model_summary=False)  # fmt: skip
    trainer.fit(module, _loader(train, 60), _loader(held_out, 1))
    assert module.held_out == {"dfew": {"accuracy": 100.0, "clips": 6}}
    summary = json.loads((tmp_path / "policy" / "perception.json").read_text())
    assert summary == {"held_out": {"dfew": {"accuracy": 100.0, "clips": 6}}, "epochs": 1}
    for key, value in policy.lm.state_dict().items():  # the language model is not trained
        torch.testing.assert_close(value, lm_before[key])
    loaded = TinyOmni(pretrained=str(tmp_path / "policy"))
    towers = load_file(str(next((tmp_path / "policy").glob("*.safetensors"))))
    assert not any(key.startswith("heads.") for key in towers)  # the heads stay behind
    torch.testing.assert_close(
        loaded.vision_encoder.convs[0].weight, policy.vision_encoder.convs[0].weight.detach()
    )
    assert loaded.sizes["frame_input"] == "motion"
