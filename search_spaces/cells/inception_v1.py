"""Inception branches and the v1 (GoogLeNet) and v2 (BN-Inception) modules.

Every Inception module is a set of parallel branches over the same input whose outputs are concatenated.
A branch is a short sequence of steps: `Conv` (conv, BatchNorm, ReLU), `Pool` (max or average) or `Split`
(parallel convs concatenated, v3's expanded 1x3 / 3x1 ends). A cell turns its arguments into branches with
one function, and both its module (`build_branches`) and its cost (`branches_cost`) walk those same
branches, so the cost mirrors the module by construction. The v3 and v4 families reuse these helpers.

Cells here: `inception_v1`, torchvision's GoogLeNet module (1x1 | 1x1->3x3 | 1x1->"5x5" | pool->1x1, the
"5x5" kernel an argument since torchvision uses 3x3 there); `bn_inception`, the BN-Inception module of
Ioffe & Szegedy (2015) as in Cadene's `bninception` (5x5 replaced by two 3x3s, average or max pooling, a
stride-2 form without the 1x1 branch and with a pass-through pool that reduces the grid).
"""
from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any, Callable, Union

import torch
from torch import Tensor, nn

from search_spaces.cells.base import Cell
from search_spaces.cells.conv import conv_bn_act, conv_bn_act_cost
from search_spaces.cost import Cost, Shape, Size2, pool2d
from search_spaces.errors import check_choice, check_int, check_kernel, require
from search_spaces.rounding import scale_channels


@dataclass(frozen=True)
class Conv:
    """A conv-BN-ReLU step; padding None is 'same' (k // 2), 0 is the unpadded ('valid') conv."""

    out_channels: int
    kernel_size: Size2 = 1
    stride: int = 1
    padding: Size2 | None = None
    bias: bool = False  # Caffe's BN-Inception keeps a conv bias before its BN


@dataclass(frozen=True)
class Pool:
    """A max or average pooling step (no multiply-adds, keeps the channels)."""

    kind: str = "max"  # "max" or "avg"
    kernel_size: int = 3
    stride: int = 1
    padding: int = 1
    ceil_mode: bool = False
    count_include_pad: bool = True  # average pooling only: torchvision True, timm's TF ports False


@dataclass(frozen=True)
class Split:
    """Parallel branches on one input, concatenated: the expanded [1x3, 3x1] end of a v3/v4 branch."""

    branches: tuple[tuple[Any, ...], ...]


Step = Union[Conv, Pool, Split]
Branch = tuple[Step, ...]


class Concat(nn.Module):
    """Runs every branch on the same input and concatenates their outputs along the channels."""

    def __init__(self, branches: list[nn.Module]):
        super().__init__()
        self.branches = nn.ModuleList(branches)

    def forward(self, x: Tensor) -> Tensor:
        return torch.cat([branch(x) for branch in self.branches], 1)


def _pool(step: Pool) -> nn.Module:
    if step.kind == "max":
        return nn.MaxPool2d(step.kernel_size, step.stride, step.padding, ceil_mode=step.ceil_mode)
    return nn.AvgPool2d(step.kernel_size, step.stride, step.padding, step.ceil_mode, step.count_include_pad)


def branch_channels(steps: Branch, in_channels: int) -> int:
    """Channels that a branch outputs on an `in_channels` input."""
    channels = in_channels
    for step in steps:
        if isinstance(step, Conv):
            channels = step.out_channels
        elif isinstance(step, Split):
            channels = sum(branch_channels(b, channels) for b in step.branches)
    return channels


def _build_branch(steps: Branch, in_channels: int) -> nn.Sequential:
    layers: list[nn.Module] = []
    channels = in_channels
    for step in steps:
        if isinstance(step, Conv):
            layers.append(conv_bn_act(channels, step.out_channels, step.kernel_size, step.stride,
                                      padding=step.padding, bias=step.bias))
        elif isinstance(step, Pool):
            layers.append(_pool(step))
        else:
            layers.append(build_branches(step.branches, channels))
        channels = branch_channels((step,), channels)
    return nn.Sequential(*layers)


def build_branches(branches: tuple[Branch, ...], in_channels: int) -> Concat:
    """The module of parallel branches: each a Sequential of its steps, outputs concatenated."""
    return Concat([_build_branch(steps, in_channels) for steps in branches])


def _branch_cost(cell: str, steps: Branch, shape: Shape) -> tuple[Cost, Shape]:
    total = Cost()
    for step in steps:
        if isinstance(step, Conv):
            cost, shape = conv_bn_act_cost(shape, step.out_channels, step.kernel_size, step.stride,
                                           padding=step.padding, bias=step.bias)
            total += cost
        elif isinstance(step, Pool):
            shape = pool2d(shape, step.kernel_size, step.stride, step.padding, step.ceil_mode)
        else:
            cost, shape = branches_cost(cell, step.branches, shape)
            total += cost
    return total, shape


def branches_cost(cell: str, branches: tuple[Branch, ...], shape: Shape) -> tuple[Cost, Shape]:
    """Cost twin of `build_branches`; a SpecError when the branches disagree on the output size."""
    total, outs = Cost(), []
    for steps in branches:
        cost, out = _branch_cost(cell, steps, shape)
        total += cost
        outs.append(out)
    sizes = sorted({f"{o.h}x{o.w}" for o in outs})
    require(len(sizes) == 1, f"{cell} branches give different sizes {', '.join(sizes)} "
                             f"on a {shape.h}x{shape.w} input; use a size they agree on")
    return total, Shape(sum(o.c for o in outs), outs[0].h, outs[0].w)


def widen_branches(args: Any, width: float, in_old: int, in_new: int) -> Any:
    """Width-multiplier hook of every Inception cell: each branch width (the `ch*` fields, ints or tuples,
    `pool_proj` and `out_channels`) goes through the toolkit's one rounding rule; a 0 (absent branch or
    pass-through pool) stays 0. The input width needs no change: branches infer it."""

    def one(value: int) -> int:
        return value if value == 0 else scale_channels(value, width)

    changes = {}
    for field in dataclasses.fields(args):
        if field.name.startswith("ch") or field.name in ("pool_proj", "out_channels"):
            value = getattr(args, field.name)
            changes[field.name] = tuple(one(v) for v in value) if isinstance(value, tuple) else one(value)
    return dataclasses.replace(args, **changes)


def branch_cell(name: str, args: type, branches: Callable[[Any], tuple[Branch, ...]], doc: str) -> Cell:
    """A Cell whose module and cost both come from `branches(args)`, the cell's branch table."""

    def build(a: Any, in_channels: int) -> nn.Module:
        return build_branches(branches(a), in_channels)

    def cost(a: Any, shape: Shape) -> tuple[Cost, Shape]:
        return branches_cost(name, branches(a), shape)

    return Cell(name, args, build, cost, doc, widen=widen_branches)


def check_widths(cell: str, name: str, value: Any, length: int, low: int = 1) -> None:
    """A tuple of `length` branch widths, each an integer of at least `low`."""
    require(isinstance(value, tuple) and len(value) == length,
            f"{cell} {name} must be a tuple of {length} widths, got {value!r}")
    for width in value:
        check_int(cell, name, width, low)


def expanded(width: int) -> Split:
    """The expanded end of a v3/v4 branch: a 1x3 and a 3x1 conv of `width` each, side by side."""
    return Split(((Conv(width, (1, 3)),), (Conv(width, (3, 1)),)))


@dataclass(frozen=True)
class InceptionV1Args:
    """torchvision's GoogLeNet module: 1x1 | 1x1 -> 3x3 | 1x1 -> kxk | 3x3 max pool -> 1x1 projection."""

    ch1x1: int
    ch3x3: tuple[int, int]  # (1x1 reduce, 3x3)
    ch5x5: tuple[int, int]  # (1x1 reduce, kxk)
    pool_proj: int
    kernel_size: int = 5  # of the "5x5" branch; torchvision uses 3 (vision#906), the paper 5

    def __post_init__(self) -> None:
        check_int("inception_v1", "ch1x1", self.ch1x1)
        check_widths("inception_v1", "ch3x3", self.ch3x3, 2)
        check_widths("inception_v1", "ch5x5", self.ch5x5, 2)
        check_int("inception_v1", "pool_proj", self.pool_proj)
        check_kernel("inception_v1", "kernel_size", self.kernel_size)


def _v1_branches(a: InceptionV1Args) -> tuple[Branch, ...]:
    return (
        (Conv(a.ch1x1),),
        (Conv(a.ch3x3[0]), Conv(a.ch3x3[1], 3)),
        (Conv(a.ch5x5[0]), Conv(a.ch5x5[1], a.kernel_size)),
        (Pool("max", 3, 1, 1, ceil_mode=True), Conv(a.pool_proj)),
    )


@dataclass(frozen=True)
class BNInceptionArgs:
    """BN-Inception module: 1x1 | 1x1 -> 3x3 | 1x1 -> 3x3 -> 3x3 | pool -> 1x1 projection.

    With `stride=2` (modules 3c and 4e) the 1x1 branch is absent (`ch1x1=0`), the last conv of each 3x3
    branch has stride 2, and the pool is a 3x3/2 pass-through (`pool_proj=0`) that widens the output.
    """

    ch1x1: int  # 0: no 1x1 branch
    ch3x3: tuple[int, int]  # (1x1 reduce, 3x3)
    ch3x3dbl: tuple[int, int, int]  # (1x1 reduce, 3x3, 3x3)
    pool_proj: int  # 0: the pooled input passes through unprojected
    pool: str = "avg"  # "avg" or "max"
    stride: int = 1
    bias: bool = True  # the Caffe model's convs keep their bias before BN

    def __post_init__(self) -> None:
        check_int("bn_inception", "ch1x1", self.ch1x1, 0)
        check_widths("bn_inception", "ch3x3", self.ch3x3, 2)
        check_widths("bn_inception", "ch3x3dbl", self.ch3x3dbl, 3)
        check_int("bn_inception", "pool_proj", self.pool_proj, 0)
        check_choice("bn_inception", "pool", self.pool, ("avg", "max"))
        check_int("bn_inception", "stride", self.stride, 1, 2)
        require(self.stride == 1 or self.ch1x1 == 0,
                f"bn_inception stride 2 has no 1x1 branch, got ch1x1={self.ch1x1}; set ch1x1=0")


def _bn_inception_branches(a: BNInceptionArgs) -> tuple[Branch, ...]:
    s, b = a.stride, a.bias
    pool = Pool(a.pool, 3, s, 1 if s == 1 else 0, ceil_mode=True)
    branches: list[Branch] = [(Conv(a.ch1x1, bias=b),)] if a.ch1x1 else []
    branches.append((Conv(a.ch3x3[0], bias=b), Conv(a.ch3x3[1], 3, s, bias=b)))
    d = a.ch3x3dbl
    branches.append((Conv(d[0], bias=b), Conv(d[1], 3, bias=b), Conv(d[2], 3, s, bias=b)))
    branches.append((pool, Conv(a.pool_proj, bias=b)) if a.pool_proj else (pool,))
    return tuple(branches)


CELLS = (
    branch_cell("inception_v1", InceptionV1Args, _v1_branches,
                "GoogLeNet module: 1x1 | 1x1-3x3 | 1x1-kxk | maxpool-1x1, concatenated"),
    branch_cell("bn_inception", BNInceptionArgs, _bn_inception_branches,
                "BN-Inception module: 1x1 | 1x1-3x3 | 1x1-3x3-3x3 | pool(-1x1); stride 2 reduces the grid"),
)
