"""Feature Pyramid Network neck (Lin et al. 2017), as torchvision's `FeaturePyramidNetwork`.

Over the chosen stage outputs C_i (coarsest last): a 1x1 lateral conv maps each to `out_channels`; from the
coarsest level down, the running top-down map is upsampled (nearest) to the next lateral's size and added to
it; a 3x3 output conv smooths every merged map into P_i. With `extra_pool`, P_last is max-pooled with kernel 1
and stride 2 into one more level (torchvision's `LastLevelMaxPool`, the "pool" output of Faster R-CNN).
Upsampling, additions and pooling cost no multiply-adds; the convs carry a bias as in torchvision.
"""
from __future__ import annotations

from dataclasses import dataclass

import torch.nn.functional as F
from torch import Tensor, nn

from search_spaces.cells.base import Cell
from search_spaces.cells.conv import conv_bn_act, conv_bn_act_cost
from search_spaces.cost import Cost, Shape, pool2d
from search_spaces.errors import SpecError, check_int, require

MAX_LEVELS = 8


@dataclass(frozen=True)
class FpnArgs:
    """An FPN over stages `in_stages` (1-based, finest first) with `out_channels` on every level."""

    out_channels: int = 256
    in_stages: tuple[int, ...] = (1, 2, 3, 4)
    bias: bool = True  # of the lateral and output convs (torchvision's FPN without a norm layer has one)
    extra_pool: bool = True  # LastLevelMaxPool: one more level, P_last subsampled by 2

    def __post_init__(self) -> None:
        check_int("fpn", "out_channels", self.out_channels)
        if not isinstance(self.in_stages, tuple) or not self.in_stages:
            raise SpecError(f"fpn in_stages must be a non-empty tuple of stage numbers, got {self.in_stages!r}")
        levels = len(self.in_stages)
        require(levels <= MAX_LEVELS, f"fpn in_stages has {levels} levels; at most {MAX_LEVELS}")
        for stage in self.in_stages:
            check_int("fpn", "in_stages entry", stage, 1, 64)
        require(
            all(a < b for a, b in zip(self.in_stages, self.in_stages[1:])),
            f"fpn in_stages must increase (finest level first), got {self.in_stages}",
        )


def _select(a: FpnArgs, items: list) -> list:
    """The stage outputs named by `in_stages`, or a SpecError when a stage does not exist."""
    last = a.in_stages[-1]
    require(last <= len(items), f"fpn in_stages names stage {last} but the network has {len(items)} stages")
    return [items[s - 1] for s in a.in_stages]


class FeaturePyramid(nn.Module):
    """The built FPN: `lateral` 1x1 convs and `output` 3x3 convs, one per level."""

    def __init__(self, args: FpnArgs, in_channels: list[int]):
        super().__init__()
        widths = _select(args, in_channels)
        self.in_stages = args.in_stages
        self.extra_pool = args.extra_pool
        out = args.out_channels
        self.lateral = nn.ModuleList(
            conv_bn_act(c, out, 1, activation_name="none", bias=args.bias, norm=False) for c in widths)
        self.output = nn.ModuleList(
            conv_bn_act(out, out, 3, activation_name="none", bias=args.bias, norm=False) for _ in widths)

    def forward(self, features: list[Tensor]) -> list[Tensor]:
        levels = [features[s - 1] for s in self.in_stages]
        top = self.lateral[-1](levels[-1])
        results = [self.output[-1](top)]
        for i in range(len(levels) - 2, -1, -1):
            lateral = self.lateral[i](levels[i])
            top = lateral + F.interpolate(top, size=lateral.shape[-2:], mode="nearest")
            results.insert(0, self.output[i](top))
        if self.extra_pool:
            results.append(F.max_pool2d(results[-1], kernel_size=1, stride=2, padding=0))
        return results


def _build(a: FpnArgs, in_channels: list[int]) -> nn.Module:
    return FeaturePyramid(a, in_channels)


def _cost(a: FpnArgs, shapes: list[Shape]) -> tuple[Cost, list[Shape]]:
    total, outs = Cost(), []
    for shape in _select(a, shapes):
        lateral, merged = conv_bn_act_cost(shape, a.out_channels, 1, bias=a.bias, norm=False)
        smooth, level = conv_bn_act_cost(merged, a.out_channels, 3, bias=a.bias, norm=False)
        total += lateral + smooth
        outs.append(level)
    if a.extra_pool:
        outs.append(pool2d(outs[-1], 1, 2))
    return total, outs


CELLS = (
    Cell("fpn", FpnArgs, _build, _cost,
         "FPN neck: 1x1 laterals, nearest top-down sums, 3x3 outputs, optional max-pool level", role="neck"),
)
