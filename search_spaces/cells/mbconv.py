"""Mobile cells: the inverted residual (MBConv), MobileNetV1's depthwise-separable conv, ANTNet's block,
and the 1x1 conv that opens the MobileNet/EfficientNet head.

- `mbconv`: optional 1x1 expansion (present iff mid_channels != in_channels, torchvision's rule), kxk
  depthwise, optional squeeze-and-excitation on the expanded map, linear 1x1 projection, and the identity
  shortcut when stride == 1 and in == out. MobileNetV2/V3, MnasNet, ProxylessNAS and EfficientNet blocks.
- `dsconv`: 3x3 depthwise conv BN act, 1x1 pointwise conv BN act, no shortcut (MobileNetV1).
- `ant`: ANTNet's block: 1x1 expansion (always present), depthwise, channel attention with its own
  reduction ratio, grouped 1x1 projection. `norm=False` is the public reimplementation (biases, no BN).
- `conv_head`: a 1x1 conv BN act in the head, so that the depth multiplier never repeats it.

Every width is an explicit integer: SE widths differ by family (EfficientNet: max(1, in // 4);
MobileNetV3: make_divisible(mid // 4, 8)) and the spec stores the one the reference uses. The `widen`
hooks keep the expansion and the SE ratio when `search_spaces.scale.multiply` changes the widths.
"""
from __future__ import annotations

import dataclasses
from collections import OrderedDict
from dataclasses import dataclass

from torch import Tensor, nn

from search_spaces.cells.attention import SqueezeExcite
from search_spaces.cells.base import Cell
from search_spaces.cells.conv import conv_bn_act, conv_bn_act_cost
from search_spaces.cells.drop_path import drop_path
from search_spaces.cost import Cost, Shape, Tally
from search_spaces.errors import check_choice, check_int, check_kernel, require
from search_spaces.rounding import make_divisible, scale_channels

BLOCK_ACTIVATIONS = ("relu", "relu6", "hardswish", "silu")
GATES = ("sigmoid", "hardsigmoid")


@dataclass(frozen=True)
class MBConvArgs:
    """Inverted residual: expand to mid_channels, depthwise, SE (se_channels > 0), project."""

    out_channels: int
    mid_channels: int  # the expanded width; equal to the block input means no expansion conv
    kernel_size: int = 3
    stride: int = 1
    activation: str = "relu6"  # after the expansion and the depthwise conv
    se_channels: int = 0  # squeeze width; 0 = no squeeze-and-excitation
    se_activation: str = "relu"
    se_gate: str = "sigmoid"  # hardsigmoid in MobileNetV3
    residual: bool = True  # identity shortcut when stride == 1 and in == out (timm's `noskip` is False)

    def __post_init__(self) -> None:
        check_int("mbconv", "out_channels", self.out_channels)
        check_int("mbconv", "mid_channels", self.mid_channels)
        check_kernel("mbconv", "kernel_size", self.kernel_size)
        check_int("mbconv", "stride", self.stride, 1, 2)
        check_choice("mbconv", "activation", self.activation, BLOCK_ACTIVATIONS)
        check_int("mbconv", "se_channels", self.se_channels, 0)
        check_choice("mbconv", "se_activation", self.se_activation, BLOCK_ACTIVATIONS)
        check_choice("mbconv", "se_gate", self.se_gate, GATES)
        require(isinstance(self.residual, bool), f"mbconv residual must be a bool, got {self.residual!r}")


class MBConv(nn.Module):
    """The inverted residual block; children `expand`, `dw`, `se` (Identity when absent), `project`."""

    drop_path = 0.0  # stochastic depth of the residual branch (set by network.build from the spec)

    def __init__(self, a: MBConvArgs, in_channels: int):
        super().__init__()
        mid = a.mid_channels
        self.expand = nn.Identity()
        if mid != in_channels:
            self.expand = conv_bn_act(in_channels, mid, 1, activation_name=a.activation)
        self.dw = conv_bn_act(mid, mid, a.kernel_size, a.stride, groups=mid, activation_name=a.activation)
        self.se = SqueezeExcite(mid, a.se_channels, a.se_activation, a.se_gate) if a.se_channels else nn.Identity()
        self.project = conv_bn_act(mid, a.out_channels, 1, activation_name="none")
        self.shortcut = a.residual and a.stride == 1 and in_channels == a.out_channels

    def forward(self, x: Tensor) -> Tensor:
        y = self.project(self.se(self.dw(self.expand(x))))
        return x + drop_path(y, self.drop_path, self.training) if self.shortcut else y

    def zero_init_last(self) -> None:
        """With the identity shortcut: zero the projection's BN scale, so the block starts as the identity."""
        if self.shortcut:
            nn.init.zeros_(self.project.bn.weight)


def _mbconv_cost(a: MBConvArgs, shape: Shape) -> tuple[Cost, Shape]:
    tally, mid = Tally(shape), a.mid_channels
    if mid != shape.c:
        tally.conv(mid)
    tally.conv(mid, a.kernel_size, a.stride, mid)
    if a.se_channels:
        tally.squeeze_excite(a.se_channels)
    tally.conv(a.out_channels)
    return tally.result()


def _ratio_width(value: int, old_base: int, new_base: int) -> int:
    """`value` kept at the same multiple of its base channel count (rounded by the one rule)."""

    return new_base if value == old_base else make_divisible(new_base * value / old_base)


def _mbconv_widen(a: MBConvArgs, width: float, in_old: int, in_new: int) -> MBConvArgs:
    """Width multiplier: out scaled, expansion ratio kept, SE = max(1, int(in_new * se_ratio))."""

    se = max(1, in_new * a.se_channels // in_old) if a.se_channels else 0
    return dataclasses.replace(a, out_channels=scale_channels(a.out_channels, width),
                               mid_channels=_ratio_width(a.mid_channels, in_old, in_new), se_channels=se)


@dataclass(frozen=True)
class DSConvArgs:
    """MobileNetV1's depthwise-separable conv: kxk depthwise BN act, 1x1 pointwise BN act."""

    out_channels: int
    kernel_size: int = 3
    stride: int = 1
    activation: str = "relu"

    def __post_init__(self) -> None:
        check_int("dsconv", "out_channels", self.out_channels)
        check_kernel("dsconv", "kernel_size", self.kernel_size)
        check_int("dsconv", "stride", self.stride, 1, 2)
        check_choice("dsconv", "activation", self.activation, BLOCK_ACTIVATIONS)


def _dsconv_build(a: DSConvArgs, in_channels: int) -> nn.Module:
    return nn.Sequential(OrderedDict(
        dw=conv_bn_act(in_channels, in_channels, a.kernel_size, a.stride, groups=in_channels,
                       activation_name=a.activation),
        pw=conv_bn_act(in_channels, a.out_channels, 1, activation_name=a.activation),
    ))


def _dsconv_cost(a: DSConvArgs, shape: Shape) -> tuple[Cost, Shape]:
    tally = Tally(shape)
    tally.conv(shape.c, a.kernel_size, a.stride, shape.c)
    tally.conv(a.out_channels)
    return tally.result()


@dataclass(frozen=True)
class AntArgs:
    """ANTNet's block: 1x1 expansion, depthwise, channel attention, grouped 1x1 projection.

    The attention is SE-shaped (pool, 1x1 to attention_channels, ReLU, 1x1 back, sigmoid) on the expanded
    map; its reduction ratio is mid_channels // attention_channels (8 ... 64 across ANTNet's stages).
    """

    out_channels: int
    mid_channels: int  # the expansion conv is always present, even at ratio 1 (as in ANTNet)
    attention_channels: int
    kernel_size: int = 3
    stride: int = 1
    groups: int = 1  # of the projection conv (ANTNet's g)
    activation: str = "relu6"
    norm: bool = True  # BN after each conv; False: convs with bias and no BN (the public reimplementation)

    def __post_init__(self) -> None:
        check_int("ant", "out_channels", self.out_channels)
        check_int("ant", "mid_channels", self.mid_channels)
        check_int("ant", "attention_channels", self.attention_channels)
        check_kernel("ant", "kernel_size", self.kernel_size)
        check_int("ant", "stride", self.stride, 1, 2)
        check_int("ant", "groups", self.groups)
        check_choice("ant", "activation", self.activation, BLOCK_ACTIVATIONS)
        require(isinstance(self.norm, bool), f"ant norm must be a bool, got {self.norm!r}")
        require(self.mid_channels % self.groups == 0,
                f"ant groups={self.groups} must divide mid_channels={self.mid_channels}")
        require(self.out_channels % self.groups == 0,
                f"ant groups={self.groups} must divide out_channels={self.out_channels}")


class AntBlock(nn.Module):
    """ANTNet's block; children `expand`, `dw`, `attention`, `project`."""

    drop_path = 0.0  # stochastic depth of the residual branch (set by network.build from the spec)

    def __init__(self, a: AntArgs, in_channels: int):
        super().__init__()
        mid, bias = a.mid_channels, not a.norm
        self.expand = conv_bn_act(in_channels, mid, 1, activation_name=a.activation, bias=bias, norm=a.norm)
        self.dw = conv_bn_act(mid, mid, a.kernel_size, a.stride, groups=mid, activation_name=a.activation,
                              bias=bias, norm=a.norm)
        self.attention = SqueezeExcite(mid, a.attention_channels, "relu", "sigmoid")
        self.project = conv_bn_act(mid, a.out_channels, 1, groups=a.groups, activation_name="none",
                                   bias=bias, norm=a.norm)
        self.shortcut = a.stride == 1 and in_channels == a.out_channels

    def forward(self, x: Tensor) -> Tensor:
        y = self.project(self.attention(self.dw(self.expand(x))))
        return x + drop_path(y, self.drop_path, self.training) if self.shortcut else y

    def zero_init_last(self) -> None:
        """With the identity shortcut: zero the projection's BN scale (without BN: its weights), so the block
        starts as the identity."""
        if self.shortcut:
            nn.init.zeros_(self.project.bn.weight if hasattr(self.project, "bn") else self.project.conv.weight)


def _ant_cost(a: AntArgs, shape: Shape) -> tuple[Cost, Shape]:
    tally, mid, bias = Tally(shape), a.mid_channels, not a.norm
    tally.conv(mid, 1, 1, 1, bias, a.norm)
    tally.conv(mid, a.kernel_size, a.stride, mid, bias, a.norm)
    tally.squeeze_excite(a.attention_channels)
    tally.conv(a.out_channels, 1, 1, a.groups, bias, a.norm)
    return tally.result()


def _ant_widen(a: AntArgs, width: float, in_old: int, in_new: int) -> AntArgs:
    """Width multiplier: out scaled, expansion ratio and attention reduction ratio kept."""

    mid = _ratio_width(a.mid_channels, in_old, in_new)
    return dataclasses.replace(a, out_channels=scale_channels(a.out_channels, width), mid_channels=mid,
                               attention_channels=max(1, mid * a.attention_channels // a.mid_channels))


@dataclass(frozen=True)
class ConvHeadArgs:
    """The 1x1 conv (BN, activation) between the last block and the pooled classifier."""

    out_channels: int
    activation: str = "relu6"
    norm: bool = True  # False: a conv with bias and no BN (ANTNet's reimplementation)

    def __post_init__(self) -> None:
        check_int("conv_head", "out_channels", self.out_channels)
        check_choice("conv_head", "activation", self.activation, BLOCK_ACTIVATIONS + ("none",))
        require(isinstance(self.norm, bool), f"conv_head norm must be a bool, got {self.norm!r}")


def _conv_head_build(a: ConvHeadArgs, in_channels: int, num_classes: int) -> nn.Module:
    return conv_bn_act(in_channels, a.out_channels, 1, activation_name=a.activation, bias=not a.norm, norm=a.norm)


def _conv_head_cost(a: ConvHeadArgs, shape: Shape, num_classes: int) -> tuple[Cost, Shape]:
    return conv_bn_act_cost(shape, a.out_channels, 1, bias=not a.norm, norm=a.norm)


CELLS = (
    Cell("mbconv", MBConvArgs, MBConv, _mbconv_cost,
         "inverted residual: 1x1 expand, depthwise, optional SE, linear 1x1 project", widen=_mbconv_widen),
    Cell("dsconv", DSConvArgs, _dsconv_build, _dsconv_cost, "depthwise-separable conv (MobileNetV1)"),
    Cell("ant", AntArgs, AntBlock, _ant_cost,
         "ANTNet block: expand, depthwise, channel attention, grouped 1x1 project", widen=_ant_widen),
    Cell("conv_head", ConvHeadArgs, _conv_head_build, _conv_head_cost,
         "1x1 conv, BN, activation before the pooled classifier", role="head"),
)
