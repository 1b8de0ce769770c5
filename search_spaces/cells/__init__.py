"""The cell library: a string-keyed registry of every cell, its argument dataclass, module and cost.

Each family file (conv.py, residual.py, mbconv.py, ...) holds its cells' argument dataclasses, their
`nn.Module`s and their cost functions side by side, and exports `CELLS`, a tuple of `Cell` rows. This file
only gathers them. Signatures by role:

- body cells: `build(args, in_channels) -> nn.Module`, `cost(args, shape) -> (Cost, Shape)`;
- head cells: the same with `num_classes` as a last argument (the network owns the class count);
- neck cells: `build(args, in_channels: list) -> nn.Module` taking a list of feature maps, and
  `cost(args, shapes: list) -> (Cost, list[Shape])`.
"""
from __future__ import annotations

from dataclasses import dataclass
from importlib import import_module
from types import MappingProxyType
from typing import Any, Callable, Mapping

from search_spaces.errors import SpecError

FAMILIES = (
    "conv", "head", "residual", "res2net", "hetconv", "mbconv", "inception_v1", "inception_v3",
    "inception_v4", "dense", "fire", "shuffle", "randwire", "fpn",
)


def stride_one(args: Any) -> Any:
    """Arguments of blocks 2..n of a repeated row: the same block at stride 1."""
    if "stride" not in args.__dataclass_fields__ or args.stride == 1:
        return args  # nothing to change (the common case: skip a validating copy)
    return type(args)(**{**vars(args), "stride": 1})  # dataclasses.replace, validated, without its field loop


@dataclass(frozen=True)
class Cell:
    """One registered cell: its name, argument dataclass, module factory and cost function."""

    name: str
    args: type  # a frozen dataclass validating itself in __post_init__
    build: Callable[..., Any]
    cost: Callable[..., Any]
    doc: str  # one line for `nas cells`
    repeat: Callable[[Any], Any] = stride_one  # args of the copies when a block row has repeats > 1
    role: str = "body"  # "body", "head" or "neck"
    # widen(args, width, in_old, in_new) -> args for the width multiplier of `search_spaces.scale`;
    # None means the default rule there (every int field ending in "channels" made divisible by 8).
    widen: Callable[[Any, float, int, int], Any] | None = None
    # deepen(args, depth) -> args for a cell whose depth is an argument (a dense block's layers) rather
    # than its row's repeats; None means the depth multiplier repeats the row (see `search_spaces.scale`).
    deepen: Callable[[Any, float], Any] | None = None
    # in_divisor(args) -> the divisor this block's input width must have (ShuffleNet v1: its groups, which
    # the stride-2 unit's concatenation carries into the grouped units after it); None means any width. The
    # width multiplier rounds a scaled stem to it (see `search_spaces.scale`).
    in_divisor: Callable[[Any], int] | None = None


def _collect() -> Mapping[str, Cell]:
    table: dict[str, Cell] = {}
    for family in FAMILIES:
        for cell in import_module(f"search_spaces.cells.{family}").CELLS:
            if cell.name in table:
                raise RuntimeError(f"cell {cell.name!r} registered twice")
            table[cell.name] = cell
    return MappingProxyType(table)


CELLS: Mapping[str, Cell] = _collect()


def get(name: str) -> Cell:
    """The cell registered as `name`, or a SpecError listing the known names."""
    try:
        return CELLS[name]
    except KeyError:
        raise SpecError(f"unknown cell {name!r}; known cells: {', '.join(sorted(CELLS))}") from None
