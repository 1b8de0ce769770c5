"""Inception-v3 modules (Szegedy et al. 2016), reused by Inception-v4 and Inception-ResNet-v2.

Names follow the Inception-v4 paper, whose A / B / reduction modules share v3's structure:
- `inception_a`: 1x1 | 1x1 -> kxk | 1x1 -> 3x3 -> 3x3 | avg pool -> 1x1 (35x35 grid; k=5 in v3 and
  Inception-ResNet-v2's mixed_5b, k=3 in v4);
- `inception_b`: 1x1 | 1x1 -> 1x7 -> 7x1 | 1x1 -> 7x1 -> 1x7 -> 7x1 -> 1x7 | avg pool -> 1x1 (17x17,
  torchvision's InceptionC, v4's InceptionB);
- `inception_v3_c`: 1x1 | 1x1 -> [1x3, 3x1] | 1x1 -> 3x3 -> [1x3, 3x1] | avg pool -> 1x1 (8x8, the
  expanded filter bank, torchvision's InceptionE);
- `reduction_a`: 3x3/2 | 1x1 -> 3x3 -> 3x3/2 | 3x3/2 max pool (torchvision's InceptionB, v4's Reduction-A,
  Inception-ResNet-v2's mixed_6a);
- `reduction_b`: 1x1 -> 3x3/2 | 1x1 -> 1x7 -> 7x1 -> 3x3/2 | 3x3/2 max pool (torchvision's InceptionD,
  v4's Reduction-B).
The stride-2 convs and pools of the reductions are unpadded, as in the references. v3's stem is plain
convs and max pools (`conv` and `maxpool` cells).
"""
from __future__ import annotations

from dataclasses import dataclass

from search_spaces.cells.inception_v1 import (
    Branch,
    Conv,
    Pool,
    branch_cell,
    check_widths,
    expanded,
)
from search_spaces.errors import check_int, check_kernel


def _avg_pool(count_include_pad: bool) -> Pool:
    """The 3x3/1 average pool of the pool branches."""
    return Pool("avg", 3, 1, 1, count_include_pad=count_include_pad)


@dataclass(frozen=True)
class InceptionAArgs:
    """35x35 module: 1x1 | 1x1 -> kxk | 1x1 -> 3x3 -> 3x3 | 3x3 avg pool -> 1x1 projection."""

    ch1x1: int
    ch5x5: tuple[int, int]  # (1x1 reduce, kxk)
    ch3x3dbl: tuple[int, int, int]  # (1x1 reduce, 3x3, 3x3)
    pool_proj: int
    kernel_size: int = 5  # of the ch5x5 branch: 5 in v3, 3 in v4
    count_include_pad: bool = True  # torchvision True; timm's TF ports (v4, Inception-ResNet-v2) False

    def __post_init__(self) -> None:
        check_int("inception_a", "ch1x1", self.ch1x1)
        check_widths("inception_a", "ch5x5", self.ch5x5, 2)
        check_widths("inception_a", "ch3x3dbl", self.ch3x3dbl, 3)
        check_int("inception_a", "pool_proj", self.pool_proj)
        check_kernel("inception_a", "kernel_size", self.kernel_size)


def _a_branches(a: InceptionAArgs) -> tuple[Branch, ...]:
    d = a.ch3x3dbl
    return (
        (Conv(a.ch1x1),),
        (Conv(a.ch5x5[0]), Conv(a.ch5x5[1], a.kernel_size)),
        (Conv(d[0]), Conv(d[1], 3), Conv(d[2], 3)),
        (_avg_pool(a.count_include_pad), Conv(a.pool_proj)),
    )


@dataclass(frozen=True)
class InceptionBArgs:
    """17x17 module with factorised n x n convs: 1x1 | 1x1 -> 1xn -> nx1 | 1x1 -> nx1 -> 1xn -> nx1 -> 1xn
    | 3x3 avg pool -> 1x1 projection."""

    ch1x1: int
    ch7x7: tuple[int, int, int]  # (1x1 reduce, 1xn, nx1)
    ch7x7dbl: tuple[int, int, int, int, int]  # (1x1 reduce, nx1, 1xn, nx1, 1xn)
    pool_proj: int
    kernel_size: int = 7
    count_include_pad: bool = True

    def __post_init__(self) -> None:
        check_int("inception_b", "ch1x1", self.ch1x1)
        check_widths("inception_b", "ch7x7", self.ch7x7, 3)
        check_widths("inception_b", "ch7x7dbl", self.ch7x7dbl, 5)
        check_int("inception_b", "pool_proj", self.pool_proj)
        check_kernel("inception_b", "kernel_size", self.kernel_size)


def _b_branches(a: InceptionBArgs) -> tuple[Branch, ...]:
    n, s, d = a.kernel_size, a.ch7x7, a.ch7x7dbl
    row, col = (1, n), (n, 1)
    return (
        (Conv(a.ch1x1),),
        (Conv(s[0]), Conv(s[1], row), Conv(s[2], col)),
        (Conv(d[0]), Conv(d[1], col), Conv(d[2], row), Conv(d[3], col), Conv(d[4], row)),
        (_avg_pool(a.count_include_pad), Conv(a.pool_proj)),
    )


@dataclass(frozen=True)
class InceptionV3CArgs:
    """8x8 module with expanded outputs: 1x1 | 1x1 -> [1x3, 3x1] | 1x1 -> 3x3 -> [1x3, 3x1] | 3x3 avg
    pool -> 1x1 projection. Each expanded pair outputs twice its width."""

    ch1x1: int
    ch3x3: tuple[int, int]  # (1x1 reduce, width of each of 1x3 and 3x1)
    ch3x3dbl: tuple[int, int, int]  # (1x1 reduce, 3x3, width of each of 1x3 and 3x1)
    pool_proj: int
    count_include_pad: bool = True

    def __post_init__(self) -> None:
        check_int("inception_v3_c", "ch1x1", self.ch1x1)
        check_widths("inception_v3_c", "ch3x3", self.ch3x3, 2)
        check_widths("inception_v3_c", "ch3x3dbl", self.ch3x3dbl, 3)
        check_int("inception_v3_c", "pool_proj", self.pool_proj)


def _v3_c_branches(a: InceptionV3CArgs) -> tuple[Branch, ...]:
    d = a.ch3x3dbl
    return (
        (Conv(a.ch1x1),),
        (Conv(a.ch3x3[0]), expanded(a.ch3x3[1])),
        (Conv(d[0]), Conv(d[1], 3), expanded(d[2])),
        (_avg_pool(a.count_include_pad), Conv(a.pool_proj)),
    )


@dataclass(frozen=True)
class ReductionAArgs:
    """Grid reduction: 3x3/2 | 1x1 -> 3x3 -> 3x3/2 | 3x3/2 max pool (input channels pass through)."""

    ch3x3: int
    ch3x3dbl: tuple[int, int, int]  # (1x1 reduce, 3x3, 3x3/2)

    def __post_init__(self) -> None:
        check_int("reduction_a", "ch3x3", self.ch3x3)
        check_widths("reduction_a", "ch3x3dbl", self.ch3x3dbl, 3)


def _reduction_a_branches(a: ReductionAArgs) -> tuple[Branch, ...]:
    d = a.ch3x3dbl
    return (
        (Conv(a.ch3x3, 3, 2, 0),),
        (Conv(d[0]), Conv(d[1], 3), Conv(d[2], 3, 2, 0)),
        (Pool("max", 3, 2, 0),),
    )


@dataclass(frozen=True)
class ReductionBArgs:
    """Grid reduction: 1x1 -> 3x3/2 | 1x1 -> 1xn -> nx1 -> 3x3/2 | 3x3/2 max pool (input passes through)."""

    ch3x3: tuple[int, int]  # (1x1 reduce, 3x3/2)
    ch7x7x3: tuple[int, int, int, int]  # (1x1 reduce, 1xn, nx1, 3x3/2)
    kernel_size: int = 7

    def __post_init__(self) -> None:
        check_widths("reduction_b", "ch3x3", self.ch3x3, 2)
        check_widths("reduction_b", "ch7x7x3", self.ch7x7x3, 4)
        check_kernel("reduction_b", "kernel_size", self.kernel_size)


def _reduction_b_branches(a: ReductionBArgs) -> tuple[Branch, ...]:
    n, d = a.kernel_size, a.ch7x7x3
    return (
        (Conv(a.ch3x3[0]), Conv(a.ch3x3[1], 3, 2, 0)),
        (Conv(d[0]), Conv(d[1], (1, n)), Conv(d[2], (n, 1)), Conv(d[3], 3, 2, 0)),
        (Pool("max", 3, 2, 0),),
    )


CELLS = (
    branch_cell("inception_a", InceptionAArgs, _a_branches,
                "Inception 35x35 module: 1x1 | 1x1-kxk | 1x1-3x3-3x3 | avgpool-1x1"),
    branch_cell("inception_b", InceptionBArgs, _b_branches,
                "Inception 17x17 module with factorised 1xn / nx1 convs"),
    branch_cell("inception_v3_c", InceptionV3CArgs, _v3_c_branches,
                "Inception-v3 8x8 module with expanded [1x3, 3x1] outputs"),
    branch_cell("reduction_a", ReductionAArgs, _reduction_a_branches,
                "Inception grid reduction: 3x3/2 | 1x1-3x3-3x3/2 | maxpool/2"),
    branch_cell("reduction_b", ReductionBArgs, _reduction_b_branches,
                "Inception grid reduction: 1x1-3x3/2 | 1x1-1xn-nx1-3x3/2 | maxpool/2"),
)
