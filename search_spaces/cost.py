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
    kh, kw = (kernel_size, kernel_size) if type(kernel_size) is int else kernel_size  # pair(), inlined: hot path
    if padding is None:
        ph, pw = dilation * (kh - 1) // 2, dilation * (kw - 1) // 2
    else:
        ph, pw = (padding, padding) if type(padding) is int else padding
    h = out_size(shape.h, kh, stride, ph, dilation)
    w = out_size(shape.w, kw, stride, pw, dilation)
    weights = out_channels * (shape.c // groups) * kh * kw
    out = Shape(out_channels, h, w)
    return Cost(weights * h * w, weights + (out_channels if bias else 0), out_channels * h * w), out


def norm2d(shape: Shape) -> Cost:
    """Cost of BatchNorm2d: two affine parameters per channel, no multiply-adds counted."""
    return Cost(0, 2 * shape.c, 0)


def linear(in_features: int, out_features: int, bias: bool = True) -> Cost:
    """Cost of nn.Linear on one sample."""
    weights = in_features * out_features
    return Cost(weights, weights + (out_features if bias else 0), out_features)


def pool2d(shape: Shape, kernel_size: int, stride: int, padding: int = 0, ceil_mode: bool = False) -> Shape:
    """Output shape of MaxPool2d / AvgPool2d (pooling costs no multiply-adds under our convention)."""
    h = out_size(shape.h, kernel_size, stride, padding, 1, ceil_mode)
    w = out_size(shape.w, kernel_size, stride, padding, 1, ceil_mode)
    return Shape(shape.c, h, w)
