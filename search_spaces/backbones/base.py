"""What a named backbone is: its table row (`Backbone`) and the outside figures it is checked against
(`Reference`). Kept apart from the registry (`search_spaces.backbones`), so that each family table can
define its rows without importing the package that gathers them."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

from search_spaces.spec import NetSpec


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
