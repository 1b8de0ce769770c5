"""What a registered cell is (`Cell`) and the default rule for a repeated row's copies (`stride_one`).

Kept apart from the registry (`search_spaces.cells`), so that each family file can define its cells
without importing the package that gathers them.
"""
from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any, Callable


def stride_one(args: Any) -> Any:
    """Arguments of blocks 2..n of a repeated row: the same block at stride 1."""
    if "stride" not in args.__dataclass_fields__ or args.stride == 1:
        return args  # nothing to change (the common case: skip a validating copy)
    return type(args)(**{**vars(args), "stride": 1})  # dataclasses.replace, validated, without its field loop


def optional_field(default: Any = None) -> Any:
    """A cell argument added after specs were recorded: spec JSON leaves it out while it holds `default`, so
    those specs read back, and digest, as before (a bottleneck's `generalized_attention`)."""
    return dataclasses.field(default=default, metadata={"omit_default": True})


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
