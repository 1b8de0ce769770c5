"""The width / depth / resolution transform of a spec, with the toolkit's one channel rounding rule.

Channels are rounded by `search_spaces.rounding.make_divisible` (TF's and torchvision's rule).
`multiply(spec, width, depth, resolution)` walks a spec:

- width: each block's arguments go through its cell's `widen(args, width, in_old, in_new)` hook, or, when
  the cell has none, every int field whose name ends in "channels" becomes make_divisible(value * width).
  Width 1.0 keeps every explicit width as it is. A stem whose scaled width the first block cannot take
  (a cell's `in_divisor`: ShuffleNet v1's groups) is rounded to that divisor instead of to 8.
- depth: each *group* of a stage gets ceil(repeats * depth) blocks, when copies of its block keep the
  shape (pools, transitions: never repeated); a cell whose depth is an argument has a `deepen` hook
  instead (a dense block's layers become ceil(layers * depth)). A group is a row, or a row with one
  block followed by the row of its continuation copies (same cell, stride 1, input = the first block's
  output; for MBConv also the expansion and SE widths rescaled to that input). Specs write a torchvision
  stage row "r3, 16 -> 24" as `mbconv(24, mid 96) x1` then `mbconv(24, mid 144) x2`, because explicit
  widths cannot express copies whose input differs from the first block's; the group restores the row.
  (A hand-written `mbconv(24, mid 96) x3` row on a 16-channel input comes back as the first block plus
  continuation copies of mid 144: the network's own copies would keep mid 96.)
- resolution: the spec's input side. The stem and the head keep their depth; the class count is kept.
- auxiliary heads (training only) keep their own widths and stay at depth 1.0; another depth drops them,
  since it moves the blocks they attach to.

EfficientNet-B1..B7 are `multiply(efficientnet_b0, w, d, r)` with the published triples, exactly.
"""
from __future__ import annotations

import dataclasses
import math
from typing import Any

from search_spaces import cells
from search_spaces.cells.base import Cell
from search_spaces.cost import Shape
from search_spaces.errors import SpecError, check_float
from search_spaces.rounding import make_divisible, scale_channels
from search_spaces.spec import Block, NetSpec, Stage


def widen(cell: Cell, args: Any, width: float, in_old: int, in_new: int) -> Any:
    """A block's arguments under the width multiplier, for an input that went from in_old to in_new."""
    if width == 1.0 and in_old == in_new:
        return args
    if cell.widen is not None:
        return cell.widen(args, width, in_old, in_new)
    changes = {
        f.name: scale_channels(getattr(args, f.name), width)
        for f in dataclasses.fields(args)
        if f.name.endswith("channels") and type(getattr(args, f.name)) is int
    }
    return dataclasses.replace(args, **changes)


def continuation(cell: Cell, args: Any, in_channels: int, out_channels: int) -> Any:
    """Arguments of the copies 2..n of a block whose first copy maps in_channels to out_channels."""
    return widen(cell, cell.repeat(args), 1.0, in_channels, out_channels)


def _through(block: Block, shape: Shape) -> Shape:
    """The shape after a whole row (its copies keep the first block's output shape)."""
    return cells.get(block.cell).cost(block.args, shape)[1]


def _groups(stage: Stage, shape: Shape) -> list[tuple[Block, int, Shape]]:
    """(first row, total repeats, input shape) for each group of a stage."""
    groups, rows, i = [], stage.blocks, 0
    while i < len(rows):
        row, total = rows[i], rows[i].repeats
        out = _through(row, shape)
        cell = cells.get(row.cell)
        if row.repeats == 1 and i + 1 < len(rows) and rows[i + 1].cell == row.cell:
            if rows[i + 1].args == continuation(cell, row.args, shape.c, out.c):
                total += rows[i + 1].repeats
                i += 1
        groups.append((row, total, shape))
        shape, i = out, i + 1
    return groups


def _emit(row: Block, total: int, shape: Shape) -> tuple[list[Block], Shape]:
    """The rows of a group of `total` blocks whose first block is `row` on input `shape`."""
    cell = cells.get(row.cell)
    out = _through(row, shape)
    tail = continuation(cell, row.args, shape.c, out.c)
    if tail == cell.repeat(row.args):
        return [Block(row.cell, row.args, total)], out
    rows = [Block(row.cell, row.args, 1)]
    if total > 1:
        rows.append(Block(row.cell, tail, total - 1))
    return rows, out


def _widen_rows(rows: tuple[Block, ...], width: float, old: Shape, new: Shape) -> tuple[list[Block], Shape, Shape]:
    """Stem rows under the width multiplier (their repeats are kept)."""
    out = []
    for row in rows:
        cell = cells.get(row.cell)
        args = widen(cell, row.args, width, old.c, new.c)
        out.append(Block(row.cell, args, row.repeats))
        old, new = _through(row, old), _through(out[-1], new)
    return out, old, new


def _fit_first_block(original: tuple[Block, ...], rows: list[Block], width: float, first: Block,
                     shape: Shape, out: Shape) -> tuple[list[Block], Shape]:
    """The widened stem `rows` (of `original`, on input `shape`, giving `out`) and its output shape. When
    the first block of the body needs an input width divisible by a number that the usual multiple of 8 is
    not (ShuffleNet v1 with 3 groups), the last stem row with `out_channels` is rounded to that number."""
    in_divisor = cells.get(first.cell).in_divisor
    last = [i for i, row in enumerate(rows) if "out_channels" in row.args.__dataclass_fields__]
    if in_divisor is None or out.c % in_divisor(first.args) == 0 or not last:
        return rows, out
    i = last[-1]
    channels = make_divisible(original[i].args.out_channels * width, in_divisor(first.args))
    rows = rows[:i] + [Block(rows[i].cell, dataclasses.replace(rows[i].args, out_channels=channels),
                             rows[i].repeats)] + rows[i + 1:]
    return rows, _rows_out(rows, shape)


def _deepens(row: Block, shape: Shape) -> bool:
    """Whether copies of the row's block keep its output shape, so that depth may add them. Pools,
    transitions and dense blocks change the shape with every copy: the depth multiplier leaves them be."""
    cell = cells.get(row.cell)
    try:
        out = _through(row, shape)
        return cell.cost(continuation(cell, row.args, shape.c, out.c), out)[1] == out
    except SpecError:
        return False


def _scale_stage(stage: Stage, width: float, depth: float, old: Shape, new: Shape) -> tuple[Stage, Shape]:
    """One stage: each group widened, then ceil(total * depth) blocks long (groups whose copies would change
    the shape keep their length); returns the new output shape."""
    rows: list[Block] = []
    for row, total, start in _groups(stage, old):
        cell = cells.get(row.cell)
        args = widen(cell, row.args, width, start.c, new.c)
        if cell.deepen is not None and depth != 1.0:
            args, depth_here = cell.deepen(args, depth), 1.0  # the depth is an argument of the cell
        else:
            depth_here = depth
        first = Block(row.cell, args, 1)
        length = math.ceil(total * depth_here) if depth_here == 1.0 or _deepens(first, new) else total
        emitted, new = _emit(first, length, new)
        rows += emitted
    return Stage(tuple(rows)), new


def _rows_out(rows: tuple[Block, ...] | list[Block], shape: Shape) -> Shape:
    """The shape after a sequence of rows."""
    for row in rows:
        shape = _through(row, shape)
    return shape


def multiply(spec: NetSpec, width: float = 1.0, depth: float = 1.0, resolution: int | None = None) -> NetSpec:
    """The spec with its widths times `width`, its stage groups times `depth` (ceil) and the given input
    resolution (None keeps it). multiply(spec) == spec."""
    check_float("multiply", "width", width, 0.05, 16.0)
    check_float("multiply", "depth", depth, 0.05, 16.0)
    start = old = new = Shape(spec.in_channels, spec.resolution, spec.resolution)
    stem, old, new = _widen_rows(spec.stem, width, old, new)
    if spec.stages and width != 1.0:
        stem, new = _fit_first_block(spec.stem, stem, width, spec.stages[0].blocks[0], start, new)
    stages = []
    for stage in spec.stages:
        scaled, new = _scale_stage(stage, width, depth, old, new)
        stages.append(scaled)
        old = _rows_out(stage.blocks, old)
    head = []
    for row in spec.head:
        cell = cells.get(row.cell)
        head.append(Block(row.cell, widen(cell, row.args, width, old.c, new.c), row.repeats))
        old = cell.cost(row.args, old, spec.num_classes)[1]
        new = cell.cost(head[-1].args, new, spec.num_classes)[1]
    neck = spec.neck
    if neck is not None:  # a neck's own widths (FPN's out_channels) follow the same rule
        neck = Block(neck.cell, widen(cells.get(neck.cell), neck.args, width, old.c, new.c))
    return dataclasses.replace(spec, stem=tuple(stem), stages=tuple(stages), head=tuple(head), neck=neck,
                               resolution=spec.resolution if resolution is None else resolution,
                               aux=spec.aux if depth == 1.0 else ())  # aux heads attach to blocks depth moves
