"""Small Qwen2-style causal LMs built from a transformers config (random weights, no download)."""

from __future__ import annotations

from transformers import PreTrainedTokenizerBase, Qwen2Config, Qwen2ForCausalLM

__all__ = ["tiny_qwen2"]


def tiny_qwen2(
    tokenizer: PreTrainedTokenizerBase,
    hidden_size: int = 64,
    num_layers: int = 2,
    num_heads: int = 4,
    num_kv_heads: int = 2,
    intermediate_size: int = 128,
    max_positions: int = 2048,
    tie_embeddings: bool = True,
) -> Qwen2ForCausalLM:
    """A randomly initialised Qwen2 causal LM sized by the arguments, with the tokenizer's vocabulary and ids."""
    config = Qwen2Config(
        vocab_size=len(tokenizer),
        hidden_size=hidden_size,
        num_hidden_layers=num_layers,
        num_attention_heads=num_heads,
        num_key_value_heads=num_kv_heads,
        intermediate_size=intermediate_size,
        max_position_embeddings=max_positions,
        tie_word_embeddings=tie_embeddings,
        pad_token_id=tokenizer.pad_token_id,
        eos_token_id=tokenizer.eos_token_id,
        bos_token_id=None,
    )
    return Qwen2ForCausalLM(config)
