"""Tiny tokenizers and language models for the policy tests (trained and built in-process)."""

from __future__ import annotations

import pytest
import torch
from transformers import PreTrainedTokenizerFast

from ervlight.policy import CausalLMPolicy, tiny_qwen2, train_bpe_tokenizer

CORPUS = [
    "<think>The woman frowns and her voice trembles. She looks down.</think>\n<answer>sad</answer>",
    "<think>He laughs loudly and smiles at his friend.</think>\n<answer>happy</answer>",
    "<think>Her brows are lowered and she shouts.</think>\n<answer>angry</answer>",
    "As an emotional recognition expert; which emotion is the most obvious to you?",
]


@pytest.fixture(scope="session")
def tokenizer() -> PreTrainedTokenizerFast:
    """A byte-level BPE tokenizer trained on a few R1-format lines."""
    return train_bpe_tokenizer(CORPUS * 5, vocab_size=320)


@pytest.fixture
def text_policy(tokenizer: PreTrainedTokenizerFast) -> CausalLMPolicy:
    """A seeded 2-layer Qwen2 behind the policy interface, in eval mode."""
    torch.manual_seed(0)
    return CausalLMPolicy(tiny_qwen2(tokenizer, hidden_size=32, intermediate_size=64), tokenizer).eval()
