"""Attention options shared by the block cells: squeeze-and-excitation and CBAM-style spatial attention.

Not cells on their own: residual, MBConv and other blocks take them as options, and call these modules
and their cost twins so that every family counts attention the same way.
"""
from __future__ import annotations

import torch
from torch import Tensor, nn

from search_spaces.cells.conv import activation
from search_spaces.cost import Cost, Shape, Tally, conv2d, norm2d


class SqueezeExcite(nn.Module):
    """Global average pool, 1x1 conv (bias) to `squeeze_channels`, activation, 1x1 conv (bias) back, gate,
    then rescale the input: torchvision's SqueezeExcitation and timm's SEModule."""

    def __init__(self, channels: int, squeeze_channels: int, activation_name: str = "relu", gate: str = "sigmoid"):
        super().__init__()
        self.pool = nn.AdaptiveAvgPool2d(1)
        self.fc1 = nn.Conv2d(channels, squeeze_channels, 1)
        self.act = activation(activation_name)
        self.fc2 = nn.Conv2d(squeeze_channels, channels, 1)
        self.gate = activation(gate)

    def forward(self, x: Tensor) -> Tensor:
        return x * self.gate(self.fc2(self.act(self.fc1(self.pool(x)))))


def se_cost(shape: Shape, squeeze_channels: int) -> Cost:
    """Cost twin of SqueezeExcite on a `shape` feature map (the rescale multiply is not counted)."""
    tally = Tally(shape)
    tally.squeeze_excite(squeeze_channels)
    return tally.result()[0]


class SpatialAttention(nn.Module):
    """CBAM's spatial gate: channel-wise mean and max, a 7x7 conv to one map with BN, sigmoid, rescale."""

    def __init__(self, kernel_size: int = 7):
        super().__init__()
        self.conv = nn.Conv2d(2, 1, kernel_size, padding=kernel_size // 2, bias=False)
        self.bn = nn.BatchNorm2d(1)

    def forward(self, x: Tensor) -> Tensor:
        pooled = torch.cat([x.mean(dim=1, keepdim=True), x.amax(dim=1, keepdim=True)], dim=1)
        return x * torch.sigmoid(self.bn(self.conv(pooled)))


def spatial_attention_cost(shape: Shape, kernel_size: int = 7) -> Cost:
    """Cost twin of SpatialAttention."""
    cost, out = conv2d(Shape(2, shape.h, shape.w), 1, kernel_size)
    return cost + norm2d(out)
