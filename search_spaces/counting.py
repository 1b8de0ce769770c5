"""The cost walk: a NetSpec's multiply-adds, parameters and activations, and its shapes, without building.

`count` is the deployed network; `aux_costs` and `count_with_aux` add a spec's training-only auxiliary
heads (GoogLeNet's aux1/aux2), each on the map after the block it attaches to (`block_shape`).

Each cell's cost function mirrors its module, so the walk is exact. A row with `repeats = n` is costed once
for its first block and once for its copies, times n - 1. `spec.py` runs this walk to validate every
NetSpec it constructs; the module builder (`search_spaces.network`) is kept apart, as nasbench keeps
`model_spec.py` apart from `model_builder.py`, so that the spec never imports torch modules' code.
"""
from __future__ import annotations

import dataclasses
from typing import TYPE_CHECKING, Sequence

from search_spaces import cells
from search_spaces.cost import Cost, Shape
from search_spaces.errors import SpecError

if TYPE_CHECKING:  # types only: spec.py imports this module to validate what it constructs
    from search_spaces.spec import AuxHead, Block, NetSpec


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


def block_shape(spec: NetSpec, stage: int, block: int) -> Shape:
    """The output shape of block `block` of stage `stage` (1-based; copies of a repeated row count)."""
    shape = rows_cost(spec.stem, Shape(spec.in_channels, spec.resolution, spec.resolution), "stem")[1]
    for s, row in enumerate(spec.stages[:stage - 1], 1):
        shape = rows_cost(row.blocks, shape, f"s{s}")[1]
    rows, seen = spec.stages[stage - 1].blocks, 0
    for i, row in enumerate(rows, 1):
        seen += row.repeats
        if seen >= block:  # the copies of a row keep its output shape
            return rows_cost(rows[:i], shape, f"s{stage}")[1]
    raise SpecError(f"stage {stage} has {seen} blocks, not {block}")


def aux_head_cost(spec: NetSpec, head: AuxHead, index: int) -> Cost:
    """Cost of one auxiliary head (aux`index`) on the map it attaches to; SpecError when it does not fit."""
    shape = block_shape(spec, head.stage, head.block)
    try:
        cost, shape = rows_cost(head.layers[:-1], shape, f"aux{index}")
        last = head.layers[-1]
        tail, _ = cells.get(last.cell).cost(last.args, shape, spec.num_classes)
    except SpecError as err:
        raise SpecError(f"auxiliary head aux{index} after {head.where} does not fit at {spec.resolution}x"
                        f"{spec.resolution}: {err}") from None
    return cost + tail


def aux_costs(spec: NetSpec, resolution: int | None = None) -> tuple[Cost, ...]:
    """Cost of each auxiliary head of the spec (at its or the given resolution), in order."""
    spec = _with_resolution(spec, resolution)
    return tuple(aux_head_cost(spec, head, i) for i, head in enumerate(spec.aux, 1))


def count_with_aux(spec: NetSpec, resolution: int | None = None) -> Cost:
    """The network as it trains: `count` plus every auxiliary head."""
    total = count(spec, resolution)
    for cost in aux_costs(spec, resolution):
        total += cost
    return total
