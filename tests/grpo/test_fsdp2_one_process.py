"""FSDP2 in one process (``ModelParallelStrategy`` over a one-rank gloo mesh): the sharded code path in the default
suite — policy and reference built in ``configure_model``, ``fully_shard`` per decoder layer and at the root, the
LoRA reference as the same shards with adapters off, the gathered save — against the same fit without sharding.

One rollout, two updates on it (``num_iterations=2``: the second sees a moved policy, so the ratio, the old
log-probs and the KL to the reference all act). A second rollout would not compare: sharded layers decode through
HF's forward, the unsharded Qwen2 through the lean decode step, and float rounding can flip a sampled token.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from functools import partial
from pathlib import Path

import pytest
import torch
from grpo_stubs import PromptData, erv_rewards, tiny_trainer
from lightning.pytorch.strategies import ModelParallelStrategy
from safetensors.torch import load_file

from ervlight.policy import CausalLMPolicy
from ervlight.tasks.grpo import GRPOModule
from ervlight.tasks.sharding import is_sharded


@pytest.fixture
def fresh_process_group() -> Iterator[None]:
    """Tear down the one-rank process group the strategy opens, so later tests run without one."""
    yield
    if torch.distributed.is_initialized():
        torch.distributed.destroy_process_group()


def _fit(root: Path, make_policy: Callable[..., CausalLMPolicy], lora: bool, sharded: bool) -> GRPOModule:
    module = GRPOModule(
        partial(make_policy, lora=lora), rewards=erv_rewards(), num_generations=2, max_completion_length=5,
        datasets=["dfew"], beta=0.04, num_iterations=2, micro_batch_size=2, log_completions_steps=0,
        policy_dir=str(root / "policy"), optimizer=partial(torch.optim.SGD, lr=0.5),
    )  # fmt: skip
    strategy = ModelParallelStrategy(data_parallel_size=1, tensor_parallel_size=1) if sharded else "auto"
    trainer = tiny_trainer(root, max_steps=2, strategy=strategy)
    trainer.fit(module, datamodule=PromptData(batch_size=2))
    assert trainer.global_step == 2  # one rollout, two updates
    return module


@pytest.mark.parametrize("lora", [True, False])
def test_one_rank_fsdp2_fit_equals_the_unsharded_fit(
    make_policy: Callable[..., CausalLMPolicy], tmp_path: Path, lora: bool, fresh_process_group: None
) -> None:
    plain = _fit(tmp_path / "plain", make_policy, lora, sharded=False)
    sharded = _fit(tmp_path / "sharded", make_policy, lora, sharded=True)
    assert is_sharded(sharded.policy)
    assert not is_sharded(plain.policy)
    assert sharded.reference_from_adapters is lora
    assert (sharded.reference is None) is lora
    if sharded.reference is not None:
        assert is_sharded(sharded.reference)  # the frozen copy is sharded like the policy
    units = [m for m in sharded.policy.modules() if is_sharded(m)]
    assert len(units) == 1 + 2  # the root and the 2 decoder layers
    folder = "adapter" if lora else "lm"
    name = "adapter_model.safetensors" if lora else "model.safetensors"
    expected = load_file(tmp_path / "plain" / "policy" / folder / name)
    actual = load_file(tmp_path / "sharded" / "policy" / folder / name)  # gathered on rank 0
    assert actual.keys() == expected.keys()
    for key, value in expected.items():
        torch.testing.assert_close(actual[key], value, rtol=0, atol=1e-6, msg=key)
