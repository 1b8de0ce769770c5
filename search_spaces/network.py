"""From a NetSpec to a module (`build`) or to its cost (`count`), by the same walk over the blocks.

`count` is pure and builds nothing: each cell's cost function mirrors its module. A row with
`repeats = n` is costed once for its first block and once for its copies, times n - 1.
Module layout: children `stem`, `s1`..`sN` (blocks `b1`..), then `head` or `neck`.
"""
from __future__ import annotations

import dataclasses
from collections import OrderedDict
from typing import Iterator, Sequence

from torch import Tensor, nn

from search_spaces import cells
from search_spaces.cost import Cost, Shape
from search_spaces.errors import SpecError
from search_spaces.spec import Block, NetSpec


def _expand(block: Block) -> Iterator[object]:
    """The argument objects of each copy of a row."""
    yield block.args
    if block.repeats > 1:
        tail = cells.get(block.cell).repeat(block.args)
        for _ in range(block.repeats - 1):
            yield tail


def _row_cost(block: Block, shape: Shape, where: str, index: int) -> tuple[Cost, Shape]:
    """Cost and output shape of row `index` of `where` (errors name it `{where}.b{index}`).

    The result is kept on the block (a pure function of immutable data, keyed by the input shape), so a
    space that costs its rows while drawing them, to abandon a draw as soon as it is over a sampling
    budget, does not pay for the same walk again when its NetSpec is built."""
    walked = block.__dict__.get("_walked")
    if walked is not None and (walked[0] is shape or walked[0] == shape):
        return walked[1], walked[2]
    cell = cells.CELLS[block.cell]  # a Block's cell is registered
    try:
        cost, out = cell.cost(block.args, shape)
        if block.repeats > 1:
            tail = cell.repeat(block.args)
            if tail is block.args and out == shape:  # the copies are this block on this shape again
                tail_cost, tail_out = cost, out
            else:
                tail_cost, tail_out = cell.cost(tail, out)
            if tail_out != out:
                raise SpecError(f"a repeated block must keep its shape, {out} became {tail_out}")
            cost = cost + tail_cost * (block.repeats - 1)
    except SpecError as err:
        raise SpecError(f"{where}.b{index} ({block.cell}): {err}") from None
    if out.h < 1 or out.w < 1:
        raise SpecError(f"{where}.b{index} ({block.cell}): the feature map vanishes ({shape.h}x{shape.w} in); "
                        "raise the resolution")
    object.__setattr__(block, "_walked", (shape, cost, out))  # not a field: no part of equality or JSON
    return cost, out


def rows_cost(rows: Sequence[Block], shape: Shape, where: str) -> tuple[Cost, Shape]:
    """Cost and output shape of a sequence of rows (the stem, or a stage's blocks) on `shape` inputs;
    errors name the row as `{where}.b{i}`. Each row's result is kept on its block (see `_row_cost`)."""
    macs = params = acts = 0
    for i, block in enumerate(rows, 1):
        cost, shape = _row_cost(block, shape, where, i)
        macs, params, acts = macs + cost.macs, params + cost.params, acts + cost.acts
    return Cost(macs, params, acts), shape


def _with_resolution(spec: NetSpec, resolution: int | None) -> NetSpec:
    return spec if resolution is None or resolution == spec.resolution else dataclasses.replace(spec, resolution=resolution)


def count(spec: NetSpec, resolution: int | None = None) -> Cost:
    """Multiply-adds, parameters and activations of the network at its (or the given) resolution.

    A NetSpec is walked once when it is constructed (that walk validates it) and keeps the result, so
    this is a lookup unless the resolution changes; `walk` is the computation itself.
    """
    if resolution is None or resolution == spec.resolution:
        return spec._cost  # type: ignore[attr-defined]
    return walk(_with_resolution(spec, resolution))


def _body(spec: NetSpec) -> tuple[Cost, list[Shape], Shape]:
    """Cost of the stem and stages, each stage's output shape (the features a neck takes), and the shape
    the body ends on (the stem's when there are no stages)."""
    total, shape = rows_cost(spec.stem, Shape(spec.in_channels, spec.resolution, spec.resolution), "stem")
    features = []
    for s, stage in enumerate(spec.stages, 1):
        cost, shape = rows_cost(stage.blocks, shape, f"s{s}")
        total = total + cost
        features.append(shape)
    return total, features, shape


def stage_shapes(spec: NetSpec) -> list[Shape]:
    """The output shape of every stage s1..sN, by the cost walk (nothing built)."""
    return _body(spec)[1]


def walk(spec: NetSpec) -> Cost:
    """The pure cost walk: every block's cost function in order, nothing built; SpecError if invalid."""
    total, features, shape = _body(spec)
    for i, block in enumerate(spec.head, 1):
        cell = cells.get(block.cell)
        try:
            cost, shape = cell.cost(block.args, shape, spec.num_classes)
        except SpecError as err:
            raise SpecError(f"head.b{i} ({block.cell}): {err}") from None
        total += cost
    if spec.neck is not None:
        try:
            cost, _ = cells.get(spec.neck.cell).cost(spec.neck.args, features)
        except SpecError as err:
            raise SpecError(f"neck ({spec.neck.cell}): {err}") from None
        total += cost
    return total


class Network(nn.Module):
    """A built NetSpec: stem, stages s1..sN, then a head (logits) or a neck (a list of feature maps)."""

    def __init__(self, stem: nn.Module, stages: list[nn.Module], head: nn.Module | None, neck: nn.Module | None):
        super().__init__()
        self.stem = stem
        self.num_stages = len(stages)
        for s, stage in enumerate(stages, 1):
            self.add_module(f"s{s}", stage)
        self.head = head
        self.neck = neck

    def forward(self, x: Tensor) -> Tensor | list[Tensor]:
        x = self.stem(x)
        features = []
        for s in range(1, self.num_stages + 1):
            x = getattr(self, f"s{s}")(x)
            features.append(x)
        if self.neck is not None:
            return self.neck(features)
        return self.head(x)


def _sequence(rows: tuple[Block, ...], shape: Shape) -> tuple[nn.Sequential, Shape]:
    """Modules b1.. of a row sequence and the shape they output (the same walk as `count`)."""
    modules: OrderedDict[str, nn.Module] = OrderedDict()
    for block in rows:
        cell = cells.get(block.cell)
        for args in _expand(block):
            modules[f"b{len(modules) + 1}"] = cell.build(args, shape.c)
            shape = cell.cost(args, shape)[1]
    return nn.Sequential(modules), shape


def build(spec: NetSpec) -> Network:
    """The PyTorch module of a spec, initialised as torchvision initialises its CNNs."""
    stem, shape = _sequence(spec.stem, Shape(spec.in_channels, spec.resolution, spec.resolution))
    stages, widths = [], []
    for stage in spec.stages:
        module, shape = _sequence(stage.blocks, shape)
        stages.append(module)
        widths.append(shape.c)
    head = None
    if spec.head:
        modules: OrderedDict[str, nn.Module] = OrderedDict()
        for i, block in enumerate(spec.head, 1):
            cell = cells.get(block.cell)
            modules[f"b{i}"] = cell.build(block.args, shape.c, spec.num_classes)
            shape = cell.cost(block.args, shape, spec.num_classes)[1]
        head = nn.Sequential(modules)
    neck = None if spec.neck is None else cells.get(spec.neck.cell).build(spec.neck.args, widths)
    net = Network(stem, stages, head, neck)
    init_weights(net)
    apply_settings(net, spec)
    return net


def apply_settings(net: Network, spec: NetSpec) -> None:
    """The spec's BatchNorm eps and momentum on every BN layer, and its stochastic depth on every stage
    block with a residual branch (those with a `drop_path` attribute), by the spec's per-block rule."""
    for m in net.modules():
        if isinstance(m, nn.modules.batchnorm._BatchNorm):
            m.eps, m.momentum = spec.norm.eps, spec.norm.momentum
    if not spec.drop_path.rate:
        return
    blocks = [b for s in range(1, net.num_stages + 1) for b in getattr(net, f"s{s}").children()]
    residual = [(b, p) for b, p in zip(blocks, spec.drop_path.rates(len(blocks))) if hasattr(b, "drop_path")]
    if not residual:
        raise SpecError(f"drop_path {spec.drop_path.rate:g} needs a block with a residual branch "
                        "(mbconv, basic, bottleneck, res2net, ant); this network has none")
    for block, p in residual:
        block.drop_path = p


def init_weights(module: nn.Module) -> None:
    """Kaiming-normal convs, unit BN, small-normal linears (torchvision's ResNet/MobileNet scheme)."""
    for m in module.modules():
        if isinstance(m, nn.Conv2d):
            nn.init.kaiming_normal_(m.weight, mode="fan_out", nonlinearity="relu")
            if m.bias is not None:
                nn.init.zeros_(m.bias)
        elif isinstance(m, (nn.BatchNorm2d, nn.GroupNorm)) and m.weight is not None:
            nn.init.ones_(m.weight)
            nn.init.zeros_(m.bias)
        elif isinstance(m, nn.Linear):
            nn.init.normal_(m.weight, 0, 0.01)
            if m.bias is not None:
                nn.init.zeros_(m.bias)
