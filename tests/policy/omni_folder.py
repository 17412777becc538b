"""A tiny random Qwen2.5-Omni thinker and its processor written to a folder (BPE tokenizer trained in-process)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import torch
from transformers import (
    PreTrainedTokenizerFast,
    Qwen2_5OmniProcessor,
    Qwen2_5OmniThinkerConfig,
    Qwen2_5OmniThinkerForConditionalGeneration,
    WhisperFeatureExtractor,
)
from transformers.models.qwen2_vl import Qwen2VLImageProcessor
from transformers.models.qwen2_vl.video_processing_qwen2_vl import Qwen2VLVideoProcessor

from ervlight.policy import train_bpe_tokenizer
from tiny_models import TINY_THINKER

MEDIA_TOKENS = {
    "image_token": "<|IMAGE|>",
    "video_token": "<|VIDEO|>",
    "audio_token": "<|AUDIO|>",
    "vision_bos_token": "<|vision_bos|>",
    "vision_eos_token": "<|vision_eos|>",
    "audio_bos_token": "<|audio_bos|>",
    "audio_eos_token": "<|audio_eos|>",
}


def build_omni_folder(folder: Path) -> Path:
    """Write a tiny random thinker (2 text layers, 1 vision block, 1 audio layer) and its processor to ``folder``."""
    base = train_bpe_tokenizer(["<think>The face is sad.</think>\n<answer>sad</answer>"] * 5, vocab_size=300)
    base.add_special_tokens({"additional_special_tokens": list(MEDIA_TOKENS.values())})  # type: ignore[dict-item]
    base.save_pretrained(folder / "tokenizer")
    tokenizer = PreTrainedTokenizerFast.from_pretrained(
        folder / "tokenizer", extra_special_tokens=MEDIA_TOKENS
    )
    processor = Qwen2_5OmniProcessor(
        image_processor=Qwen2VLImageProcessor(min_pixels=28 * 28, max_pixels=56 * 56),
        video_processor=Qwen2VLVideoProcessor(
            min_pixels=28 * 28, max_pixels=56 * 56, cap_pixels_per_frame=True
        ),
        feature_extractor=WhisperFeatureExtractor(feature_size=128, chunk_length=1),
        tokenizer=tokenizer,
    )
    processor.save_pretrained(folder)
    token: Any = tokenizer.convert_tokens_to_ids
    text = {
        **TINY_THINKER["text_config"],
        "vocab_size": len(tokenizer),
        "pad_token_id": tokenizer.pad_token_id,
    }
    config = Qwen2_5OmniThinkerConfig(
        audio_config=TINY_THINKER["audio_config"],
        vision_config=TINY_THINKER["vision_config"],
        text_config=text,
        audio_token_index=token("<|AUDIO|>"),
        video_token_index=token("<|VIDEO|>"),
        image_token_index=token("<|IMAGE|>"),
        audio_start_token_id=token("<|audio_bos|>"),
        audio_end_token_id=token("<|audio_eos|>"),
    )
    torch.manual_seed(0)
    Qwen2_5OmniThinkerForConditionalGeneration(config).save_pretrained(folder)
    return folder
