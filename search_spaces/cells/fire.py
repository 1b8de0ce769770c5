"""SqueezeNet's fire module (Iandola et al. 2016; torchvision `squeezenet.Fire`).

A 1x1 "squeeze" conv narrows the input, then two parallel "expand" convs (1x1 and 3x3, padding 1) widen it
again and their outputs are concatenated. Every conv has a bias and a ReLU and no BatchNorm, as in the
original Caffe model and in torchvision; `norm` adds a BatchNorm after each conv (before its ReLU), and
`bypass` adds the input to the output where their widths agree (the paper's "simple bypass", section 6:
SqueezeNet with it was 2.9 points more accurate on ImageNet). The output has `expand1x1_channels +
expand3x3_channels` channels.
"""
from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import Tensor, nn

from search_spaces.cells.base import Cell, optional_field
from search_spaces.cells.conv import conv_bn_act, conv_bn_act_cost
from search_spaces.cost import Cost, Shape
from search_spaces.errors import check_int


@dataclass(frozen=True)
class FireArgs:
    """Widths of the squeeze conv and of the two expand convs (torchvision's *_planes), and whether each conv
    is followed by a BatchNorm (SqueezeNet has none)."""

    squeeze_channels: int
    expand1x1_channels: int
    expand3x3_channels: int
    norm: bool = optional_field(False)
    bypass: bool = optional_field(False)

    def __post_init__(self) -> None:
        check_int("fire", "squeeze_channels", self.squeeze_channels)
        check_int("fire", "expand1x1_channels", self.expand1x1_channels)
        check_int("fire", "expand3x3_channels", self.expand3x3_channels)


class Fire(nn.Module):
    """Squeeze 1x1, then expand 1x1 and expand 3x3 side by side, concatenated (plus the input with `bypass`
    where the widths agree)."""

    def __init__(self, in_channels: int, a: FireArgs):
        super().__init__()
        self.bypass = a.bypass and in_channels == a.expand1x1_channels + a.expand3x3_channels
        self.squeeze = conv_bn_act(in_channels, a.squeeze_channels, 1, bias=True, norm=a.norm)
        self.expand1x1 = conv_bn_act(a.squeeze_channels, a.expand1x1_channels, 1, bias=True, norm=a.norm)
        self.expand3x3 = conv_bn_act(a.squeeze_channels, a.expand3x3_channels, 3, bias=True, norm=a.norm)

    def forward(self, x: Tensor) -> Tensor:
        y = self.squeeze(x)
        y = torch.cat([self.expand1x1(y), self.expand3x3(y)], 1)
        return x + y if self.bypass else y

    def zero_init_last(self) -> None:
        """With the bypass and BN: zero both expand norms' scales, so the module starts as the identity."""
        if self.bypass and hasattr(self.expand1x1, "bn"):
            nn.init.zeros_(self.expand1x1.bn.weight)
            nn.init.zeros_(self.expand3x3.bn.weight)


def _fire_build(a: FireArgs, in_channels: int) -> nn.Module:
    return Fire(in_channels, a)


def _fire_cost(a: FireArgs, shape: Shape) -> tuple[Cost, Shape]:
    squeeze, mid = conv_bn_act_cost(shape, a.squeeze_channels, 1, bias=True, norm=a.norm)
    expand1, out1 = conv_bn_act_cost(mid, a.expand1x1_channels, 1, bias=True, norm=a.norm)
    expand3, _ = conv_bn_act_cost(mid, a.expand3x3_channels, 3, bias=True, norm=a.norm)
    return squeeze + expand1 + expand3, Shape(out1.c + a.expand3x3_channels, out1.h, out1.w)


CELLS = (
    Cell("fire", FireArgs, _fire_build, _fire_cost,
         "SqueezeNet fire module: squeeze 1x1, expand 1x1 and 3x3 concatenated (bias, ReLU; BN, bypass optional)"),
)
