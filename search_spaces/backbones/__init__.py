"""Named backbones as data: one table per family, each row a spec maker with its reference figures.

`names(pattern)` lists them, `get(name)` returns the NetSpec, `reference(name)` the outside figures it is
checked against (the implementation we match exactly, the paper's own numbers, and why they differ), and
`register` adds a user's own `Backbone` row.
"""
from __future__ import annotations

from importlib import import_module

from search_spaces.backbones.base import Backbone, Reference
from search_spaces.errors import SpecError
from search_spaces.registry import Registry
from search_spaces.spec import NetSpec

FAMILIES = ("classic", "inception", "resnet", "dense", "mobile", "shuffle", "randwire", "detection")


def _builtin() -> Registry[Backbone]:
    table: Registry[Backbone] = Registry("backbone", SpecError, lambda row: row.name)
    for family in FAMILIES:
        for row in import_module(f"search_spaces.backbones.{family}").BACKBONES:
            table.register(row, builtin=True)
    return table


TABLE = _builtin()


def names(pattern: str | None = None) -> list[str]:
    """Backbone names in table order, or those matching a shell-style pattern ('resnet*')."""
    return TABLE.names(pattern)


def row(name: str) -> Backbone:
    """The table row of a backbone, or a SpecError listing the known names."""
    return TABLE.get(name)


def get(name: str) -> NetSpec:
    """The NetSpec of a named backbone at its published resolution."""
    return row(name).make()


def reference(name: str) -> Reference:
    """The outside figures a backbone is checked against."""
    return row(name).reference


def register(backbone: Backbone) -> Backbone:
    """Add a named backbone of your own (a `Backbone` row with a new name): `nas count`, `nas train` and
    `load_spec` find it by name. An error if the name is taken."""
    if not isinstance(backbone, Backbone):
        raise SpecError(f"register takes a search_spaces.backbones.base.Backbone, got {type(backbone).__name__}")
    return TABLE.register(backbone)


__all__ = ["Backbone", "Reference", "TABLE", "get", "names", "reference", "register", "row"]
