"""Analytic cost model: shapes, costs and the closed-form cost of each primitive layer.

Convention: `macs` counts the multiply-adds of convolution and linear weights (bias excluded), so
`2 * macs` equals what `torch.utils.flop_counter.FlopCounterMode` reports for the built module. `params`
counts every learnable parameter (BN affine included, buffers excluded). `acts` counts the output elements
of every conv and linear layer (pycls's activation count), a proxy for memory traffic. No torch here.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Union

Size2 = Union[int, tuple[int, int]]


@dataclass(frozen=True, slots=True)
class Shape:
    """A feature map: channels, height, width (batch excluded)."""

    c: int
    h: int
    w: int


@dataclass(frozen=True, slots=True)
class Cost:
    """Multiply-adds, parameters and activations of a network or a part of it."""

    macs: int = 0
    params: int = 0
    acts: int = 0

    def __add__(self, other: "Cost") -> "Cost":
        return Cost(self.macs + other.macs, self.params + other.params, self.acts + other.acts)

    def __mul__(self, n: int) -> "Cost":
        return Cost(self.macs * n, self.params * n, self.acts * n)


ZERO = Cost()


def pair(value: Size2) -> tuple[int, int]:
    """(height, width) from an int or a pair."""
    return value if isinstance(value, tuple) else (value, value)


def same_padding(kernel_size: Size2, dilation: int = 1) -> tuple[int, int]:
    """The padding that keeps the size at stride 1 for an odd kernel (PyTorch's usual k // 2)."""
    kh, kw = pair(kernel_size)
    return (dilation * (kh - 1) // 2, dilation * (kw - 1) // 2)


def out_size(size: int, kernel: int, stride: int, padding: int, dilation: int = 1, ceil_mode: bool = False) -> int:
    """Output length of a conv or pool along one axis, PyTorch's formula (ceil_mode as in MaxPool2d)."""
    span = size + 2 * padding - dilation * (kernel - 1) - 1
    if span < 0:
        return 0
    if not ceil_mode:
        return span // stride + 1
    out = -(-span // stride) + 1
    if (out - 1) * stride >= size + padding:  # the last window must start inside the input or left padding
        out -= 1
    return out


def conv2d(
    shape: Shape,
    out_channels: int,
    kernel_size: Size2,
    stride: int = 1,
    padding: Size2 | None = None,
    groups: int = 1,
    dilation: int = 1,
    bias: bool = False,
) -> tuple[Cost, Shape]:
    """Cost and output shape of nn.Conv2d; padding None means `same_padding`."""
    tally = Tally(shape)
    tally.conv(out_channels, kernel_size, stride, groups, bias, False, padding, dilation)
    return tally.result()


class Tally:
    """A running count through the layers of a cell, on plain integers: the cost of a conv (plus its
    BatchNorm) is a few multiplications, and a search walks every candidate it draws, so the cells a search
    samples most count their layers here rather than through a Cost and a Shape per layer. `conv2d` and
    the cost functions built on it use the same arithmetic (`conv`), so there is one formula.
    """

    __slots__ = ("macs", "params", "acts", "c", "h", "w")

    def __init__(self, shape: Shape):
        self.macs = self.params = self.acts = 0
        self.c, self.h, self.w = shape.c, shape.h, shape.w

    def conv(self, out_channels: int, kernel_size: Size2 = 1, stride: int = 1, groups: int = 1,
             bias: bool = False, norm: bool = True, padding: Size2 | None = None, dilation: int = 1) -> None:
        """nn.Conv2d (bias when `bias`), then BatchNorm2d when `norm`; padding None means `same_padding`."""
        if type(kernel_size) is int and padding is None and dilation == 1 and kernel_size & 1:
            weights = out_channels * (self.c // groups) * kernel_size * kernel_size
            h = (self.h - 1) // stride + 1  # out_size with the odd kernel's 'same' padding
            w = (self.w - 1) // stride + 1
        else:
            kh, kw = pair(kernel_size)
            ph, pw = same_padding(kernel_size, dilation) if padding is None else pair(padding)
            weights = out_channels * (self.c // groups) * kh * kw
            h = out_size(self.h, kh, stride, ph, dilation)
            w = out_size(self.w, kw, stride, pw, dilation)
        area = h * w
        self.macs += weights * area
        self.params += weights + (out_channels if bias else 0) + (2 * out_channels if norm else 0)
        self.acts += out_channels * area
        self.c, self.h, self.w = out_channels, h, w

    def squeeze_excite(self, squeeze_channels: int) -> None:
        """SqueezeExcite on the current map: on the pooled 1x1 map, a 1x1 conv (bias) to `squeeze_channels`
        and one back; the map keeps its shape (the pool and the rescale cost no multiply-adds)."""
        c, h, w = self.c, self.h, self.w
        self.h = self.w = 1
        self.conv(squeeze_channels, bias=True, norm=False)
        self.conv(c, bias=True, norm=False)
        self.h, self.w = h, w

    def linear(self, out_features: int, bias: bool = True) -> None:
        """nn.Linear on the current features (channels x height x width flattened): a 1x1 conv on them as
        one 1x1 map."""
        self.c, self.h, self.w = self.c * self.h * self.w, 1, 1
        self.conv(out_features, bias=bias, norm=False)

    def result(self) -> tuple[Cost, Shape]:
        """The counted cost and the shape the layers output."""
        return Cost(self.macs, self.params, self.acts), Shape(self.c, self.h, self.w)


def norm2d(shape: Shape) -> Cost:
    """Cost of BatchNorm2d: two affine parameters per channel, no multiply-adds counted."""
    return Cost(0, 2 * shape.c, 0)


def linear(in_features: int, out_features: int, bias: bool = True) -> Cost:
    """Cost of nn.Linear on one sample."""
    tally = Tally(Shape(in_features, 1, 1))
    tally.linear(out_features, bias)
    return tally.result()[0]


def pool2d(shape: Shape, kernel_size: int, stride: int, padding: int = 0, ceil_mode: bool = False) -> Shape:
    """Output shape of MaxPool2d / AvgPool2d (pooling costs no multiply-adds under our convention)."""
    h = out_size(shape.h, kernel_size, stride, padding, 1, ceil_mode)
    w = out_size(shape.w, kernel_size, stride, padding, 1, ceil_mode)
    return Shape(shape.c, h, w)
