"""Res2Net's bottleneck (Gao et al., TPAMI 2019), as in timm's Bottle2neck and the official code.

The first 1x1 conv widens to `scale * split_channels`; the result is split into `scale` groups of
`split_channels`. Splits 1..scale-1 each go through a 3x3 conv + BN + ReLU; in an ordinary block split i
first adds the previous split's output (the hierarchical residual), and the last split passes through
untouched. In a stage-first block (`stage_first`, the official `stype='stage'`, which timm uses whenever
the block strides or projects) the splits do not add up, each 3x3 carries the stride, and the last split
is 3x3 average-pooled with the stride (padding 1) instead. The splits are concatenated, a 1x1 conv + BN
restores `out_channels`, and the shortcut (cells/residual.py) is added before the final ReLU.
"""
from __future__ import annotations

import dataclasses
from collections import OrderedDict
from dataclasses import dataclass

import torch
from torch import Tensor, nn

from search_spaces.cells.base import Cell
from search_spaces.cells.conv import conv_bn_act, conv_bn_act_cost
from search_spaces.cells.residual import (
    ResidualBlock,
    check_flag,
    shortcut,
    shortcut_cost,
)
from search_spaces.cost import Cost, Shape
from search_spaces.errors import check_int, require


class Res2Split(nn.Module):
    """The multi-scale middle of the block: split, hierarchical 3x3 convs, (pool the last), concatenate."""

    def __init__(self, split_channels: int, scale: int, stride: int, groups: int, stage_first: bool):
        super().__init__()
        self.split_channels = split_channels
        self.stage_first = stage_first
        self.convs = nn.ModuleList(
            conv_bn_act(split_channels, split_channels, 3, stride, groups) for _ in range(scale - 1))
        self.pool = nn.AvgPool2d(3, stride, 1) if stage_first else nn.Identity()

    def forward(self, x: Tensor) -> Tensor:
        splits = torch.split(x, self.split_channels, dim=1)
        outs: list[Tensor] = []
        for i, conv in enumerate(self.convs):
            outs.append(conv(splits[i] if i == 0 or self.stage_first else outs[-1] + splits[i]))
        outs.append(self.pool(splits[-1]))
        return torch.cat(outs, dim=1)


@dataclass(frozen=True)
class Res2NetArgs:
    """A Res2Net bottleneck; timm's res2net50_26w_4s has split_channels = 26 * planes / 64, scale 4."""

    out_channels: int
    split_channels: int  # width of each of the `scale` splits (timm's `width`)
    scale: int = 4  # number of splits; scale - 1 of them get a 3x3 conv
    stride: int = 1  # on the 3x3 convs and the last split's pooling
    groups: int = 1  # of the 3x3 convs (Res2NeXt cardinality)
    stage_first: bool = False  # independent splits, last split average-pooled (the first block of a stage)
    projection: bool | None = None  # None: 1x1 conv + BN shortcut when the stride or width changes

    def __post_init__(self) -> None:
        check_int("res2net", "out_channels", self.out_channels)
        check_int("res2net", "split_channels", self.split_channels)
        check_int("res2net", "scale", self.scale, 2, 16)
        check_int("res2net", "stride", self.stride, 1, 8)
        check_int("res2net", "groups", self.groups)
        check_flag("res2net", "stage_first", self.stage_first)
        check_flag("res2net", "projection", self.projection, optional=True)
        require(self.split_channels % self.groups == 0,
                f"res2net groups={self.groups} must divide split_channels={self.split_channels}")
        require(self.stride == 1 or self.stage_first,
                f"res2net stride={self.stride} needs stage_first=True (the last split must be pooled)")


def _res2net_build(a: Res2NetArgs, in_channels: int) -> nn.Module:
    wide = a.split_channels * a.scale
    body = nn.Sequential(OrderedDict(
        conv1=conv_bn_act(in_channels, wide, 1),
        splits=Res2Split(a.split_channels, a.scale, a.stride, a.groups, a.stage_first),
        conv3=conv_bn_act(wide, a.out_channels, 1, activation_name="none"),
    ))
    return ResidualBlock(body, shortcut(a.projection, in_channels, a.out_channels, a.stride), "conv3.bn")


def _res2net_cost(a: Res2NetArgs, shape: Shape) -> tuple[Cost, Shape]:
    cost, x = conv_bn_act_cost(shape, a.split_channels * a.scale, 1)
    split = Shape(a.split_channels, x.h, x.w)
    c, y = conv_bn_act_cost(split, a.split_channels, 3, a.stride, a.groups)
    cost += c * (a.scale - 1)  # the pooled (or passed-through) last split has the same size as y
    c, out = conv_bn_act_cost(Shape(x.c, y.h, y.w), a.out_channels, 1)
    cost += c
    return cost + shortcut_cost("res2net", a.projection, shape, out, a.stride), out


def _copy(args: Res2NetArgs) -> Res2NetArgs:
    """Blocks 2..n of a row: ordinary (hierarchical) blocks at stride 1 with the automatic shortcut."""
    return dataclasses.replace(args, stride=1, stage_first=False, projection=None)


CELLS = (
    Cell("res2net", Res2NetArgs, _res2net_build, _res2net_cost,
         "Res2Net bottleneck: hierarchical 3x3 convs over scale splits, shortcut", repeat=_copy),
)
