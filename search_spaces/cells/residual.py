"""Residual blocks: ResNet's basic and bottleneck blocks with the options of their named descendants.

`basic` is ResNet-18/34's block (two 3x3 convs). `bottleneck` is 1x1 reduce, 3x3, 1x1 expand, with the
bottleneck width (`mid_channels`) and every other width explicit, and options for:

- `groups`: ResNeXt's grouped 3x3 (RegNet's group width is mid_channels / groups);
- `stride_in_1x1`: the stride on the first 1x1 (MSRA ResNet v1, Caffe SENet) instead of on the 3x3
  (torchvision's v1.5): same parameters, fewer multiply-adds;
- `dilation`: DetNet's dilated 3x3 (padding = dilation keeps the size);
- `projection`: None adds a 1x1 conv + BN shortcut when the stride or the width changes, True always
  (DetNet's stage-first block at equal shapes), False never (the shapes must then match);
- attention: squeeze-excitation with explicit `se_channels` after the last conv (SE-ResNet) or after the
  3x3 (`se_position="mid"`, RegNetY), and CBAM's spatial gate (`spatial_attention`) after the last conv;
- `conv="hetconv", part=P`: the 3x3 becomes a HetConv layer (cells/hetconv.py);
- `generalized_attention`: Zhu et al.'s spatial attention module (cells/generalized_attention.py) after the
  3x3 and its ReLU, where mmdetection's `position='after_conv2'` plugin puts it (before a mid SE).

Copies of a repeated row run at stride 1 with the automatic shortcut (`repeat=_copy`). Under the width
multiplier (`widen` hooks) grouped 3x3s keep their group width and SE widths keep their reference's ratio.
"""
from __future__ import annotations

import dataclasses
from collections import OrderedDict
from dataclasses import dataclass

from torch import Tensor, nn

from search_spaces.cells.attention import (
    SpatialAttention,
    SqueezeExcite,
    se_cost,
    spatial_attention_cost,
)
from search_spaces.cells.base import Cell, optional_field
from search_spaces.cells.conv import conv_bn_act, conv_bn_act_cost
from search_spaces.cells.drop_path import drop_path
from search_spaces.cells.generalized_attention import (
    GeneralizedAttention,
    GeneralizedAttentionArgs,
    generalized_attention_cost,
)
from search_spaces.cells.hetconv import MAX_PART, HetConv2d, hetconv_cost
from search_spaces.cost import ZERO, Cost, Shape, norm2d
from search_spaces.errors import SpecError, check_choice, check_int, require
from search_spaces.rounding import scale_channels


class ResidualBlock(nn.Module):
    """relu(body(x) + shortcut(x)): the frame shared by the basic, bottleneck and Res2Net blocks. `last` names
    the body's last norm (the one `zero_init_last` zeroes)."""

    drop_path = 0.0  # stochastic depth of the body (set by network.build from the spec)

    def __init__(self, body: nn.Module, shortcut: nn.Module, last: str):
        super().__init__()
        self.body = body
        self.shortcut = shortcut
        self.act = nn.ReLU(inplace=True)
        self.last = last

    def zero_init_last(self) -> None:
        """Zero the scale of the body's last norm, so the block starts as its shortcut (Goyal et al. 2017)."""
        nn.init.zeros_(self.body.get_submodule(self.last).weight)

    def forward(self, x: Tensor) -> Tensor:
        return self.act(drop_path(self.body(x), self.drop_path, self.training) + self.shortcut(x))


def has_projection(projection: bool | None, in_channels: int, out_channels: int, stride: int) -> bool:
    """Whether the shortcut is a 1x1 conv + BN: forced by True/False, else when the shape changes."""
    if projection is None:
        return stride != 1 or in_channels != out_channels
    return projection


def shortcut(projection: bool | None, in_channels: int, out_channels: int, stride: int) -> nn.Module:
    """The shortcut branch: identity or a strided 1x1 conv + BN (torchvision's `downsample`)."""
    if has_projection(projection, in_channels, out_channels, stride):
        return conv_bn_act(in_channels, out_channels, 1, stride, activation_name="none")
    return nn.Identity()


def shortcut_cost(cell: str, projection: bool | None, shape: Shape, out: Shape, stride: int) -> Cost:
    """Cost twin of `shortcut`; SpecError when an identity shortcut would meet a different shape."""
    if has_projection(projection, shape.c, out.c, stride):
        return conv_bn_act_cost(shape, out.c, 1, stride, norm=True)[0]
    require(shape == out, f"{cell} without projection needs equal shapes, got {shape} in and {out} out")
    return ZERO


def check_flag(cell: str, name: str, value: object, optional: bool = False) -> None:
    """A bool argument (or None when `optional`); 0 and 1 are not accepted as flags."""
    if not (isinstance(value, bool) or (optional and value is None)):
        kind = "True, False or None" if optional else "True or False"
        raise SpecError(f"{cell} {name} must be {kind}, got {value!r}")


@dataclass(frozen=True)
class BasicArgs:
    """ResNet-18/34's block: 3x3 conv (strided), BN, ReLU, 3x3 conv, BN, optional attention, add, ReLU."""

    out_channels: int
    stride: int = 1
    projection: bool | None = None  # None: 1x1 conv + BN shortcut when the stride or width changes
    se_channels: int = 0  # squeeze width of an SE gate after the second conv; 0 = none
    spatial_attention: bool = False  # CBAM spatial gate after the second conv (and after SE)

    def __post_init__(self) -> None:
        check_int("basic", "out_channels", self.out_channels)
        check_int("basic", "stride", self.stride, 1, 8)
        check_flag("basic", "projection", self.projection, optional=True)
        check_int("basic", "se_channels", self.se_channels, 0)
        check_flag("basic", "spatial_attention", self.spatial_attention)


def _attention(layers: OrderedDict[str, nn.Module], channels: int, se_channels: int, spatial: bool) -> None:
    if se_channels:
        layers["se"] = SqueezeExcite(channels, se_channels)
    if spatial:
        layers["sa"] = SpatialAttention()


def _attention_cost(shape: Shape, se_channels: int, spatial: bool) -> Cost:
    cost = se_cost(shape, se_channels) if se_channels else ZERO
    return cost + spatial_attention_cost(shape) if spatial else cost


def _basic_build(a: BasicArgs, in_channels: int) -> nn.Module:
    layers: OrderedDict[str, nn.Module] = OrderedDict()
    layers["conv1"] = conv_bn_act(in_channels, a.out_channels, 3, a.stride)
    layers["conv2"] = conv_bn_act(a.out_channels, a.out_channels, 3, activation_name="none")
    _attention(layers, a.out_channels, a.se_channels, a.spatial_attention)
    return ResidualBlock(nn.Sequential(layers), shortcut(a.projection, in_channels, a.out_channels, a.stride),
                         "conv2.bn")


def _basic_cost(a: BasicArgs, shape: Shape) -> tuple[Cost, Shape]:
    cost, x = conv_bn_act_cost(shape, a.out_channels, 3, a.stride)
    c, x = conv_bn_act_cost(x, a.out_channels, 3)
    cost += c + _attention_cost(x, a.se_channels, a.spatial_attention)
    return cost + shortcut_cost("basic", a.projection, shape, x, a.stride), x


@dataclass(frozen=True)
class BottleneckArgs:
    """1x1 to mid_channels, 3x3 (grouped, dilated or HetConv), 1x1 to out_channels, each with BN; ReLU
    after the first two; optional attention; add the shortcut; ReLU."""

    out_channels: int
    mid_channels: int  # the bottleneck width: out/4 in ResNet, groups * width_per_group in ResNeXt
    stride: int = 1
    groups: int = 1  # of the 3x3 (ResNeXt cardinality)
    dilation: int = 1  # of the 3x3 (DetNet)
    stride_in_1x1: bool = False  # True: MSRA v1 / Caffe SENet; False: torchvision v1.5 (stride on the 3x3)
    projection: bool | None = None  # None: 1x1 conv + BN shortcut when the stride or width changes
    se_channels: int = 0  # squeeze width of an SE gate; 0 = none
    se_position: str = "last"  # "last": after the last conv (SE-ResNet); "mid": after the 3x3 (RegNetY)
    spatial_attention: bool = False  # CBAM spatial gate after the last conv (and after SE)
    conv: str = "conv"  # the 3x3: "conv" or "hetconv"
    part: int = 1  # HetConv's P (only with conv="hetconv")
    # Zhu et al.'s spatial attention after the 3x3 (None: none; written to JSON only when set)
    generalized_attention: GeneralizedAttentionArgs | None = optional_field()

    def __post_init__(self) -> None:
        check_int("bottleneck", "out_channels", self.out_channels)
        check_int("bottleneck", "mid_channels", self.mid_channels)
        check_int("bottleneck", "stride", self.stride, 1, 8)
        check_int("bottleneck", "groups", self.groups)
        check_int("bottleneck", "dilation", self.dilation, 1, 16)
        check_flag("bottleneck", "stride_in_1x1", self.stride_in_1x1)
        check_flag("bottleneck", "projection", self.projection, optional=True)
        check_int("bottleneck", "se_channels", self.se_channels, 0)
        check_flag("bottleneck", "spatial_attention", self.spatial_attention)
        check_choice("bottleneck", "se_position", self.se_position, ("last", "mid"))
        check_choice("bottleneck", "conv", self.conv, ("conv", "hetconv"))
        check_int("bottleneck", "part", self.part, 1, MAX_PART)
        require(self.mid_channels % self.groups == 0,
                f"bottleneck groups={self.groups} must divide mid_channels={self.mid_channels}")
        if self.conv == "hetconv":
            require(self.groups == 1 and self.dilation == 1, "bottleneck hetconv needs groups=1 and dilation=1")
            require(self.mid_channels % self.part == 0,
                    f"bottleneck part={self.part} must divide mid_channels={self.mid_channels}")
        else:
            require(self.part == 1, f"bottleneck part={self.part} needs conv='hetconv'")
        ga = self.generalized_attention
        require(ga is None or isinstance(ga, GeneralizedAttentionArgs),
                f"bottleneck generalized_attention must be GeneralizedAttentionArgs or None, got {ga!r}")


def _strides(a: BottleneckArgs) -> tuple[int, int]:
    """(stride of the first 1x1, stride of the 3x3)."""
    return (a.stride, 1) if a.stride_in_1x1 else (1, a.stride)


def _bottleneck_build(a: BottleneckArgs, in_channels: int) -> nn.Module:
    s1, s3 = _strides(a)
    mid = a.mid_channels
    layers: OrderedDict[str, nn.Module] = OrderedDict()
    layers["conv1"] = conv_bn_act(in_channels, mid, 1, s1)
    if a.conv == "hetconv":
        layers["conv2"] = nn.Sequential(OrderedDict(
            conv=HetConv2d(mid, mid, a.part, s3), bn=nn.BatchNorm2d(mid), act=nn.ReLU(inplace=True)))
    else:
        layers["conv2"] = conv_bn_act(mid, mid, 3, s3, a.groups, a.dilation)
    if a.generalized_attention is not None:
        layers["ga"] = GeneralizedAttention(mid, a.generalized_attention)
    if a.se_position == "mid":
        _attention(layers, mid, a.se_channels, False)
    layers["conv3"] = conv_bn_act(mid, a.out_channels, 1, activation_name="none")
    _attention(layers, a.out_channels, a.se_channels if a.se_position == "last" else 0, a.spatial_attention)
    return ResidualBlock(nn.Sequential(layers), shortcut(a.projection, in_channels, a.out_channels, a.stride),
                         "conv3.bn")


def _bottleneck_cost(a: BottleneckArgs, shape: Shape) -> tuple[Cost, Shape]:
    s1, s3 = _strides(a)
    cost, x = conv_bn_act_cost(shape, a.mid_channels, 1, s1)
    if a.conv == "hetconv":
        c, x = hetconv_cost(x, a.mid_channels, a.part, s3)
        c += norm2d(x)
    else:
        c, x = conv_bn_act_cost(x, a.mid_channels, 3, s3, a.groups, a.dilation)
    cost += c
    if a.generalized_attention is not None:
        cost += generalized_attention_cost(a.generalized_attention, x)
    if a.se_position == "mid":
        cost += _attention_cost(x, a.se_channels, False)
    c, x = conv_bn_act_cost(x, a.out_channels, 1)
    cost += c + _attention_cost(x, a.se_channels if a.se_position == "last" else 0, a.spatial_attention)
    return cost + shortcut_cost("bottleneck", a.projection, shape, x, a.stride), x


def _scaled(value: int, old_base: int, new_base: int) -> int:
    """A width kept at the same fraction of its base width (0 stays 0: no SE stays no SE)."""
    return max(1, round(value * new_base / old_base)) if value else 0


def _basic_widen(a: BasicArgs, width: float, in_old: int, in_new: int) -> BasicArgs:
    """Width multiplier: out scaled by the one rounding rule, SE kept at its fraction of out."""

    out = scale_channels(a.out_channels, width)
    return dataclasses.replace(a, out_channels=out, se_channels=_scaled(a.se_channels, a.out_channels, out))


def _bottleneck_widen(a: BottleneckArgs, width: float, in_old: int, in_new: int) -> BottleneckArgs:
    """Width multiplier: out and mid scaled by the one rounding rule; a grouped 3x3 keeps its group width
    (pycls's RegNet rule: mid becomes a multiple of it) and HetConv's part still divides mid. SE keeps its
    fraction of what its reference sizes it by: the block input after the 3x3 (RegNetY: round(in / 4)),
    the block output after the last conv (SE-ResNet: out / 16)."""

    out = scale_channels(a.out_channels, width)
    unit = a.mid_channels // a.groups if a.groups > 1 else a.part
    mid = max(1, round(scale_channels(a.mid_channels, width) / unit)) * unit
    if a.se_position == "mid":
        se = _scaled(a.se_channels, in_old, in_new)
    else:
        se = _scaled(a.se_channels, a.out_channels, out)
    return dataclasses.replace(a, out_channels=out, mid_channels=mid, groups=mid // unit if a.groups > 1 else 1,
                               se_channels=se)


def _copy(args: BasicArgs | BottleneckArgs) -> BasicArgs | BottleneckArgs:
    """Blocks 2..n of a row: stride 1 and the automatic shortcut (an identity, as the shapes now match)."""
    return dataclasses.replace(args, stride=1, projection=None)


CELLS = (
    Cell("basic", BasicArgs, _basic_build, _basic_cost,
         "ResNet basic block: two 3x3 convs and a shortcut; optional SE / spatial attention", repeat=_copy,
         widen=_basic_widen),
    Cell("bottleneck", BottleneckArgs, _bottleneck_build, _bottleneck_cost,
         "ResNet/ResNeXt/RegNet/DetNet bottleneck: 1x1, 3x3 (grouped, dilated or HetConv), 1x1, shortcut; "
         "optional SE, spatial or generalized attention",
         repeat=_copy, widen=_bottleneck_widen),
)
