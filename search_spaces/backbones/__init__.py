"""Named backbones as data: one table per family, each row a spec maker with its reference figures.

`names()` lists them, `get(name)` returns the NetSpec, `reference(name)` the outside figures it is checked
against (the implementation we match exactly, the paper's own numbers, and why they differ).
"""
from __future__ import annotations

from dataclasses import dataclass
from importlib import import_module
from types import MappingProxyType
from typing import Callable, Mapping

from search_spaces.errors import SpecError
from search_spaces.spec import NetSpec

FAMILIES = ("classic", "inception", "resnet", "dense", "mobile", "shuffle", "randwire", "detection")


@dataclass(frozen=True)
class Reference:
    """Published figures for a backbone. `macs` is exact when `macs_tol` is 0, otherwise the printed
    figure with its rounding (e.g. 4.0892 G is macs=4_089_200_000, macs_tol=50_000)."""

    source: str  # the definition we reproduce: "torchvision 0.28 resnet50", "timm inception_v4", ...
    params: int | None  # that definition's parameter count
    macs: int | None  # its conv + linear multiply-adds at the backbone's resolution
    macs_tol: int = 0
    paper: str = ""  # the paper's own figures as printed, e.g. "3.8 GFLOPs; params not given"
    top1: float | None = None  # ImageNet top-1 of the reference weights, where published
    note: str = ""  # why ours, the reference or the paper differ, if they do


@dataclass(frozen=True)
class Backbone:
    """A named backbone: its family, resolution, spec maker and reference."""

    name: str
    family: str
    resolution: int
    make: Callable[[], NetSpec]
    reference: Reference


def _collect() -> Mapping[str, Backbone]:
    table: dict[str, Backbone] = {}
    for family in FAMILIES:
        for row in import_module(f"search_spaces.backbones.{family}").BACKBONES:
            if row.name in table:
                raise RuntimeError(f"backbone {row.name!r} defined twice")
            table[row.name] = row
    return MappingProxyType(table)


TABLE: Mapping[str, Backbone] = _collect()


def names() -> list[str]:
    """Every backbone name, in table order."""
    return list(TABLE)


def row(name: str) -> Backbone:
    """The table row of a backbone, or a SpecError listing the known names."""
    try:
        return TABLE[name]
    except KeyError:
        raise SpecError(f"unknown backbone {name!r}; known: {', '.join(TABLE)}") from None


def get(name: str) -> NetSpec:
    """The NetSpec of a named backbone at its published resolution."""
    return row(name).make()


def reference(name: str) -> Reference:
    """The outside figures a backbone is checked against."""
    return row(name).reference
