"""HetConv (Singh et al., CVPR 2019): heterogeneous kernels inside one convolution layer.

Each filter of a HetConv layer with part P sees its M input channels through 3x3 kernels for M/P of them
and 1x1 kernels for the other M - M/P, so it costs N * (9 * M/P + M - M/P) * H * W multiply-adds
instead of N * 9 * M * H * W. We build it from two grouped convs that PyTorch counts exactly that way:

- a 3x3 conv with groups=P: output group g sees input group g (M/P channels) through 3x3 kernels;
- a 1x1 conv with groups=P over a rearranged input in which output group g sees the other P - 1 input
  groups (rolled copies of the grouped input; rearranging costs no multiply-adds).

Filters of output group g all put their 3x3 kernels on input group g: the paper shifts the 3x3 positions
from filter to filter, which changes which channels meet which kernel but not the cost or the parameter
count. Cells: `hetconv` (HetConv, BN, activation). The bottleneck cell takes `conv="hetconv", part=P`.
"""
from __future__ import annotations

from collections import OrderedDict
from dataclasses import dataclass

import torch
from torch import Tensor, nn

from search_spaces.cells.base import Cell
from search_spaces.cells.conv import ACTIVATIONS, activation
from search_spaces.cost import Cost, Shape, conv2d, norm2d
from search_spaces.errors import check_choice, check_int, require

MAX_PART = 64


class HetConv2d(nn.Module):
    """A HetConv layer with part P: 3x3 kernels on 1/P of each filter's inputs, 1x1 on the rest (no bias)."""

    def __init__(self, in_channels: int, out_channels: int, part: int, stride: int = 1):
        super().__init__()
        self.part = part
        self.conv3x3 = nn.Conv2d(in_channels, out_channels, 3, stride, 1, groups=part, bias=False)
        self.conv1x1 = None
        if part > 1:
            others = in_channels // part * (part - 1)  # the channels of the other P - 1 groups
            self.conv1x1 = nn.Conv2d(others * part, out_channels, 1, stride, 0, groups=part, bias=False)

    def forward(self, x: Tensor) -> Tensor:
        out = self.conv3x3(x)
        if self.conv1x1 is None:
            return out
        n, c, h, w = x.shape
        grouped = x.reshape(n, self.part, c // self.part, h, w)
        # shift s puts input group (g + s) mod P at position g, so output group g gets every group but g
        others = torch.stack([torch.roll(grouped, -s, dims=1) for s in range(1, self.part)], dim=2)
        return out + self.conv1x1(others.reshape(n, -1, h, w))


def hetconv_cost(shape: Shape, out_channels: int, part: int, stride: int = 1) -> tuple[Cost, Shape]:
    """Cost twin of HetConv2d; SpecError when the part does not divide both channel counts."""
    require(shape.c % part == 0, f"hetconv part={part} must divide in_channels={shape.c}")
    require(out_channels % part == 0, f"hetconv part={part} must divide out_channels={out_channels}")
    cost, out = conv2d(shape, out_channels, 3, stride, groups=part)
    if part > 1:
        others = Shape(shape.c // part * (part - 1) * part, shape.h, shape.w)
        cost_1x1, _ = conv2d(others, out_channels, 1, stride, groups=part)
        cost += cost_1x1
    return cost, out


@dataclass(frozen=True)
class HetConvArgs:
    """A HetConv layer followed by BatchNorm and an activation; `part=1` is a plain 3x3 conv."""

    out_channels: int
    part: int = 4  # P: each filter uses 3x3 kernels on 1/P of its input channels and 1x1 on the rest
    stride: int = 1
    activation: str = "relu"

    def __post_init__(self) -> None:
        check_int("hetconv", "out_channels", self.out_channels)
        check_int("hetconv", "part", self.part, 1, MAX_PART)
        check_int("hetconv", "stride", self.stride, 1, 8)
        check_choice("hetconv", "activation", self.activation, ACTIVATIONS)
        require(self.out_channels % self.part == 0,
                f"hetconv part={self.part} must divide out_channels={self.out_channels}")


def _hetconv_build(a: HetConvArgs, in_channels: int) -> nn.Module:
    layers: OrderedDict[str, nn.Module] = OrderedDict()
    layers["conv"] = HetConv2d(in_channels, a.out_channels, a.part, a.stride)
    layers["bn"] = nn.BatchNorm2d(a.out_channels)
    if a.activation != "none":
        layers["act"] = activation(a.activation)
    return nn.Sequential(layers)


def _hetconv_cost(a: HetConvArgs, shape: Shape) -> tuple[Cost, Shape]:
    cost, out = hetconv_cost(shape, a.out_channels, a.part, a.stride)
    return cost + norm2d(out), out


CELLS = (
    Cell("hetconv", HetConvArgs, _hetconv_build, _hetconv_cost,
         "HetConv: 3x3 kernels on 1/P of each filter's inputs, 1x1 on the rest; BN, activation"),
)
