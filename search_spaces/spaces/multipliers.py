"""Global width and depth multipliers inside a space, and their inverse for `encode`.

A space draws base widths and depths on a grid, then applies the multipliers the way
`search_spaces.scale.multiply` does (`scale_channels`: make_divisible(value * width) unless width is 1.0;
`ceil(repeats * depth)`), so scaled networks stay points of the space. `encode` goes the other way: it
tries each multiplier pair (1.0 first) and inverts every width and depth on the grid; the first pair
whose parameters decode back to the spec wins.
"""
from __future__ import annotations

import math
from collections.abc import Callable, Iterable
from typing import Any

from search_spaces.errors import SpaceError, SpecError
from search_spaces.rounding import scale_channels
from search_spaces.settings import without_settings
from search_spaces.spec import NetSpec

Params = dict[str, Any]


class Unreachable(Exception):
    """A value has no base on the grid under the multiplier being tried (encode moves on)."""


def depth(repeats: int, depth_mult: float) -> int:
    """Blocks of a row of `repeats` under the depth multiplier (EfficientNet's ceil)."""
    return repeats if depth_mult == 1.0 else math.ceil(repeats * depth_mult)


def base_width(value: int, width_mult: float, low: int, high: int, step: int) -> int:
    """The smallest grid width in [low, high] that `scale_channels` maps to `value`."""
    if width_mult == 1.0:
        if low <= value <= high and (value - low) % step == 0:
            return value
        raise Unreachable(value)
    start = max(low, low + step * math.floor((value / width_mult * 0.8 - low) / step))
    for base in range(start, high + 1, step):
        scaled = scale_channels(base, width_mult)
        if scaled == value:
            return base
        if scaled > value:
            break
    raise Unreachable(value)


def base_depth(value: int, depth_mult: float, low: int, high: int, step: int = 1) -> int:
    """The smallest grid depth in [low, high] whose multiplied count is `value`."""
    for base in range(low, high + 1, step):
        if depth(base, depth_mult) == value:
            return base
    raise Unreachable(value)


def encode_first(space: Any, spec: NetSpec, encode_with: Callable[[NetSpec, float, float], Params],
                 widths: Iterable[float], depths: Iterable[float] = (1.0,)) -> Params:
    """Parameters from `encode_with(spec, width_mult, depth_mult)` for the first multiplier pair (1.0 first)
    whose parameters decode back to `spec`; SpaceError if none does."""
    for width in sorted(widths, key=lambda w: w != 1.0):
        for deep in sorted(depths, key=lambda d: d != 1.0):
            try:
                params = encode_with(spec, width, deep)
                if without_settings(space.decode(params)) == without_settings(spec):  # spaces search architectures
                    return params
            except (Unreachable, SpaceError, SpecError, IndexError, AttributeError, TypeError, ValueError):
                continue
    raise SpaceError(f"{space.name}: this network is not a point of the space")
