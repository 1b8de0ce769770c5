"""Plain convolution cells and the conv-BN-activation primitive every other family reuses.

Cells: `conv` (conv, optional BN, optional activation; with bias and no BN it is the AlexNet/VGG layer),
`bn_act` (DenseNet's pre-activation BN + ReLU), `maxpool`, `avgpool` and `adaptive_avgpool` (to a fixed size:
GoogLeNet's auxiliary heads pool to 4x4 at any input). The helpers `conv_bn_act` and
`conv_bn_act_cost` take the same arguments in the same order, so a cell's cost mirrors its module.
"""
from __future__ import annotations

from collections import OrderedDict
from dataclasses import dataclass

from torch import nn

from search_spaces.cells.base import Cell
from search_spaces.cost import Cost, Shape, Size2, Tally, norm2d, pool2d
from search_spaces.errors import check_choice, check_int, check_kernel, require

ACTIVATIONS = ("relu", "relu6", "hardswish", "silu", "sigmoid", "hardsigmoid", "none")


def activation(name: str) -> nn.Module:
    """The activation module called `name` (one of ACTIVATIONS)."""
    return {
        "relu": lambda: nn.ReLU(inplace=True),
        "relu6": lambda: nn.ReLU6(inplace=True),
        "hardswish": lambda: nn.Hardswish(inplace=True),
        "silu": lambda: nn.SiLU(inplace=True),
        "sigmoid": nn.Sigmoid,
        "hardsigmoid": nn.Hardsigmoid,
        "none": nn.Identity,
    }[name]()


def conv_bn_act(
    in_channels: int,
    out_channels: int,
    kernel_size: Size2,
    stride: int = 1,
    groups: int = 1,
    dilation: int = 1,
    activation_name: str = "relu",
    padding: Size2 | None = None,
    bias: bool = False,
    norm: bool = True,
) -> nn.Sequential:
    """Conv2d, then BatchNorm2d (when `norm`), then the activation; children `conv`, `bn`, `act`."""
    if padding is None:
        kh, kw = kernel_size if isinstance(kernel_size, tuple) else (kernel_size, kernel_size)
        padding = (dilation * (kh - 1) // 2, dilation * (kw - 1) // 2)
    layers: OrderedDict[str, nn.Module] = OrderedDict()
    layers["conv"] = nn.Conv2d(in_channels, out_channels, kernel_size, stride, padding, dilation, groups, bias)
    if norm:
        layers["bn"] = nn.BatchNorm2d(out_channels)
    if activation_name != "none":
        layers["act"] = activation(activation_name)
    return nn.Sequential(layers)


def conv_bn_act_cost(
    shape: Shape,
    out_channels: int,
    kernel_size: Size2,
    stride: int = 1,
    groups: int = 1,
    dilation: int = 1,
    padding: Size2 | None = None,
    bias: bool = False,
    norm: bool = True,
) -> tuple[Cost, Shape]:
    """Cost twin of `conv_bn_act` (activations cost nothing)."""
    tally = Tally(shape)
    tally.conv(out_channels, kernel_size, stride, groups, bias, norm, padding, dilation)
    return tally.result()


def check_groups(cell: str, in_channels: int, out_channels: int, groups: int) -> None:
    """Grouped convs need both channel counts divisible by the groups."""
    require(in_channels % groups == 0, f"{cell} groups={groups} must divide in_channels={in_channels}")
    require(out_channels % groups == 0, f"{cell} groups={groups} must divide out_channels={out_channels}")


@dataclass(frozen=True)
class ConvArgs:
    """A conv layer: `norm=False, bias=True` is AlexNet/VGG/SqueezeNet's plain conv."""

    out_channels: int
    kernel_size: int | tuple[int, int] = 3
    stride: int = 1
    padding: int | tuple[int, int] | None = None  # None: 'same' padding, dilation * (k - 1) // 2
    groups: int = 1
    dilation: int = 1
    bias: bool = False
    norm: bool = True  # BatchNorm2d after the conv
    activation: str = "relu"

    def __post_init__(self) -> None:
        check_int("conv", "out_channels", self.out_channels)
        check_kernel("conv", "kernel_size", self.kernel_size, odd=self.padding is None)
        check_int("conv", "stride", self.stride, 1, 8)
        check_int("conv", "groups", self.groups)
        check_int("conv", "dilation", self.dilation, 1, 16)
        if self.padding is not None:
            for p in self.padding if isinstance(self.padding, tuple) else (self.padding,):
                check_int("conv", "padding", p, 0, 32)
        check_choice("conv", "activation", self.activation, ACTIVATIONS)


def _conv_build(a: ConvArgs, in_channels: int) -> nn.Module:
    return conv_bn_act(in_channels, a.out_channels, a.kernel_size, a.stride, a.groups, a.dilation,
                       a.activation, a.padding, a.bias, a.norm)


def _conv_cost(a: ConvArgs, shape: Shape) -> tuple[Cost, Shape]:
    check_groups("conv", shape.c, a.out_channels, a.groups)
    return conv_bn_act_cost(shape, a.out_channels, a.kernel_size, a.stride, a.groups, a.dilation,
                            a.padding, a.bias, a.norm)


@dataclass(frozen=True)
class BnActArgs:
    """BatchNorm2d then an activation, with no conv (DenseNet's final norm, pre-activation blocks)."""

    activation: str = "relu"

    def __post_init__(self) -> None:
        check_choice("bn_act", "activation", self.activation, ACTIVATIONS)


def _bn_act_build(a: BnActArgs, in_channels: int) -> nn.Module:
    return nn.Sequential(OrderedDict(bn=nn.BatchNorm2d(in_channels), act=activation(a.activation)))


def _bn_act_cost(a: BnActArgs, shape: Shape) -> tuple[Cost, Shape]:
    return norm2d(shape), shape


@dataclass(frozen=True)
class PoolArgs:
    """Max or average pooling; `ceil_mode` as in PyTorch (GoogLeNet and SqueezeNet use it)."""

    kernel_size: int = 3
    stride: int = 2
    padding: int = 0
    ceil_mode: bool = False

    def __post_init__(self) -> None:
        check_int("pool", "kernel_size", self.kernel_size, 1, 31)
        check_int("pool", "stride", self.stride, 1, 31)
        check_int("pool", "padding", self.padding, 0, self.kernel_size // 2)


def _maxpool_build(a: PoolArgs, in_channels: int) -> nn.Module:
    return nn.MaxPool2d(a.kernel_size, a.stride, a.padding, ceil_mode=a.ceil_mode)


def _avgpool_build(a: PoolArgs, in_channels: int) -> nn.Module:
    return nn.AvgPool2d(a.kernel_size, a.stride, a.padding, ceil_mode=a.ceil_mode)


def _pool_cost(a: PoolArgs, shape: Shape) -> tuple[Cost, Shape]:
    return Cost(), pool2d(shape, a.kernel_size, a.stride, a.padding, a.ceil_mode)


@dataclass(frozen=True)
class AdaptivePoolArgs:
    """Adaptive average pooling to a `size` x `size` map, whatever the input size (torchvision's GoogLeNet
    auxiliary heads: 4)."""

    size: int = 1

    def __post_init__(self) -> None:
        check_int("adaptive_avgpool", "size", self.size, 1, 64)


def _adaptive_build(a: AdaptivePoolArgs, in_channels: int) -> nn.Module:
    return nn.AdaptiveAvgPool2d(a.size)


def _adaptive_cost(a: AdaptivePoolArgs, shape: Shape) -> tuple[Cost, Shape]:
    return Cost(), Shape(shape.c, a.size, a.size)


CELLS = (
    Cell("conv", ConvArgs, _conv_build, _conv_cost, "convolution, optional BatchNorm and activation"),
    Cell("bn_act", BnActArgs, _bn_act_build, _bn_act_cost, "BatchNorm and activation without a conv"),
    Cell("maxpool", PoolArgs, _maxpool_build, _pool_cost, "max pooling"),
    Cell("avgpool", PoolArgs, _avgpool_build, _pool_cost, "average pooling"),
    Cell("adaptive_avgpool", AdaptivePoolArgs, _adaptive_build, _adaptive_cost, "average pooling to a fixed size"),
)
