"""Fixtures: a seeded tiny HumanOmni policy (eval prompt style) and its tokenizers."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
from transformers import BertTokenizerFast, PreTrainedTokenizerFast

from ervlight.policy.humanomni import HumanOmni, HumanOmniConfig, HumanOmniModel
from humanomni.tiny import bert_tokenizer, lm_tokenizer, tiny_config


@pytest.fixture(scope="session")
def tokenizer() -> PreTrainedTokenizerFast:
    """The tiny LM tokenizer."""
    return lm_tokenizer()


@pytest.fixture(scope="session")
def bert_tok(tmp_path_factory: pytest.TempPathFactory) -> BertTokenizerFast:
    """The tiny BERT tokenizer."""
    return bert_tokenizer(tmp_path_factory.mktemp("bert"))


@pytest.fixture(scope="session")
def config(tokenizer: PreTrainedTokenizerFast, bert_tok: BertTokenizerFast) -> HumanOmniConfig:
    """The tiny config."""
    return tiny_config(tokenizer, len(bert_tok))


@pytest.fixture
def policy(
    config: HumanOmniConfig, tokenizer: PreTrainedTokenizerFast, bert_tok: BertTokenizerFast
) -> HumanOmni:
    """A seeded tiny HumanOmni in eval mode (frames normalised as [0, 1], 4 per clip)."""
    torch.manual_seed(0)
    return HumanOmni(
        HumanOmniModel(config),
        tokenizer,
        bert_tok,
        instruction="Which emotion is the most obvious to you?",
        frame_mean=(0.0, 0.0, 0.0),
        frame_std=(1.0, 1.0, 1.0),
    ).eval()


@pytest.fixture
def folder(tmp_path: Path) -> Path:
    """A scratch folder."""
    return tmp_path
