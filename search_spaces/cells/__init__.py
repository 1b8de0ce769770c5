"""The cell library: a string-keyed registry of every cell, its argument dataclass, module and cost.

Each family file (conv.py, residual.py, mbconv.py, ...) holds its cells' argument dataclasses, their
`nn.Module`s and their cost functions side by side, and exports `CELLS`, a tuple of `Cell` rows
(`search_spaces.cells.base`). This file only gathers them, and `register` adds a user's own. Signatures by
role:

- body cells: `build(args, in_channels) -> nn.Module`, `cost(args, shape) -> (Cost, Shape)`;
- head cells: the same with `num_classes` as a last argument (the network owns the class count);
- neck cells: `build(args, in_channels: list) -> nn.Module` taking a list of feature maps, and
  `cost(args, shapes: list) -> (Cost, list[Shape])`.
"""
from __future__ import annotations

from importlib import import_module

from search_spaces.cells.base import Cell, stride_one
from search_spaces.errors import SpecError
from search_spaces.registry import Registry

FAMILIES = (
    "conv", "head", "generalized_attention", "residual", "res2net", "hetconv", "mbconv", "inception_v1", "inception_v3",
    "inception_v4", "dense", "fire", "shuffle", "randwire", "fpn",
)



def _builtin() -> Registry[Cell]:
    table: Registry[Cell] = Registry("cell", SpecError, lambda cell: cell.name, "known cells", sort=True)
    for family in FAMILIES:
        for cell in import_module(f"search_spaces.cells.{family}").CELLS:
            table.register(cell, builtin=True)
    return table


CELLS = _builtin()


def get(name: str) -> Cell:
    """The cell registered as `name`, or a SpecError listing the known names."""
    return CELLS.get(name)


def register(cell: Cell) -> Cell:
    """Add a cell of your own (a `Cell` with a new name): specs may then use it, `build` and `count` know
    it, and a search ships it to its Ray workers. An error if the name is taken."""
    if not isinstance(cell, Cell):
        raise SpecError(f"register takes a search_spaces.cells.base.Cell, got {type(cell).__name__}")
    return CELLS.register(cell)


def names(pattern: str | None = None) -> list[str]:
    """Cell names in registration order, or those matching a shell-style pattern ('inception_*')."""
    return CELLS.names(pattern)


__all__ = ["CELLS", "Cell", "get", "names", "register", "stride_one"]
