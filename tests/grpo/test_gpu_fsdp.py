"""GPU check: a bf16-mixed GRPO fit of the tiny Qwen2.5-Omni thinker under FSDP2 on one CUDA device.

``ModelParallelStrategy(data_parallel_size=1)`` shards over a one-device mesh: the same code path as 8 GPUs
(``configure_model``, ``fully_shard`` per layer, FSDP forward methods, the gathered save) without a launcher.
Run with ``pytest -m gpu`` (``benchmarks/gpu_checks.sh``).
"""

from __future__ import annotations

from functools import partial
from pathlib import Path

import pytest
import torch
from grpo_stubs import erv_rewards
from lightning.pytorch import Trainer
from lightning.pytorch.strategies import ModelParallelStrategy
from safetensors.torch import load_file
from shard_run import CLIPS, collate
from torch.utils.data import DataLoader

from ervlight.policy.backbones.qwen_omni import QwenOmniThinker
from ervlight.tasks.grpo import GRPOModule
from ervlight.tasks.sharding import is_sharded
from policy.omni_folder import build_omni_folder

pytestmark = [
    pytest.mark.gpu,
    pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device"),
]


def test_bf16_grpo_fit_with_fsdp2_on_one_gpu(tmp_path: Path) -> None:
    folder = build_omni_folder(tmp_path / "omni")
    factory = partial(
        QwenOmniThinker, str(folder), dtype="float32", frame_mean=(0.0, 0.0, 0.0), frame_std=(1.0, 1.0, 1.0)
    )
    module = GRPOModule(
        factory, rewards=erv_rewards(), num_generations=2, max_completion_length=8, datasets=["dfew"],
        micro_batch_size=2, log_completions_steps=0, gradient_checkpointing=True,
        policy_dir=str(tmp_path / "policy"), optimizer=partial(torch.optim.AdamW, lr=1e-3),
    )  # fmt: skip
    trainer = Trainer(
        accelerator="gpu", devices=1, strategy=ModelParallelStrategy(data_parallel_size=1, tensor_parallel_size=1),
        precision="bf16-mixed", max_steps=2, logger=False, enable_checkpointing=False, enable_progress_bar=False,
        num_sanity_val_steps=0, limit_val_batches=0, default_root_dir=tmp_path,
    )  # fmt: skip
    torch.cuda.reset_peak_memory_stats()
    trainer.fit(module, train_dataloaders=DataLoader(CLIPS, batch_size=4, collate_fn=collate))
    assert trainer.global_step == 2
    assert is_sharded(module.policy)
    assert module.reference is not None
    assert is_sharded(module.reference)
    assert torch.isfinite(torch.tensor(float(trainer.logged_metrics["loss"])))
    assert float(trainer.logged_metrics["kl"]) >= 0.0
    weight = next(module.policy.parameters())
    assert weight.device.type == "cuda"
    assert weight.dtype == torch.float32  # fp32 master weights, bf16 compute
    saved = load_file(tmp_path / "policy" / "lm" / "model.safetensors")
    initial = load_file(folder / "model.safetensors")
    assert sum(not torch.equal(saved[name], initial[name]) for name in initial) == len(initial) - 1
    print(f"FSDP2 bf16 GRPO step on one GPU: peak {torch.cuda.max_memory_allocated() / 2**20:.1f} MiB")
