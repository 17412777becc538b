"""``HumanOmniMedia``: every HumanOmni part but the language model, under the checkpoint's module names.

``vision_tower`` -> ``mm_projector`` (three branches) mixed by ``bert_model`` + ``bert_gate`` -> ``[B, V, D]``
visual tokens; ``audio_tower`` -> ``audio_projector`` -> ``[B, A, D]`` audio tokens. Symbols as in
:mod:`ervlight.policy.humanomni.encoders`; ``D`` is the LM width.
"""

from __future__ import annotations

import torch
from torch import nn

from ervlight.policy.humanomni.config import HumanOmniConfig
from ervlight.policy.humanomni.encoders import (
    GateInputs,
    SiglipTower,
    WhisperTower,
    branch_weights,
    build_bert,
    gate_mlp,
)
from ervlight.policy.humanomni.projector import BRANCHES, MultiBranchProjector, mix_branches, mlp

__all__ = ["HumanOmniMedia"]


class HumanOmniMedia(nn.Module):
    """The vision, audio and gate parts of HumanOmni (random weights; load them with :mod:`.checkpoint`).

    Args:
        config: sizes of every part.
        hidden_size: the language model's width ``D``.
    """

    def __init__(self, config: HumanOmniConfig, hidden_size: int) -> None:
        super().__init__()
        vision, audio, bert = config.vision_config(), config.audio_config(), config.bert_config()
        self.vision_tower = SiglipTower(vision, config.vision_select_layer)
        self.mm_projector = MultiBranchProjector(vision.hidden_size, hidden_size, config.projector)
        self.bert_model = build_bert(bert)
        self.bert_gate = gate_mlp(bert.hidden_size, config.gate_hidden_size, config.num_branches)
        self.audio_tower = WhisperTower(audio, config.audio_pool)
        self.audio_projector = mlp(2, audio.d_model, hidden_size)

    def branch_weights(self, gate_inputs: GateInputs) -> torch.Tensor:
        """``[B, 3]`` weights of the video, body and face branches for each instruction."""
        return branch_weights(self.bert_model, self.bert_gate, gate_inputs)

    def visual_tokens(
        self, pixels: torch.Tensor, gate_inputs: GateInputs, branch: str | None = None
    ) -> torch.Tensor:
        """``[B, T, 3, H, W]`` frames -> ``[B, V, D]`` gate-weighted visual tokens.

        ``branch`` (``video``, ``body`` or ``face``) forces the gate to that branch alone (for ablations).
        """
        features = self.vision_tower(pixels)  # [B, T, N, C]
        branches = self.mm_projector(features)  # 3 x [B, V, D]
        if branch is None:
            weights = self.branch_weights(gate_inputs)  # [B, 3]
        elif branch in BRANCHES:
            weights = nn.functional.one_hot(
                torch.full((pixels.shape[0],), BRANCHES.index(branch), device=pixels.device), len(BRANCHES)
            ).float()  # [B, 3]
        else:
            raise ValueError(f"unknown branch {branch!r}; expected one of {list(BRANCHES)}")
        return mix_branches(branches, weights)  # [B, V, D]

    def audio_tokens(self, features: torch.Tensor) -> torch.Tensor:
        """``[B, M, F]`` Whisper log-mel features -> ``[B, A, D]`` audio tokens."""
        tokens: torch.Tensor = self.audio_projector(self.audio_tower(features))  # [B, A, D]
        return tokens
