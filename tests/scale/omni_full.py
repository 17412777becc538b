"""A tiny full Qwen2.5-Omni config (thinker + talker + token2wav) for export tests."""

from __future__ import annotations

from typing import Any

from tiny_models import TINY_THINKER

TALKER: dict[str, Any] = {
    "vocab_size": 64,
    "embedding_size": 32,
    "hidden_size": 32,
    "intermediate_size": 64,
    "num_hidden_layers": 1,
    "num_attention_heads": 2,
    "num_key_value_heads": 1,
    "head_dim": 16,
    "rope_parameters": {"rope_type": "default", "rope_theta": 10000.0, "mrope_section": [2, 3, 3]},
    "tts_codec_start_token_id": 60,
    "tts_codec_end_token_id": 61,
    "tts_codec_pad_token_id": 62,
    "tts_codec_mask_token_id": 63,
}
TOKEN2WAV: dict[str, Any] = {
    "dit_config": {
        "hidden_size": 32,
        "num_hidden_layers": 2,
        "num_attention_heads": 2,
        "head_dim": 16,
        "emb_dim": 16,
        "num_embeds": 64,
        "enc_emb_dim": 16,
        "enc_dim": 16,
        "enc_channels": [16, 16, 16, 16, 48],
        "enc_attention_channels": 8,
        "enc_se_channels": 8,
        "look_ahead_layers": [1],
        "look_backward_layers": [0],
    },
    "bigvgan_config": {
        "upsample_initial_channel": 32,
        "upsample_rates": [2, 2],
        "upsample_kernel_sizes": [4, 4],
        "resblock_kernel_sizes": [3],
        "resblock_dilation_sizes": [[1, 3, 5]],
    },
}
THINKER: dict[str, Any] = TINY_THINKER
