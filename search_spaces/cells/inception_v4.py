"""Inception-v4 and Inception-ResNet-v2 modules (Szegedy et al. 2017), as timm ports them from TF-slim.

The 35x35 / 17x17 modules and both grid reductions share v3's structure (`inception_a`, `inception_b`,
`reduction_a`, `reduction_b` in inception_v3.py). The cells here are the rest:
- `inception_v4_stem_pool`: a 3x3/2 conv beside a 3x3/2 max pool (v4 stem mixed_3a and mixed_5a);
- `inception_v4_stem_conv`: 1x1 -> 3x3 | 1x1 -> 1x7 -> 7x1 -> 3x3, unpadded 3x3s (v4 stem mixed_4a);
- `inception_v4_c`: 1x1 | 1x1 -> [1x3, 3x1] | 1x1 -> 3x1 -> 1x3 -> [1x3, 3x1] | avg pool -> 1x1;
- `inception_resnet_a`: Inception-ResNet-v2's block35, 1x1 | 1x1 -> 3x3 | 1x1 -> 3x3 -> 3x3, then a 1x1
  conv (with bias) back to the input width, scaled and added to the input, then ReLU;
- `inception_resnet_b`: block17 (n=7, the paper's Inception-ResNet-B) and block8 (n=3, its
  Inception-ResNet-C): 1x1 | 1x1 -> 1xn -> nx1, the same residual tail;
- `inception_resnet_reduction_b`: mixed_7a, 1x1 -> 3x3/2 | 1x1 -> 3x3/2 | 1x1 -> 3x3 -> 3x3/2 | max pool.
"""
from __future__ import annotations

from dataclasses import dataclass

from torch import Tensor, nn

from search_spaces.cells.base import Cell
from search_spaces.cells.conv import ACTIVATIONS, activation
from search_spaces.cells.inception_v1 import (
    Branch,
    Conv,
    Pool,
    branch_cell,
    branch_channels,
    branches_cost,
    build_branches,
    check_widths,
    expanded,
    widen_branches,
)
from search_spaces.cost import Cost, Shape, conv2d
from search_spaces.errors import check_choice, check_float, check_int, check_kernel


@dataclass(frozen=True)
class StemPoolArgs:
    """A 3x3/2 unpadded conv beside a 3x3/2 max pool; `pool_first` orders the concatenation as timm."""

    out_channels: int  # of the conv; the pool passes the input channels through
    pool_first: bool = True  # mixed_3a: pool then conv; mixed_5a: conv then pool

    def __post_init__(self) -> None:
        check_int("inception_v4_stem_pool", "out_channels", self.out_channels)


def _stem_pool_branches(a: StemPoolArgs) -> tuple[Branch, ...]:
    conv: Branch = (Conv(a.out_channels, 3, 2, 0),)
    pool: Branch = (Pool("max", 3, 2, 0),)
    return (pool, conv) if a.pool_first else (conv, pool)


@dataclass(frozen=True)
class StemConvArgs:
    """Two conv towers ending in unpadded 3x3s: 1x1 -> 3x3 | 1x1 -> 1xn -> nx1 -> 3x3."""

    ch3x3: tuple[int, int]  # (1x1 reduce, 3x3)
    ch7x7: tuple[int, int, int, int]  # (1x1 reduce, 1xn, nx1, 3x3)
    kernel_size: int = 7

    def __post_init__(self) -> None:
        check_widths("inception_v4_stem_conv", "ch3x3", self.ch3x3, 2)
        check_widths("inception_v4_stem_conv", "ch7x7", self.ch7x7, 4)
        check_kernel("inception_v4_stem_conv", "kernel_size", self.kernel_size)


def _stem_conv_branches(a: StemConvArgs) -> tuple[Branch, ...]:
    n, d = a.kernel_size, a.ch7x7
    return (
        (Conv(a.ch3x3[0]), Conv(a.ch3x3[1], 3, 1, 0)),
        (Conv(d[0]), Conv(d[1], (1, n)), Conv(d[2], (n, 1)), Conv(d[3], 3, 1, 0)),
    )


@dataclass(frozen=True)
class InceptionV4CArgs:
    """8x8 module: 1x1 | 1x1 -> [1x3, 3x1] | 1x1 -> 3x1 -> 1x3 -> [1x3, 3x1] | 3x3 avg pool -> 1x1."""

    ch1x1: int
    ch3x3: tuple[int, int]  # (1x1 reduce, width of each of 1x3 and 3x1)
    ch3x3dbl: tuple[int, int, int, int]  # (1x1 reduce, 3x1, 1x3, width of each of 1x3 and 3x1)
    pool_proj: int
    count_include_pad: bool = False  # timm / TF-slim exclude the padding from the average

    def __post_init__(self) -> None:
        check_int("inception_v4_c", "ch1x1", self.ch1x1)
        check_widths("inception_v4_c", "ch3x3", self.ch3x3, 2)
        check_widths("inception_v4_c", "ch3x3dbl", self.ch3x3dbl, 4)
        check_int("inception_v4_c", "pool_proj", self.pool_proj)


def _v4_c_branches(a: InceptionV4CArgs) -> tuple[Branch, ...]:
    d = a.ch3x3dbl
    return (
        (Conv(a.ch1x1),),
        (Conv(a.ch3x3[0]), expanded(a.ch3x3[1])),
        (Conv(d[0]), Conv(d[1], (3, 1)), Conv(d[2], (1, 3)), expanded(d[3])),
        (Pool("avg", 3, 1, 1, count_include_pad=a.count_include_pad), Conv(a.pool_proj)),
    )


@dataclass(frozen=True)
class ResnetReductionBArgs:
    """Grid reduction: 1x1 -> 3x3/2 | 1x1 -> 3x3/2 | 1x1 -> 3x3 -> 3x3/2 | 3x3/2 max pool."""

    ch3x3_a: tuple[int, int]  # (1x1 reduce, 3x3/2)
    ch3x3_b: tuple[int, int]  # (1x1 reduce, 3x3/2)
    ch3x3dbl: tuple[int, int, int]  # (1x1 reduce, 3x3, 3x3/2)

    def __post_init__(self) -> None:
        check_widths("inception_resnet_reduction_b", "ch3x3_a", self.ch3x3_a, 2)
        check_widths("inception_resnet_reduction_b", "ch3x3_b", self.ch3x3_b, 2)
        check_widths("inception_resnet_reduction_b", "ch3x3dbl", self.ch3x3dbl, 3)


def _resnet_reduction_b_branches(a: ResnetReductionBArgs) -> tuple[Branch, ...]:
    d = a.ch3x3dbl
    return (
        (Conv(a.ch3x3_a[0]), Conv(a.ch3x3_a[1], 3, 2, 0)),
        (Conv(a.ch3x3_b[0]), Conv(a.ch3x3_b[1], 3, 2, 0)),
        (Conv(d[0]), Conv(d[1], 3), Conv(d[2], 3, 2, 0)),
        (Pool("max", 3, 2, 0),),
    )


class InceptionResidual(nn.Module):
    """Branches concatenated, a 1x1 conv (with bias) back to the input width, `x + scale * that`, then
    the activation (Inception-ResNet-v2's block35 / block17 / block8)."""

    def __init__(self, branches: nn.Module, mid_channels: int, channels: int, scale: float, act: str):
        super().__init__()
        self.branches = branches
        self.conv = nn.Conv2d(mid_channels, channels, 1)
        self.scale = scale
        self.act = activation(act)

    def forward(self, x: Tensor) -> Tensor:
        return self.act(x + self.scale * self.conv(self.branches(x)))

    def zero_init_last(self) -> None:
        """Zero the 1x1 conv that closes the residual branch (it has no norm), so the block starts as act(x)."""
        nn.init.zeros_(self.conv.weight)


def _residual_build(branches: tuple[Branch, ...], in_channels: int, scale: float, act: str) -> nn.Module:
    module = build_branches(branches, in_channels)
    mid = sum(branch_channels(steps, in_channels) for steps in branches)
    return InceptionResidual(module, mid, in_channels, scale, act)


def _residual_cost(cell: str, branches: tuple[Branch, ...], shape: Shape) -> tuple[Cost, Shape]:
    cost, mid = branches_cost(cell, branches, shape)
    up, out = conv2d(mid, shape.c, 1, bias=True)
    return cost + up, out


def _check_residual(cell: str, scale: float, act: str) -> None:
    check_float(cell, "scale", scale, 0.0, 10.0)
    check_choice(cell, "activation", act, ACTIVATIONS)


@dataclass(frozen=True)
class ResnetAArgs:
    """block35: 1x1 | 1x1 -> 3x3 | 1x1 -> 3x3 -> 3x3, 1x1 back to the input width, scaled residual."""

    ch1x1: int
    ch3x3: tuple[int, int]  # (1x1 reduce, 3x3)
    ch3x3dbl: tuple[int, int, int]  # (1x1 reduce, 3x3, 3x3)
    scale: float = 0.17
    activation: str = "relu"

    def __post_init__(self) -> None:
        check_int("inception_resnet_a", "ch1x1", self.ch1x1)
        check_widths("inception_resnet_a", "ch3x3", self.ch3x3, 2)
        check_widths("inception_resnet_a", "ch3x3dbl", self.ch3x3dbl, 3)
        _check_residual("inception_resnet_a", self.scale, self.activation)


def _resnet_a_branches(a: ResnetAArgs) -> tuple[Branch, ...]:
    d = a.ch3x3dbl
    return ((Conv(a.ch1x1),), (Conv(a.ch3x3[0]), Conv(a.ch3x3[1], 3)), (Conv(d[0]), Conv(d[1], 3), Conv(d[2], 3)))


def _resnet_a_build(a: ResnetAArgs, in_channels: int) -> nn.Module:
    return _residual_build(_resnet_a_branches(a), in_channels, a.scale, a.activation)


def _resnet_a_cost(a: ResnetAArgs, shape: Shape) -> tuple[Cost, Shape]:
    return _residual_cost("inception_resnet_a", _resnet_a_branches(a), shape)


@dataclass(frozen=True)
class ResnetBArgs:
    """block17 (n=7) and block8 (n=3): 1x1 | 1x1 -> 1xn -> nx1, 1x1 back to the input width, scaled
    residual; the last block8 has scale 1 and no activation."""

    ch1x1: int
    ch_factorised: tuple[int, int, int]  # (1x1 reduce, 1xn, nx1)
    kernel_size: int = 7
    scale: float = 0.1
    activation: str = "relu"

    def __post_init__(self) -> None:
        check_int("inception_resnet_b", "ch1x1", self.ch1x1)
        check_widths("inception_resnet_b", "ch_factorised", self.ch_factorised, 3)
        check_kernel("inception_resnet_b", "kernel_size", self.kernel_size)
        _check_residual("inception_resnet_b", self.scale, self.activation)


def _resnet_b_branches(a: ResnetBArgs) -> tuple[Branch, ...]:
    n, f = a.kernel_size, a.ch_factorised
    return ((Conv(a.ch1x1),), (Conv(f[0]), Conv(f[1], (1, n)), Conv(f[2], (n, 1))))


def _resnet_b_build(a: ResnetBArgs, in_channels: int) -> nn.Module:
    return _residual_build(_resnet_b_branches(a), in_channels, a.scale, a.activation)


def _resnet_b_cost(a: ResnetBArgs, shape: Shape) -> tuple[Cost, Shape]:
    return _residual_cost("inception_resnet_b", _resnet_b_branches(a), shape)


CELLS = (
    branch_cell("inception_v4_stem_pool", StemPoolArgs, _stem_pool_branches,
                "Inception-v4 stem: 3x3/2 conv beside 3x3/2 max pool"),
    branch_cell("inception_v4_stem_conv", StemConvArgs, _stem_conv_branches,
                "Inception-v4 stem: 1x1-3x3 | 1x1-1x7-7x1-3x3, unpadded 3x3s"),
    branch_cell("inception_v4_c", InceptionV4CArgs, _v4_c_branches,
                "Inception-v4 8x8 module with expanded [1x3, 3x1] outputs"),
    branch_cell("inception_resnet_reduction_b", ResnetReductionBArgs, _resnet_reduction_b_branches,
                "Inception-ResNet-v2 grid reduction (mixed_7a)"),
    Cell("inception_resnet_a", ResnetAArgs, _resnet_a_build, _resnet_a_cost,
         "Inception-ResNet-v2 block35: three branches, 1x1 up, scaled residual", widen=widen_branches),
    Cell("inception_resnet_b", ResnetBArgs, _resnet_b_build, _resnet_b_cost,
         "Inception-ResNet-v2 block17 / block8: 1x1 | 1x1-1xn-nx1, 1x1 up, scaled residual",
         widen=widen_branches),
)
