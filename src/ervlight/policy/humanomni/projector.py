"""The visual projector: three branches over the same SigLIP patch features, mixed by the instruction gate.

``video`` and ``body`` (same structure, separate weights): a RegStage per frame (``s1_*``), a Conv3d downsampler
over time and space (``sampler_*``: kernel 2, stride ``(1, 2, 2)``; its extra time step is dropped), a second
RegStage (``s2_*``) and an MLP readout (``readout_*``). ``face``: a per-patch 2-layer GELU MLP
(``mlp_2xgelu_face``) then 2x bilinear downsampling of each frame's patch grid. All three give ``T * h' * w'``
tokens in time, row, column order. Symbols: ``B`` clips, ``T`` frames, ``N = h * w`` patches, ``C`` SigLIP width,
``D`` LM width, ``V`` visual tokens.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F  # noqa: N812
from torch import nn

from ervlight.policy.humanomni.config import ProjectorConfig
from ervlight.policy.humanomni.regstage import RegStage

__all__ = ["BRANCHES", "MultiBranchProjector", "mix_branches", "mlp", "patch_side"]

#: Branch order of the gate's three weights.
BRANCHES: tuple[str, str, str] = ("video", "body", "face")


def mlp(depth: int, in_features: int, out_features: int) -> nn.Sequential:
    """``Linear(in, out)`` then ``depth - 1`` times ``GELU, Linear(out, out)`` (``mlp{depth}x_gelu``)."""
    layers: list[nn.Module] = [nn.Linear(in_features, out_features)]
    for _ in range(1, depth):
        layers += [nn.GELU(), nn.Linear(out_features, out_features)]
    return nn.Sequential(*layers)


def patch_side(num_patches: int) -> int:
    """Side of a square patch grid; a non-square count is an error."""
    side = math.isqrt(num_patches)
    if side * side != num_patches:
        raise ValueError(f"{num_patches} patches per frame do not form a square grid")
    return side


class MultiBranchProjector(nn.Module):
    """The ``video``, ``body`` and ``face`` branches (parameter names as in the released ``mm_projector``)."""

    def __init__(self, vision_width: int, hidden_size: int, config: ProjectorConfig) -> None:
        super().__init__()
        for branch in BRANCHES[:2]:
            self.add_module(f"s1_{branch}", RegStage(config.depth, vision_width, hidden_size))
            sampler = nn.Conv3d(
                hidden_size, hidden_size, kernel_size=2, stride=(1, 2, 2), padding=config.padding
            )
            self.add_module(f"sampler_{branch}", nn.Sequential(sampler, nn.SiLU()))
            self.add_module(f"s2_{branch}", RegStage(config.depth, hidden_size, hidden_size))
            self.add_module(f"readout_{branch}", mlp(config.mlp_depth, hidden_size, hidden_size))
        self.mlp_2xgelu_face = mlp(2, vision_width, hidden_size)

    def convolutional_branch(self, branch: str, features: torch.Tensor) -> torch.Tensor:
        """``video`` or ``body``: ``[B, T, N, C]`` patch features -> ``[B, V, D]`` tokens."""
        batch, frames, patches, width = features.shape
        side = patch_side(patches)
        x = features.reshape(batch * frames, side, side, width).permute(0, 3, 1, 2)  # [B*T, C, h, w]
        x = self.get_submodule(f"s1_{branch}")(x)  # [B*T, D, h, w]
        x = x.reshape(batch, frames, *x.shape[1:]).transpose(1, 2)  # [B, D, T, h, w]
        x = self.get_submodule(f"sampler_{branch}")(x)[:, :, :-1]  # [B, D, T', h', w'] last step dropped
        steps = x.shape[2]
        x = x.transpose(1, 2).flatten(0, 1)  # [B*T', D, h', w']
        x = self.get_submodule(f"s2_{branch}")(x)  # [B*T', D, h', w']
        x = x.reshape(batch, steps, *x.shape[1:]).permute(0, 1, 3, 4, 2).flatten(1, 3)  # [B, T'*h'*w', D]
        tokens: torch.Tensor = self.get_submodule(f"readout_{branch}")(x)  # [B, V, D]
        return tokens

    def face_branch(self, features: torch.Tensor) -> torch.Tensor:
        """``face``: ``[B, T, N, C]`` -> per-patch MLP -> 2x bilinear downsampling per frame -> ``[B, V, D]``."""
        batch, frames, patches, _ = features.shape
        side = patch_side(patches)
        x = self.mlp_2xgelu_face(features)  # [B, T, N, D]
        grid = x.reshape(batch * frames, side, side, -1).permute(0, 3, 1, 2)  # [B*T, D, h, w]
        half = math.ceil(side / 2)
        grid = F.interpolate(
            grid, size=(half, half), mode="bilinear", align_corners=False
        )  # [B*T, D, h/2, w/2]
        return grid.permute(0, 2, 3, 1).reshape(batch, frames * half * half, -1)  # [B, V, D]

    def forward(self, features: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """``[B, T, N, C]`` -> the ``video``, ``body`` and ``face`` tokens, each ``[B, V, D]``."""
        video = self.convolutional_branch("video", features)
        body = self.convolutional_branch("body", features)
        face = self.face_branch(features)
        if not video.shape == body.shape == face.shape:
            raise ValueError(
                f"branch token counts differ (video {tuple(video.shape)}, body {tuple(body.shape)}, face "
                f"{tuple(face.shape)}): the projector padding does not fit this patch grid"
            )
        return video, body, face


def mix_branches(branches: tuple[torch.Tensor, ...], weights: torch.Tensor) -> torch.Tensor:
    """``sum_k weights[:, k] * branches[k]``: ``K`` tensors ``[B, V, D]`` and ``[B, K]`` weights -> ``[B, V, D]``."""
    stacked = torch.stack(branches, dim=1)  # [B, K, V, D]
    return (stacked * weights.to(stacked.dtype)[:, :, None, None]).sum(1)  # [B, V, D]
