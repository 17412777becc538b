"""Fixtures of the verifier tests: tiny classifier folders, a stub verifier and a small text corpus.

* ``tiny_bert_dir`` — a bare 2-layer BERT encoder (hidden 32, random weights) with the MiniLM WordPiece
  tokenizer, saved once per session; ``VerifierModule`` puts a head on it.
* ``tiny_roberta_dir`` — a "published" RoBERTa GoEmotions classifier (multi-label, 28 labels, random
  weights) with a byte-level BPE tokenizer trained in-process.
* ``corpus_file`` — a JSONL verifier corpus in the demo schema: six emotions, one cue word per sentence;
  ``train``/``val`` use the same phrasing, ``test`` held-out templates (exact counts in the constants).
* ``StubVerifier`` — fixed probabilities per sentence, counting its calls.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch
from transformers import (
    BertConfig,
    BertModel,
    PreTrainedTokenizerFast,
    RobertaConfig,
    RobertaForSequenceClassification,
)

from ervlight.labels import GOEMOTIONS
from ervlight.verifier.backbone import default_backbone_path, label_kwargs
from verifier.helpers import corpus_rows


@pytest.fixture(scope="session")
def corpus_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The JSONL corpus."""
    path = tmp_path_factory.mktemp("corpus") / "verifier_corpus.jsonl"
    path.write_text("".join(json.dumps(row) + "\n" for row in corpus_rows()), encoding="utf-8")
    return path


@pytest.fixture(scope="session")
def tiny_bert_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A bare tiny BERT encoder with the MiniLM tokenizer."""
    from transformers import AutoTokenizer

    path = tmp_path_factory.mktemp("tiny_bert")
    tokenizer = AutoTokenizer.from_pretrained(default_backbone_path())
    torch.manual_seed(0)
    config = BertConfig(
        vocab_size=tokenizer.vocab_size,
        hidden_size=32,
        num_hidden_layers=2,
        num_attention_heads=2,
        intermediate_size=64,
        max_position_embeddings=128,
    )
    BertModel(config).save_pretrained(path)
    tokenizer.save_pretrained(path)
    return path


@pytest.fixture(scope="session")
def tiny_roberta_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A published-style RoBERTa GoEmotions classifier folder (multi-label, random weights)."""
    from tokenizers import ByteLevelBPETokenizer

    path = tmp_path_factory.mktemp("tiny_roberta")
    bpe = ByteLevelBPETokenizer()
    texts = [row["text"] for row in corpus_rows()] * 3
    bpe.train_from_iterator(texts, vocab_size=400, special_tokens=["<s>", "<pad>", "</s>", "<unk>", "<mask>"])
    tokenizer = PreTrainedTokenizerFast(
        tokenizer_object=bpe,
        bos_token="<s>",
        eos_token="</s>",
        pad_token="<pad>",
        unk_token="<unk>",
        mask_token="<mask>",
        model_max_length=64,
    )
    torch.manual_seed(0)
    config = RobertaConfig(
        vocab_size=tokenizer.vocab_size,
        hidden_size=32,
        num_hidden_layers=2,
        num_attention_heads=2,
        intermediate_size=64,
        max_position_embeddings=80,
        pad_token_id=tokenizer.pad_token_id,
        **label_kwargs(GOEMOTIONS.labels, multi_label=True),
    )
    RobertaForSequenceClassification(config).save_pretrained(path)
    tokenizer.save_pretrained(path)
    return path
