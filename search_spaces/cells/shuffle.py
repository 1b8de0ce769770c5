"""ShuffleNet units: v1 (Zhang et al. 2018) and v2 (Ma et al. 2018), both with explicit branch widths.

`shuffle_v1` (Megvii `ShuffleNetV1/blocks.py`): grouped 1x1 conv to `mid_channels` (BN, ReLU), channel
shuffle, 3x3 depthwise conv (BN, no ReLU), grouped 1x1 conv (BN). At stride 1 the input is added and ReLU
follows; at stride 2 the main branch makes `out_channels - in_channels` channels, is ReLU'd and concatenated
after a 3x3/2 average-pooled copy of the input. `ungrouped_first` leaves the first 1x1 ungrouped (Megvii's
very first unit of stage 2, whose 24-channel input is too narrow to split).

`shuffle_v2` (torchvision `shufflenetv2.InvertedResidual`, Megvii `ShuffleNetV2/blocks.py`): at stride 1
the input is split in half, one half passes through and the other runs 1x1 (BN, ReLU) - 3x3 depthwise (BN)
- 1x1 (BN, ReLU); at stride 2 the whole input feeds both a projection branch (3x3/2 depthwise, BN, 1x1 to
`proj_channels`, BN, ReLU) and the main branch. The main branch makes the remaining channels, the two are
concatenated and shuffled in 2 groups. torchvision's downsampling unit splits `out_channels` in half
(`proj_channels = out_channels // 2`); Megvii's keeps the input width (`proj_channels = in_channels`).

`channel_shuffle` is torchvision's (view as groups x channels per group, transpose). Megvii's v2 shuffles
before splitting rather than after concatenating, and its v1 reshape is the inverse permutation: the same
networks up to a fixed channel order, with the same cost.
"""
from __future__ import annotations

import dataclasses
from collections import OrderedDict
from dataclasses import dataclass

import torch
from torch import Tensor, nn

from search_spaces.cells.base import Cell
from search_spaces.cells.conv import conv_bn_act, conv_bn_act_cost
from search_spaces.cost import Cost, Shape, pool2d
from search_spaces.errors import check_choice, check_int, check_kernel, require
from search_spaces.rounding import make_divisible, scale_channels


def channel_shuffle(x: Tensor, groups: int) -> Tensor:
    """Interleave the channels of `groups` groups (a reshape and a transpose: no arithmetic)."""
    n, c, h, w = x.shape
    return x.view(n, groups, c // groups, h, w).transpose(1, 2).reshape(n, c, h, w)


def _check_common(cell: str, out_channels: int, mid_channels: int, stride: int, kernel_size: int) -> None:
    check_int(cell, "out_channels", out_channels)
    check_int(cell, "mid_channels", mid_channels)
    check_choice(cell, "stride", stride, (1, 2))
    check_kernel(cell, "kernel_size", kernel_size)


@dataclass(frozen=True)
class ShuffleV1Args:
    """A ShuffleNet v1 unit; `out_channels` is the unit's output width (concatenation included)."""

    out_channels: int
    mid_channels: int  # bottleneck width, a multiple of groups (Megvii: out_channels // 4)
    groups: int = 3
    stride: int = 1
    kernel_size: int = 3
    ungrouped_first: bool = False  # first 1x1 not grouped (Megvii: the first unit of stage 2 only)

    def __post_init__(self) -> None:
        _check_common("shuffle_v1", self.out_channels, self.mid_channels, self.stride, self.kernel_size)
        check_int("shuffle_v1", "groups", self.groups, 1, 64)
        require(self.mid_channels % self.groups == 0,
                f"shuffle_v1 groups={self.groups} must divide mid_channels={self.mid_channels}")


def _v1_repeat(a: ShuffleV1Args) -> ShuffleV1Args:
    """Copies 2..n of a row: stride 1 and a grouped first 1x1."""
    return dataclasses.replace(a, stride=1, ungrouped_first=False)


def _v1_widen(a: ShuffleV1Args, width: float, in_old: int, in_new: int) -> ShuffleV1Args:
    """Width multiplier keeping the unit valid: widths scale to multiples of the groups; a stride-1 unit
    outputs its input width, a stride-2 unit its new input plus the scaled main branch."""

    def scaled(value: int) -> int:
        return value if width == 1.0 else make_divisible(value * width, a.groups)

    out = in_new if a.stride == 1 else in_new + scaled(a.out_channels - in_old)
    return dataclasses.replace(a, out_channels=out, mid_channels=scaled(a.mid_channels))


def _v1_in_divisor(a: ShuffleV1Args) -> int:
    """Input widths must be multiples of the groups: a stride-2 unit concatenates its input with a main
    branch of a multiple of the groups, and the grouped units after it take the sum."""
    return a.groups


def _v1_main_channels(a: ShuffleV1Args, in_channels: int) -> int:
    """Width of the main branch's output; raises SpecError when the input does not fit the unit."""
    first_groups = 1 if a.ungrouped_first else a.groups
    require(in_channels % first_groups == 0,
            f"shuffle_v1 groups={a.groups} must divide in_channels={in_channels} (or set ungrouped_first)")
    if a.stride == 1:
        require(a.out_channels == in_channels, f"shuffle_v1 stride 1 adds its input: "
                f"out_channels={a.out_channels} must equal in_channels={in_channels}")
        return a.out_channels
    main = a.out_channels - in_channels
    require(main > 0, f"shuffle_v1 stride 2 concatenates its input: "
            f"out_channels={a.out_channels} must exceed in_channels={in_channels}")
    require(main % a.groups == 0,
            f"shuffle_v1 groups={a.groups} must divide out_channels - in_channels = {main}")
    return main


class ShuffleV1(nn.Module):
    """Grouped 1x1, shuffle, depthwise, grouped 1x1; residual add (stride 1) or pooled concat (stride 2)."""

    def __init__(self, in_channels: int, a: ShuffleV1Args):
        super().__init__()
        main = _v1_main_channels(a, in_channels)
        self.groups, self.stride = a.groups, a.stride
        self.reduce = conv_bn_act(in_channels, a.mid_channels, 1, groups=1 if a.ungrouped_first else a.groups)
        self.depthwise = conv_bn_act(a.mid_channels, a.mid_channels, a.kernel_size, a.stride,
                                     groups=a.mid_channels, activation_name="none")
        self.expand = conv_bn_act(a.mid_channels, main, 1, groups=a.groups, activation_name="none")
        self.relu = nn.ReLU(inplace=True)
        self.pool = nn.AvgPool2d(3, 2, 1) if a.stride == 2 else None

    def forward(self, x: Tensor) -> Tensor:
        y = self.expand(self.depthwise(channel_shuffle(self.reduce(x), self.groups)))
        if self.pool is None:
            return self.relu(y + x)
        return torch.cat([self.pool(x), self.relu(y)], 1)

    def zero_init_last(self) -> None:
        """At stride 1 (the residual unit): zero the last BN scale, so the unit starts as relu(x)."""
        if self.pool is None:
            nn.init.zeros_(self.expand.bn.weight)


def _v1_build(a: ShuffleV1Args, in_channels: int) -> nn.Module:
    return ShuffleV1(in_channels, a)


def _v1_cost(a: ShuffleV1Args, shape: Shape) -> tuple[Cost, Shape]:
    main = _v1_main_channels(a, shape.c)
    reduce, mid = conv_bn_act_cost(shape, a.mid_channels, 1, groups=1 if a.ungrouped_first else a.groups)
    depthwise, mid = conv_bn_act_cost(mid, a.mid_channels, a.kernel_size, a.stride, groups=a.mid_channels)
    expand, out = conv_bn_act_cost(mid, main, 1, groups=a.groups)
    if a.stride == 2:
        pooled = pool2d(shape, 3, 2, 1)
        require((pooled.h, pooled.w) == (out.h, out.w), f"shuffle_v1 branches disagree: {pooled} vs {out}")
    return reduce + depthwise + expand, Shape(a.out_channels, out.h, out.w)


@dataclass(frozen=True)
class ShuffleV2Args:
    """A ShuffleNet v2 unit; `out_channels` is the unit's output width (both branches together)."""

    out_channels: int
    mid_channels: int  # main branch width (torchvision and Megvii: out_channels // 2)
    stride: int = 1
    proj_channels: int | None = None  # stride 2 only: projection branch output (tv out // 2, Megvii in)
    kernel_size: int = 3

    def __post_init__(self) -> None:
        _check_common("shuffle_v2", self.out_channels, self.mid_channels, self.stride, self.kernel_size)
        require(self.out_channels % 2 == 0,
                f"shuffle_v2 out_channels must be even (shuffled in 2 groups), got {self.out_channels}")
        if self.stride == 1:
            require(self.proj_channels is None,
                    "shuffle_v2 proj_channels is for stride 2 only; leave it None at stride 1")
        else:
            require(self.proj_channels is not None,
                    "shuffle_v2 stride 2 needs proj_channels (out_channels // 2 or in_channels)")
            check_int("shuffle_v2", "proj_channels", self.proj_channels)


def _v2_repeat(a: ShuffleV2Args) -> ShuffleV2Args:
    """Copies 2..n of a row: stride 1, no projection branch."""
    return dataclasses.replace(a, stride=1, proj_channels=None)


def _v2_widen(a: ShuffleV2Args, width: float, in_old: int, in_new: int) -> ShuffleV2Args:
    """Width multiplier keeping the split: a width that was half the output stays half of the new output,
    a projection as wide as the input (Megvii) stays as wide as the new input, others scale."""

    out = scale_channels(a.out_channels, width)
    mid = out // 2 if 2 * a.mid_channels == a.out_channels else scale_channels(a.mid_channels, width)
    proj = a.proj_channels
    if proj is not None:
        proj = in_new if proj == in_old else out // 2 if 2 * proj == a.out_channels else scale_channels(proj, width)
    return dataclasses.replace(a, out_channels=out, mid_channels=mid, proj_channels=proj)


def _v2_widths(a: ShuffleV2Args, in_channels: int) -> tuple[int, int]:
    """(main branch input, main branch output) widths; raises SpecError when the input does not fit."""
    if a.stride == 1:
        require(in_channels % 2 == 0,
                f"shuffle_v2 stride 1 splits its input in half: in_channels={in_channels} must be even")
        kept = in_channels // 2
        require(a.out_channels > kept, f"shuffle_v2 out_channels={a.out_channels} must exceed half the input ({kept})")
        return kept, a.out_channels - kept
    require(a.out_channels > a.proj_channels,
            f"shuffle_v2 out_channels={a.out_channels} must exceed proj_channels={a.proj_channels}")
    return in_channels, a.out_channels - a.proj_channels


class ShuffleV2(nn.Module):
    """Split (or project at stride 2), run the main branch, concatenate, shuffle in 2 groups."""

    def __init__(self, in_channels: int, a: ShuffleV2Args):
        super().__init__()
        main_in, main_out = _v2_widths(a, in_channels)
        self.proj = None
        if a.stride == 2:
            self.proj = nn.Sequential(OrderedDict(
                depthwise=conv_bn_act(in_channels, in_channels, a.kernel_size, 2, in_channels, activation_name="none"),
                pointwise=conv_bn_act(in_channels, a.proj_channels, 1),
            ))
        self.main = nn.Sequential(OrderedDict(
            reduce=conv_bn_act(main_in, a.mid_channels, 1),
            depthwise=conv_bn_act(a.mid_channels, a.mid_channels, a.kernel_size, a.stride, a.mid_channels,
                                  activation_name="none"),
            expand=conv_bn_act(a.mid_channels, main_out, 1),
        ))

    def forward(self, x: Tensor) -> Tensor:
        if self.proj is None:
            kept, x = x.chunk(2, dim=1)
            out = torch.cat([kept, self.main(x)], 1)
        else:
            out = torch.cat([self.proj(x), self.main(x)], 1)
        return channel_shuffle(out, 2)


def _v2_build(a: ShuffleV2Args, in_channels: int) -> nn.Module:
    return ShuffleV2(in_channels, a)


def _v2_cost(a: ShuffleV2Args, shape: Shape) -> tuple[Cost, Shape]:
    main_in, main_out = _v2_widths(a, shape.c)
    cost = Cost()
    if a.stride == 2:
        depthwise, down = conv_bn_act_cost(shape, shape.c, a.kernel_size, 2, shape.c)
        pointwise, _ = conv_bn_act_cost(down, a.proj_channels, 1)
        cost = depthwise + pointwise
    reduce, mid = conv_bn_act_cost(Shape(main_in, shape.h, shape.w), a.mid_channels, 1)
    depthwise, mid = conv_bn_act_cost(mid, a.mid_channels, a.kernel_size, a.stride, a.mid_channels)
    expand, out = conv_bn_act_cost(mid, main_out, 1)
    return cost + reduce + depthwise + expand, Shape(a.out_channels, out.h, out.w)


CELLS = (
    Cell("shuffle_v1", ShuffleV1Args, _v1_build, _v1_cost,
         "ShuffleNet v1 unit: grouped 1x1, shuffle, depthwise 3x3, grouped 1x1; add or pooled concat",
         repeat=_v1_repeat, widen=_v1_widen, in_divisor=_v1_in_divisor),
    Cell("shuffle_v2", ShuffleV2Args, _v2_build, _v2_cost,
         "ShuffleNet v2 unit: channel split (or projection at stride 2), 1x1-dw3x3-1x1, concat, shuffle",
         repeat=_v2_repeat, widen=_v2_widen),
)
