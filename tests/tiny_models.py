"""Sizes of the tiny TinyOmni the tests build (one place; a test changes only what it needs)."""

from __future__ import annotations

from typing import Any

#: The smallest TinyOmni the policy, task and GRPO tests train and decode with.
TINY_OMNI: dict[str, Any] = {
    "hidden_size": 32,
    "intermediate_size": 64,
    "vision_channels": 8,
    "audio_channels": 16,
    "vocab_size": 400,
}


def tiny_omni_kwargs(**overrides: Any) -> dict[str, Any]:
    """:data:`TINY_OMNI` with ``overrides`` (e.g. ``hidden_size=48``)."""
    return {**TINY_OMNI, **overrides}


#: The tiny Qwen2.5-Omni thinker (audio and vision towers, text model) the policy, scale and GRPO tests build;
#: ``vocab_size`` and the token ids come from each test's own tokenizer.
TINY_THINKER: dict[str, Any] = {
    "audio_config": {
        "num_mel_bins": 128,
        "encoder_layers": 1,
        "encoder_attention_heads": 2,
        "encoder_ffn_dim": 32,
        "d_model": 16,
        "output_dim": 32,
        "n_window": 50,
    },
    "vision_config": {
        "depth": 1,
        "hidden_size": 16,
        "intermediate_size": 32,
        "num_heads": 2,
        "out_hidden_size": 32,
        "fullatt_block_indexes": [0],
    },
    "text_config": {
        "vocab_size": 320,
        "hidden_size": 32,
        "intermediate_size": 64,
        "num_hidden_layers": 2,
        "num_attention_heads": 4,
        "num_key_value_heads": 2,
        "rope_parameters": {"rope_type": "default", "rope_theta": 10000.0, "mrope_section": [1, 1, 2]},
    },
}
