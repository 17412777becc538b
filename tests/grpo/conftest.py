"""Tiny policies and trainers for the GRPO module tests (tokenizer trained and models built in-process)."""

from __future__ import annotations

from collections.abc import Callable
from functools import partial
from typing import Any

import pytest
import torch
from grpo_stubs import erv_rewards
from transformers import PreTrainedTokenizerFast

from ervlight.policy import CausalLMPolicy, FinetuneConfig, tiny_qwen2, train_bpe_tokenizer
from ervlight.tasks.grpo import GRPOModule

CORPUS = [
    "<think>He smiles and laughs.</think>\n<answer>happy</answer>",
    "<think>She frowns and cries.</think>\n<answer>sad</answer>",
    "<think>He shouts at them.</think>\n<answer>angry</answer>",
    "Describe a smiling face. Describe a crying face. Describe a calm face.",
]


@pytest.fixture(scope="session")
def tokenizer() -> PreTrainedTokenizerFast:
    """A byte-level BPE tokenizer trained on a few R1-format lines."""
    return train_bpe_tokenizer(CORPUS * 5, vocab_size=300)


@pytest.fixture
def make_policy(tokenizer: PreTrainedTokenizerFast) -> Callable[..., CausalLMPolicy]:
    """Build a seeded 2-layer Qwen2 policy (``lora=True`` for LoRA adapters)."""

    def build(lora: bool = False, seed: int = 0) -> CausalLMPolicy:
        torch.manual_seed(seed)
        model = tiny_qwen2(tokenizer, hidden_size=32, intermediate_size=64)
        finetune = (
            FinetuneConfig(mode="lora", lora_r=4, target_modules=["q_proj", "v_proj"]) if lora else None
        )
        return CausalLMPolicy(model, tokenizer, finetune=finetune)

    return build


@pytest.fixture
def make_module(make_policy: Callable[..., CausalLMPolicy]) -> Callable[..., GRPOModule]:
    """Build a tiny GRPOModule (G = 2, 6 new tokens, SGD lr 0.05) with keyword overrides."""

    def build(lora: bool = False, **overrides: Any) -> GRPOModule:
        settings: dict[str, Any] = {
            "rewards": erv_rewards(),
            "num_generations": 2,
            "max_completion_length": 6,
            "datasets": ["dfew"],
            "policy_dir": None,
            "log_completions_steps": 1,
            "num_completions_to_print": 3,
            "optimizer": partial(torch.optim.SGD, lr=0.05),
        }
        settings.update(overrides)
        return GRPOModule(make_policy(lora=lora), **settings)

    return build
