"""Our side of a weight mapping: a built network's blocks, in order, with the modules that hold tensors.

A *leaf* is a module with parameters or buffers of its own (Conv2d, BatchNorm2d, Linear): the state dict
is its leaves' tensors in registration order. The reference's names are given leaf by leaf, block by block
(`tv_names`, `timm_names`); `mapping` pairs them with our leaves and checks that the counts agree.
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Callable, Iterator

from torch import nn

from search_spaces.spec import NetSpec


@dataclass(frozen=True)
class BlockInfo:
    """One block of a built network: where it is, which cell it is, and its leaf modules' paths in it."""

    where: str  # "stem", "s1".."sN", "head" or "neck"
    stage: int  # 1..N for a stage block, 0 otherwise
    index: int  # 1-based position in its sequence (b1, b2, ...)
    cell: str
    leaves: tuple[str, ...]  # paths inside the block, in registration (= state dict) order

    @property
    def path(self) -> str:
        return self.where if self.where == "neck" else f"{self.where}.b{self.index}"


Names = Callable[[list[BlockInfo]], list[str]]  # the reference's leaf names, one per leaf of every block


def leaves(module: nn.Module) -> tuple[str, ...]:
    """Paths of the modules under `module` that hold tensors of their own, in registration order."""
    return tuple(p for p, m in module.named_modules() if m._parameters or m._buffers)


def _cells(spec: NetSpec) -> Iterator[tuple[str, list[str]]]:
    """(where, cell of each block) for the stem, each stage and the head, copies of a row expanded."""
    yield "stem", [b.cell for b in spec.stem for _ in range(b.repeats)]
    for s, stage in enumerate(spec.stages, 1):
        yield f"s{s}", [b.cell for b in stage.blocks for _ in range(b.repeats)]
    yield "head", [b.cell for b in spec.head]


def block_infos(spec: NetSpec, net: nn.Module) -> list[BlockInfo]:
    """Every block of `net` (built from `spec`) in module order, the neck last."""
    infos = []
    for where, cells in _cells(spec):
        sequence = getattr(net, where, None)
        for i, cell in enumerate(cells, 1):
            stage = int(where[1:]) if where.startswith("s") and where != "stem" else 0
            infos.append(BlockInfo(where, stage, i, cell, leaves(getattr(sequence, f"b{i}"))))
    if spec.neck is not None:
        infos.append(BlockInfo("neck", 0, 1, spec.neck.cell, leaves(net.neck)))
    return infos


def translate(path: str, rules: tuple[tuple[str, str], ...]) -> str:
    """`path` rewritten by the first rule whose pattern matches it whole (a RuntimeError if none does:
    the mapping, not the user's file, is then wrong)."""
    for pattern, template in rules:
        match = re.fullmatch(pattern, path)
        if match:
            return match.expand(template)
    raise RuntimeError(f"no weight-name rule for {path!r}")


def conv_bn(name: str, conv: str = "conv", bn: str = "bn") -> list[str]:
    """The two leaves of a conv-BN pair named `name` (torchvision's BasicConv2d: name.conv, name.bn)."""
    return [f"{name}.{conv}", f"{name}.{bn}"]


def branch_names(paths: tuple[str, ...], first: int = 0) -> list[str]:
    """Inception branches: our `branches.i.k.(conv|bn)` as `branch{i + first}.(conv|bn)` when the branch is
    one conv at position 0, else `branch{i + first}.k.(conv|bn)` (timm and torchvision name them so)."""
    positions: dict[str, set[str]] = {}
    for leaf in paths:
        i, k = leaf.split(".")[1:3]
        positions.setdefault(i, set()).add(k)
    out = []
    for leaf in paths:
        _, i, k, part = leaf.split(".")
        name = f"branch{int(i) + first}" + ("" if positions[i] == {"0"} else f".{k}")
        out.append(f"{name}.{part}")
    return out
