"""DenseNet cells (Huang et al. 2017, DenseNet-BC; torchvision `densenet.py`).

`dense`: a dense block of `layers` pre-activation bottleneck layers. Layer i sees the concatenation of
the block input and the i earlier layer outputs, and runs BN-ReLU-1x1 conv (to `bottleneck_channels`,
torchvision's `bn_size * growth_rate`) then BN-ReLU-3x3 conv (to `growth_rate`); convs have no bias. The
block outputs the input and every layer's output concatenated: `in_channels + layers * growth_rate`.
`dense_transition`: BN-ReLU-1x1 conv (no bias) to `out_channels`, then 2x2 average pooling with stride 2.
"""
from __future__ import annotations

import dataclasses
import math
from collections import OrderedDict
from dataclasses import dataclass

import torch
from torch import Tensor, nn

from search_spaces.cells.base import Cell
from search_spaces.cost import Cost, Shape, conv2d, norm2d, pool2d
from search_spaces.errors import check_int
from search_spaces.rounding import scale_channels

MAX_LAYERS = 128


@dataclass(frozen=True)
class DenseArgs:
    """A dense block: how many layers, how many channels each adds, and its bottleneck width."""

    layers: int
    growth_rate: int = 32
    bottleneck_channels: int = 128  # width of each layer's 1x1 conv: bn_size (4) * growth_rate

    def __post_init__(self) -> None:
        check_int("dense", "layers", self.layers, 1, MAX_LAYERS)
        check_int("dense", "growth_rate", self.growth_rate)
        check_int("dense", "bottleneck_channels", self.bottleneck_channels)


def dense_layer(in_channels: int, bottleneck_channels: int, growth_rate: int) -> nn.Sequential:
    """BN-ReLU-1x1 conv-BN-ReLU-3x3 conv: one layer of a dense block (torchvision's _DenseLayer)."""
    return nn.Sequential(OrderedDict(
        norm1=nn.BatchNorm2d(in_channels),
        relu1=nn.ReLU(inplace=True),
        conv1=nn.Conv2d(in_channels, bottleneck_channels, 1, bias=False),
        norm2=nn.BatchNorm2d(bottleneck_channels),
        relu2=nn.ReLU(inplace=True),
        conv2=nn.Conv2d(bottleneck_channels, growth_rate, 3, padding=1, bias=False),
    ))


def dense_layer_cost(shape: Shape, bottleneck_channels: int, growth_rate: int) -> tuple[Cost, Shape]:
    """Cost twin of `dense_layer`; returns the cost and the new features' shape (growth_rate channels)."""
    cost = norm2d(shape)
    squeeze, mid = conv2d(shape, bottleneck_channels, 1)
    grow, out = conv2d(mid, growth_rate, 3)
    return cost + squeeze + norm2d(mid) + grow, out


class DenseBlock(nn.Module):
    """Each layer reads the concatenation of all earlier feature maps; the block returns all of them."""

    def __init__(self, in_channels: int, a: DenseArgs):
        super().__init__()
        self.layers = nn.ModuleList(
            dense_layer(in_channels + i * a.growth_rate, a.bottleneck_channels, a.growth_rate)
            for i in range(a.layers)
        )

    def forward(self, x: Tensor) -> Tensor:
        features = [x]
        for layer in self.layers:
            features.append(layer(torch.cat(features, 1)))
        return torch.cat(features, 1)


def _dense_widen(a: DenseArgs, width: float, in_old: int, in_new: int) -> DenseArgs:
    """Width multiplier: the growth rate and the bottleneck scale; the layer count is kept."""

    return dataclasses.replace(a, growth_rate=scale_channels(a.growth_rate, width),
                               bottleneck_channels=scale_channels(a.bottleneck_channels, width))


def _dense_build(a: DenseArgs, in_channels: int) -> nn.Module:
    return DenseBlock(in_channels, a)


def _dense_cost(a: DenseArgs, shape: Shape) -> tuple[Cost, Shape]:
    """The sum of `dense_layer_cost` over the layers, in closed form: layer i reads c + i * growth
    channels, so the input widths sum to L * c + growth * L(L-1)/2 (a 100-layer block is one formula, not
    100 walks; tests hold it to the layer-by-layer sum and to FlopCounterMode)."""
    layers, growth, bottleneck, area = a.layers, a.growth_rate, a.bottleneck_channels, shape.h * shape.w
    inputs = layers * shape.c + growth * layers * (layers - 1) // 2  # sum of the layers' input widths
    grow = bottleneck * growth * 9  # the 3x3 conv's weights, the same in every layer
    macs = inputs * bottleneck * area + layers * grow * area
    params = 2 * inputs + inputs * bottleneck + layers * (2 * bottleneck + grow)  # BN, 1x1, BN, 3x3
    acts = layers * (bottleneck + growth) * area
    return Cost(macs, params, acts), Shape(shape.c + layers * growth, shape.h, shape.w)


@dataclass(frozen=True)
class TransitionArgs:
    """A transition between dense blocks: the 1x1 conv's width (DenseNet-BC halves the channels)."""

    out_channels: int

    def __post_init__(self) -> None:
        check_int("dense_transition", "out_channels", self.out_channels)


def _transition_widen(a: TransitionArgs, width: float, in_old: int, in_new: int) -> TransitionArgs:
    """Width multiplier: the compression (out / in) is kept, floored as DenseNet floors it."""
    return TransitionArgs(max(1, in_new * a.out_channels // in_old))


def _transition_build(a: TransitionArgs, in_channels: int) -> nn.Module:
    return nn.Sequential(OrderedDict(
        norm=nn.BatchNorm2d(in_channels),
        relu=nn.ReLU(inplace=True),
        conv=nn.Conv2d(in_channels, a.out_channels, 1, bias=False),
        pool=nn.AvgPool2d(2, 2),
    ))


def _transition_cost(a: TransitionArgs, shape: Shape) -> tuple[Cost, Shape]:
    conv, out = conv2d(shape, a.out_channels, 1)
    return norm2d(shape) + conv, pool2d(out, 2, 2)


def _dense_deepen(a: DenseArgs, depth: float) -> DenseArgs:
    """A dense block's depth is its layer count: ceil(layers * depth), as repeats are elsewhere."""
    return dataclasses.replace(a, layers=math.ceil(a.layers * depth))


CELLS = (
    Cell("dense", DenseArgs, _dense_build, _dense_cost,
         "DenseNet-BC dense block: BN-ReLU-1x1-BN-ReLU-3x3 layers, each output concatenated", widen=_dense_widen,
         deepen=_dense_deepen),
    Cell("dense_transition", TransitionArgs, _transition_build, _transition_cost,
         "DenseNet transition: BN-ReLU-1x1 conv, 2x2 average pool", widen=_transition_widen),
)
