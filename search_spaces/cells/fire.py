"""SqueezeNet's fire module (Iandola et al. 2016; torchvision `squeezenet.Fire`).

A 1x1 "squeeze" conv narrows the input, then two parallel "expand" convs (1x1 and 3x3, padding 1) widen it
again and their outputs are concatenated. Every conv has a bias and a ReLU and no BatchNorm, as in the
original Caffe model and in torchvision. The output has `expand1x1_channels + expand3x3_channels` channels.
"""
from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import Tensor, nn

from search_spaces.cells.base import Cell
from search_spaces.cells.conv import conv_bn_act, conv_bn_act_cost
from search_spaces.cost import Cost, Shape
from search_spaces.errors import check_int


@dataclass(frozen=True)
class FireArgs:
    """Widths of the squeeze conv and of the two expand convs (torchvision's *_planes)."""

    squeeze_channels: int
    expand1x1_channels: int
    expand3x3_channels: int

    def __post_init__(self) -> None:
        check_int("fire", "squeeze_channels", self.squeeze_channels)
        check_int("fire", "expand1x1_channels", self.expand1x1_channels)
        check_int("fire", "expand3x3_channels", self.expand3x3_channels)


class Fire(nn.Module):
    """Squeeze 1x1, then expand 1x1 and expand 3x3 side by side, concatenated."""

    def __init__(self, in_channels: int, a: FireArgs):
        super().__init__()
        self.squeeze = conv_bn_act(in_channels, a.squeeze_channels, 1, bias=True, norm=False)
        self.expand1x1 = conv_bn_act(a.squeeze_channels, a.expand1x1_channels, 1, bias=True, norm=False)
        self.expand3x3 = conv_bn_act(a.squeeze_channels, a.expand3x3_channels, 3, bias=True, norm=False)

    def forward(self, x: Tensor) -> Tensor:
        x = self.squeeze(x)
        return torch.cat([self.expand1x1(x), self.expand3x3(x)], 1)


def _fire_build(a: FireArgs, in_channels: int) -> nn.Module:
    return Fire(in_channels, a)


def _fire_cost(a: FireArgs, shape: Shape) -> tuple[Cost, Shape]:
    squeeze, mid = conv_bn_act_cost(shape, a.squeeze_channels, 1, bias=True, norm=False)
    expand1, out1 = conv_bn_act_cost(mid, a.expand1x1_channels, 1, bias=True, norm=False)
    expand3, _ = conv_bn_act_cost(mid, a.expand3x3_channels, 3, bias=True, norm=False)
    return squeeze + expand1 + expand3, Shape(out1.c + a.expand3x3_channels, out1.h, out1.w)


CELLS = (
    Cell("fire", FireArgs, _fire_build, _fire_cost,
         "SqueezeNet fire module: squeeze 1x1, expand 1x1 and 3x3 concatenated (bias, ReLU, no BN)"),
)
