"""The three encoders, as the checkpoint names them: SigLIP (``vision_tower.vision_tower``), Whisper's encoder
(``audio_tower.audio_tower.encoder``) and the BERT instruction gate (``bert_model`` + ``bert_gate``).

The wrappers only add the reference's read-out: SigLIP's ``select_layer`` hidden state with every patch (SigLIP has
no CLS token), Whisper's last hidden state average-pooled over time, BERT's first ([CLS]) vector through a 2-layer
GELU MLP and a softmax over the branches. Symbols: ``B`` clips, ``T`` frames, ``N`` patches, ``C`` SigLIP width,
``M`` mel bins, ``F`` mel frames, ``A`` audio tokens, ``E`` Whisper width, ``K`` branches.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F  # noqa: N812
from torch import nn
from transformers import BertConfig, BertModel, SiglipVisionConfig, SiglipVisionModel, WhisperConfig
from transformers.models.whisper.modeling_whisper import WhisperEncoder

__all__ = ["GateInputs", "SiglipTower", "WhisperTower", "branch_weights", "build_bert", "gate_mlp"]

#: The BERT tokenizer's outputs the gate takes (``input_ids``, ``attention_mask``, ``token_type_ids``), ``[B, S]``.
GateInputs = dict[str, torch.Tensor]


class SiglipTower(nn.Module):
    """SigLIP's vision model (``self.vision_tower``) read out at ``select_layer``: frames -> ``[B, T, N, C]``."""

    def __init__(self, config: SiglipVisionConfig, select_layer: int = -2) -> None:
        super().__init__()
        self.vision_tower = SiglipVisionModel(config)
        self.select_layer = select_layer

    @property
    def patches_per_side(self) -> int:
        """Patch grid side (224 / 16 = 14 for base-patch16-224)."""
        return self.image_size // int(self.vision_tower.config.patch_size)  # type: ignore[arg-type]

    @property
    def image_size(self) -> int:
        """Side of the square input frames (224 for base-patch16-224)."""
        return int(self.vision_tower.config.image_size)  # type: ignore[arg-type]

    def forward(self, pixels: torch.Tensor) -> torch.Tensor:
        """``[B, T, 3, H, W]`` SigLIP-normalised frames -> ``[B, T, N, C]`` patch features."""
        batch, frames = pixels.shape[:2]
        dtype = self.vision_tower.embeddings.patch_embedding.weight.dtype
        outputs = self.vision_tower(pixel_values=pixels.flatten(0, 1).to(dtype), output_hidden_states=True)
        hidden: torch.Tensor = outputs.hidden_states[self.select_layer]  # [B*T, N, C]
        return hidden.reshape(batch, frames, *hidden.shape[1:])  # [B, T, N, C]


class WhisperTower(nn.Module):
    """Whisper's encoder (``self.encoder``), frames average-pooled by ``pool``: ``[B, M, F]`` -> ``[B, A, E]``.

    The reference wraps ``WhisperForAudioClassification``, so the checkpoint also holds that class's unused
    ``projector``/``classifier`` weights; they are ignored when loading (see :mod:`.checkpoint`).
    """

    def __init__(self, config: WhisperConfig, pool: int = 3) -> None:
        super().__init__()
        self.encoder = WhisperEncoder(config)
        self.pool = pool

    @property
    def num_mel_frames(self) -> int:
        """Mel frames Whisper expects (3000 for 30 s: twice ``max_source_positions``)."""
        return int(self.encoder.config.max_source_positions * 2)

    def forward(self, features: torch.Tensor) -> torch.Tensor:
        """``[B, M, F]`` log-mel (``F`` = :attr:`num_mel_frames`) -> ``[B, A, E]`` pooled encoder states."""
        if features.shape[-1] != self.num_mel_frames:
            raise ValueError(
                f"Whisper features have {features.shape[-1]} frames, the encoder expects {self.num_mel_frames} "
                "(pad or cut to 30 s as WhisperFeatureExtractor does)"
            )
        dtype = self.encoder.conv1.weight.dtype
        hidden = self.encoder(features.to(dtype)).last_hidden_state  # [B, F/2, E]
        pooled = F.avg_pool1d(hidden.transpose(1, 2), kernel_size=self.pool, stride=self.pool)  # [B, E, A]
        return pooled.transpose(1, 2)  # [B, A, E]


def gate_mlp(bert_width: int, hidden: int, branches: int) -> nn.Sequential:
    """``Linear(bert_width, hidden), GELU, Linear(hidden, branches)`` (``bert_gate.0`` and ``bert_gate.2``)."""
    return nn.Sequential(nn.Linear(bert_width, hidden), nn.GELU(), nn.Linear(hidden, branches))


def build_bert(config: BertConfig) -> BertModel:
    """The gate's BERT encoder, pooler included (the checkpoint carries its weights)."""
    return BertModel(config, add_pooling_layer=True)


def branch_weights(bert: BertModel, gate: nn.Module, inputs: GateInputs) -> torch.Tensor:
    """Softmax of the gate MLP on BERT's [CLS] vector: ``[B, K]`` branch weights that sum to 1."""
    hidden = bert(**inputs).last_hidden_state  # [B, S, H]
    logits: torch.Tensor = gate(hidden[:, 0])  # [B, K]
    return logits.softmax(dim=-1)
