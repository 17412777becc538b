"""RegNet-Y stage blocks with timm's parameter names (``b1.conv1.conv.weight``…), without a timm dependency.

The HumanOmni projector was built with ``timm.models.regnet.RegStage(act_layer=SiLU, norm_layer=LayerNorm2d)``: each
block is a bottleneck of 1x1 conv -> depthwise 3x3 conv -> squeeze-excite -> 1x1 conv, every conv followed by a
channel LayerNorm (eps 1e-5, timm's norm-act default) and SiLU (not after the last conv), plus a shortcut (a 1x1
conv + norm when the width changes) and a final SiLU. Parameter names follow timm so released weights load as they
are. Tensors are ``[N, C, H, W]``.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F  # noqa: N812
from torch import nn

__all__ = ["Bottleneck", "ChannelNorm", "ConvNorm", "RegStage", "SqueezeExcite"]


class ChannelNorm(nn.LayerNorm):
    """LayerNorm over the channels of ``[N, C, H, W]``, optionally followed by SiLU (timm's ``LayerNormAct2d``)."""

    def __init__(self, channels: int, act: bool = True, eps: float = 1e-5) -> None:
        super().__init__(channels, eps=eps)
        self.act: nn.Module = nn.SiLU() if act else nn.Identity()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """``[N, C, H, W]`` -> same shape."""
        normed = F.layer_norm(x.permute(0, 2, 3, 1), self.normalized_shape, self.weight, self.bias, self.eps)
        return self.act(normed.permute(0, 3, 1, 2))


class ConvNorm(nn.Module):
    """A bias-free conv (``same``-style padding) then :class:`ChannelNorm` (timm's ``ConvNormAct``: ``conv``/``bn``)."""

    def __init__(
        self, in_chs: int, out_chs: int, kernel_size: int = 1, groups: int = 1, act: bool = True
    ) -> None:
        super().__init__()
        self.conv = nn.Conv2d(
            in_chs, out_chs, kernel_size, padding=(kernel_size - 1) // 2, groups=groups, bias=False
        )
        self.bn = ChannelNorm(out_chs, act=act)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """``[N, C_in, H, W]`` -> ``[N, C_out, H, W]``."""
        return self.bn(self.conv(x))


class SqueezeExcite(nn.Module):
    """Squeeze-excite: channel gates from the spatial mean (``fc1``/``fc2`` 1x1 convs, SiLU, sigmoid)."""

    def __init__(self, channels: int, reduced: int) -> None:
        super().__init__()
        self.fc1 = nn.Conv2d(channels, reduced, 1)
        self.act = nn.SiLU()
        self.fc2 = nn.Conv2d(reduced, channels, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """``[N, C, H, W]`` -> same shape, each channel scaled by its gate."""
        squeezed = x.mean((2, 3), keepdim=True)  # [N, C, 1, 1]
        return x * torch.sigmoid(self.fc2(self.act(self.fc1(squeezed))))


class Bottleneck(nn.Module):
    """One RegNet-Y block at stride 1 (bottleneck ratio 1, group size 1, squeeze-excite ratio 0.25 of the input)."""

    def __init__(self, in_chs: int, out_chs: int) -> None:
        super().__init__()
        self.conv1 = ConvNorm(in_chs, out_chs, 1)
        self.conv2 = ConvNorm(out_chs, out_chs, 3, groups=out_chs)
        self.se = SqueezeExcite(out_chs, round(in_chs * 0.25))
        self.conv3 = ConvNorm(out_chs, out_chs, 1, act=False)
        self.downsample: nn.Module = (
            ConvNorm(in_chs, out_chs, 1, act=False) if in_chs != out_chs else nn.Identity()
        )
        self.act3 = nn.SiLU()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """``[N, C_in, H, W]`` -> ``[N, C_out, H, W]``."""
        out = self.conv3(self.se(self.conv2(self.conv1(x))))
        return self.act3(out + self.downsample(x))


class RegStage(nn.Sequential):
    """``depth`` bottleneck blocks named ``b1``, ``b2``…; the first maps ``in_chs`` to ``out_chs``."""

    def __init__(self, depth: int, in_chs: int, out_chs: int) -> None:
        super().__init__()
        for index in range(depth):
            self.add_module(f"b{index + 1}", Bottleneck(in_chs if index == 0 else out_chs, out_chs))
