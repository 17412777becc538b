"""A byte-level BPE tokenizer trained in-process on the training text (no hub download), saved with checkpoints."""

from __future__ import annotations

from collections.abc import Iterable

from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
from transformers import PreTrainedTokenizerFast

__all__ = ["FORMAT_TOKENS", "SPECIAL_TOKENS", "train_bpe_tokenizer"]

#: Special tokens of the built-in chat template (Qwen names): padding, turn start, turn end (= EOS).
SPECIAL_TOKENS: tuple[str, str, str] = ("<|endoftext|>", "<|im_start|>", "<|im_end|>")
#: The R1 format tags, kept as single (non-special, so decoded) tokens.
FORMAT_TOKENS: tuple[str, ...] = ("<think>", "</think>", "<answer>", "</answer>")


def train_bpe_tokenizer(
    texts: Iterable[str], vocab_size: int = 1024, min_frequency: int = 2
) -> PreTrainedTokenizerFast:
    """Train a byte-level BPE tokenizer on ``texts``: pad ``<|endoftext|>``, EOS ``<|im_end|>``, R1 tags as tokens.

    Byte-level: any text round-trips, words unseen in training fall back to bytes.
    """
    tokenizer = Tokenizer(models.BPE())
    tokenizer.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tokenizer.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(
        vocab_size=vocab_size,
        min_frequency=min_frequency,
        special_tokens=list(SPECIAL_TOKENS),
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
        show_progress=False,
    )
    tokenizer.train_from_iterator(list(texts), trainer=trainer)
    fast = PreTrainedTokenizerFast(
        tokenizer_object=tokenizer,
        pad_token=SPECIAL_TOKENS[0],
        eos_token=SPECIAL_TOKENS[2],
        additional_special_tokens=[SPECIAL_TOKENS[1]],
    )
    fast.add_tokens(list(FORMAT_TOKENS))
    return fast
