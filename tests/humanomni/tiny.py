"""Tiny random HumanOmni parts for the tests: config, tokenizers, a released-layout checkpoint folder."""

from __future__ import annotations

import json
from pathlib import Path

import torch
from safetensors.torch import save_file
from transformers import BertTokenizerFast, PreTrainedTokenizerFast

from ervlight.policy import train_bpe_tokenizer
from ervlight.policy.humanomni import HumanOmniConfig, HumanOmniModel
from ervlight.policy.humanomni.checkpoint import checkpoint_state

CHAT_TEMPLATE = (
    "{% for m in messages %}<|im_start|>{{ m['role'] }}\n{{ m['content'] }}<|im_end|>\n{% endfor %}"
    "{% if add_generation_prompt %}<|im_start|>assistant\n{% endif %}"
)
CORPUS = [
    "<think>The woman frowns and her voice trembles.</think>\n<answer>sad</answer>",
    "<think>He laughs loudly and smiles.</think>\n<answer>happy</answer>",
    "<vi_start><video><vi_end>\n<au_start><audio><au_end>\nWhich emotion is the most obvious to you?",
]
BERT_WORDS = ["which", "emotion", "is", "the", "most", "obvious", "to", "you", "?", "as", "an", "expert", ";"]
#: Extra keys a released checkpoint carries that are deliberately not loaded.
IGNORED_EXTRAS = {
    "model.feature_compressor.vlm_query_projector.weight": (4, 4),
    "model.audio_tower.audio_tower.projector.weight": (8, 16),
    "model.audio_tower.audio_tower.classifier.weight": (2, 8),
    "model.bert_model.embeddings.position_ids": (1, 64),
}


def lm_tokenizer() -> PreTrainedTokenizerFast:
    """A byte-level BPE tokenizer with a Qwen-style chat template."""
    tokenizer = train_bpe_tokenizer(CORPUS * 5, vocab_size=320)
    tokenizer.chat_template = CHAT_TEMPLATE
    return tokenizer


def bert_tokenizer(folder: Path) -> BertTokenizerFast:
    """A WordPiece BERT tokenizer over a few words (written to ``folder``)."""
    folder.mkdir(parents=True, exist_ok=True)
    vocab = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", *BERT_WORDS]
    (folder / "vocab.txt").write_text("\n".join(vocab) + "\n")
    return BertTokenizerFast(vocab={word: i for i, word in enumerate(vocab)}, do_lower_case=True)


def tiny_config(tokenizer: PreTrainedTokenizerFast, bert_vocab: int) -> HumanOmniConfig:
    """4x4 patches of 16 wide, a 2-layer Qwen2 of width 32, Whisper with 100 mel frames, a 1-layer BERT."""
    return HumanOmniConfig(
        text={
            "vocab_size": len(tokenizer),
            "hidden_size": 32,
            "intermediate_size": 64,
            "num_hidden_layers": 2,
            "num_attention_heads": 4,
            "num_key_value_heads": 2,
            "tie_word_embeddings": True,
            "pad_token_id": tokenizer.pad_token_id,
            "eos_token_id": tokenizer.eos_token_id,
        },
        vision={
            "hidden_size": 16,
            "intermediate_size": 32,
            "num_hidden_layers": 2,
            "num_attention_heads": 2,
            "image_size": 32,
            "patch_size": 8,
        },
        audio={
            "num_mel_bins": 8,
            "d_model": 16,
            "encoder_layers": 1,
            "encoder_attention_heads": 2,
            "encoder_ffn_dim": 32,
            "max_source_positions": 50,
        },
        bert={
            "vocab_size": bert_vocab,
            "hidden_size": 16,
            "num_hidden_layers": 1,
            "num_attention_heads": 2,
            "intermediate_size": 32,
            "max_position_embeddings": 64,
        },
        num_frames=4,
    )


def write_released(
    model: HumanOmniModel, folder: Path, tokenizer: PreTrainedTokenizerFast
) -> dict[str, torch.Tensor]:
    """Write ``model`` as a released checkpoint (2 shards + index, extra ignored keys); return the written tensors."""
    folder.mkdir(parents=True, exist_ok=True)
    state = checkpoint_state(model.state_dict(), tied=model.tied)
    state |= {key: torch.zeros(shape) for key, shape in IGNORED_EXTRAS.items()}
    keys = sorted(state)
    shards = {"model-00001-of-00002.safetensors": keys[::2], "model-00002-of-00002.safetensors": keys[1::2]}
    for name, part in shards.items():
        save_file({k: state[k] for k in part}, str(folder / name))
    weight_map = {k: name for name, part in shards.items() for k in part}
    (folder / "model.safetensors.index.json").write_text(
        json.dumps({"metadata": {}, "weight_map": weight_map})
    )
    config = model.config.to_json()
    config.pop("ervlight_encoders")  # a release keeps encoder configs in the encoders' own folders
    (folder / "config.json").write_text(json.dumps(config))
    tokenizer.save_pretrained(folder)
    return state


def write_encoder_folders(model: HumanOmniModel, root: Path, seed: int) -> tuple[Path, Path]:
    """Original SigLIP and Whisper folders (their release layouts) holding DIFFERENT random weights."""
    torch.manual_seed(seed)
    other = HumanOmniModel(model.config)
    siglip, whisper = root / "siglip", root / "whisper"
    siglip.mkdir(parents=True)
    whisper.mkdir(parents=True)
    vision = {f"vision_model.{k}": v for k, v in other.media.vision_tower.vision_tower.state_dict().items()}
    save_file(
        vision | {"text_model.embeddings.token_embedding.weight": torch.zeros(3, 4)},
        str(siglip / "model.safetensors"),
    )
    audio = {f"model.encoder.{k}": v for k, v in other.media.audio_tower.encoder.state_dict().items()}
    save_file(audio | {"model.decoder.layer_norm.weight": torch.zeros(4)}, str(whisper / "model.safetensors"))
    (siglip / "config.json").write_text(
        json.dumps({"model_type": "siglip", "vision_config": model.config.vision})
    )
    (whisper / "config.json").write_text(json.dumps(model.config.audio))
    return siglip, whisper
