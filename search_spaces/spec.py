"""Architecture specs: plain, frozen data that builds into a module and is counted without building.

A `NetSpec` is a stem, stages of block rows, a head (or a neck for detection backbones), the input
resolution and channels and the class count, and optionally auxiliary heads (`AuxHead`: training-only
classifiers on intermediate maps, GoogLeNet's aux1/aux2). A `Block` row names a registered cell, its argument dataclass
and how many times it repeats (copies 2..n take `cell.repeat(args)`, the same block at stride 1). Specs
validate themselves when constructed, read and write JSON losslessly, and `digest()` identifies them.
"""
from __future__ import annotations

import dataclasses
import hashlib
import json
import types
import typing
from dataclasses import dataclass
from typing import Any

from search_spaces import cells
from search_spaces.counting import walk
from search_spaces.errors import MAX_RESOLUTION, SpecError, check_float, check_int
from search_spaces.settings import (
    DEFAULT_DROP_PATH,
    DEFAULT_NORM,
    SETTINGS,
    DropPath,
    Norm,
    check_settings,
    settings_from_dict,
    settings_to_dict,
)

MAX_REPEATS = 256
MAX_AUX = 8


@dataclass(frozen=True)
class Block:
    """One row of a stage: a cell with its arguments, applied `repeats` times in sequence."""

    cell: str
    args: Any
    repeats: int = 1

    def __post_init__(self) -> None:
        kind = cells.get(self.cell)  # an error naming the known cells when unknown
        if not isinstance(self.args, kind.args):
            raise SpecError(f"{self.cell} needs {kind.args.__name__} arguments, got {type(self.args).__name__}")
        check_int(self.cell, "repeats", self.repeats, 1, MAX_REPEATS)
        if self.repeats > 1 and kind.role != "body":
            raise SpecError(f"{self.cell} is a {kind.role} cell and cannot repeat, got repeats={self.repeats}")


@dataclass(frozen=True)
class Stage:
    """A sequence of block rows; stage outputs are the multi-scale features a neck can take."""

    blocks: tuple[Block, ...]

    def __post_init__(self) -> None:
        if not self.blocks:
            raise SpecError("a stage needs at least one block")


@dataclass(frozen=True)
class AuxHead:
    """A training-only classifier on an intermediate map (GoogLeNet's aux1 and aux2, Inception-v3's
    AuxLogits): its `layers` (body rows, then one head row) run on the output of block `block` of stage
    `stage` (both 1-based; the copies of a repeated row count as blocks), and training adds `weight` times
    its loss. The deployed network (`count`, export, evaluation) never has it."""

    stage: int
    block: int
    layers: tuple[Block, ...]
    weight: float = 0.3  # GoogLeNet's discount weight

    def __post_init__(self) -> None:
        check_int("aux", "stage", self.stage, 1, 64)
        check_int("aux", "block", self.block, 1, 64 * MAX_REPEATS)
        check_float("aux", "weight", self.weight, 0.0, 10.0)
        if not isinstance(self.layers, tuple) or not self.layers or not all(isinstance(b, Block) for b in self.layers):
            raise SpecError("an auxiliary head's layers must be a non-empty tuple of Blocks")
        roles = [cells.CELLS[b.cell].role for b in self.layers]
        if roles[-1] != "head" or any(role != "body" for role in roles[:-1]):
            raise SpecError(f"an auxiliary head is body rows then one head row, got roles {roles}")

    @property
    def where(self) -> str:
        """The block it attaches after, as module names: 's3.b2'."""
        return f"s{self.stage}.b{self.block}"


@dataclass(frozen=True)
class NetSpec:
    """A whole network. Built by `network.build`, counted by `counting.count`.

    The constructor walks the shapes through every block (the same walk as `count`), so an invalid
    spec (mismatched groups, a feature map shrunk to nothing, a head on a neck) never exists. Auxiliary
    heads are checked for where they attach; whether their layers fit the map there is checked when they
    are counted or built (`counting.aux_costs`, `build(spec, aux=True)`), so the deployed network alone
    decides which resolutions a spec takes.
    """

    stem: tuple[Block, ...]
    stages: tuple[Stage, ...]
    head: tuple[Block, ...] = ()
    neck: Block | None = None  # a neck cell over the stage outputs (FPN); the network then returns features
    resolution: int = 224
    in_channels: int = 3
    num_classes: int = 1000
    norm: Norm = DEFAULT_NORM  # BatchNorm eps and momentum (search_spaces.settings); no part of the cost
    drop_path: DropPath = DEFAULT_DROP_PATH  # stochastic depth rate and per-block rule; no part of the cost
    aux: tuple[AuxHead, ...] = ()  # training-only classifiers; no part of `count`

    def __post_init__(self) -> None:
        check_settings(self.norm, self.drop_path)
        check_int("network", "resolution", self.resolution, 1, MAX_RESOLUTION)
        check_int("network", "in_channels", self.in_channels, 1, 64)
        check_int("network", "num_classes", self.num_classes, 1, 100_000)
        if (self.neck is None) == (not self.head):
            raise SpecError("a network needs exactly one of a head (classification) or a neck (features)")
        table = cells.CELLS  # every Block's cell is registered (Block checks it)
        for where, rows, role in (("stem", self.stem, "body"), ("head", self.head, "head")):
            for block in rows:
                if table[block.cell].role != role:
                    raise SpecError(f"{where} block {block.cell} is not a {role} cell")
        for stage in self.stages:
            for block in stage.blocks:
                if table[block.cell].role != "body":
                    raise SpecError(f"stage block {block.cell} is not a body cell")
        if self.neck is not None and table[self.neck.cell].role != "neck":
            raise SpecError(f"neck {self.neck.cell} is not a neck cell")
        _check_aux(self)
        object.__setattr__(self, "_cost", walk(self))  # not a field: no part of equality, JSON or digest

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON-ready data (lists, dicts, numbers, strings)."""
        return {
            "resolution": self.resolution,
            "in_channels": self.in_channels,
            "num_classes": self.num_classes,
            "stem": [_block_to_dict(b) for b in self.stem],
            "stages": [[_block_to_dict(b) for b in s.blocks] for s in self.stages],
            "head": [_block_to_dict(b) for b in self.head],
            "neck": None if self.neck is None else _block_to_dict(self.neck),
            **settings_to_dict(self.norm, self.drop_path),  # only settings that differ from the defaults
            **({"aux": [_aux_to_dict(a) for a in self.aux]} if self.aux else {}),  # none: no key, as before
        }

    def to_json(self, indent: int | None = 2) -> str:
        """JSON text; `from_json(spec.to_json()) == spec`."""
        return json.dumps(self.to_dict(), indent=indent)

    def digest(self) -> str:
        """SHA-256 of the canonical JSON (sorted keys, no spaces): identity for dedup and storage keys."""
        canonical = json.dumps(self.to_dict(), sort_keys=True, separators=(",", ":"))
        return hashlib.sha256(canonical.encode()).hexdigest()


def _check_aux(spec: NetSpec) -> None:
    """Each auxiliary head attaches after a block the network has, and the network is a classifier."""
    if not isinstance(spec.aux, tuple) or not all(isinstance(a, AuxHead) for a in spec.aux):
        raise SpecError("a spec's aux must be a tuple of AuxHead")
    if len(spec.aux) > MAX_AUX:
        raise SpecError(f"a network takes at most {MAX_AUX} auxiliary heads, got {len(spec.aux)}")
    if spec.aux and spec.neck is not None:
        raise SpecError("auxiliary heads classify: a network with a neck (features) cannot have them")
    for i, head in enumerate(spec.aux, 1):
        if head.stage > len(spec.stages):
            raise SpecError(f"aux{i} attaches to stage {head.stage}, but the network has {len(spec.stages)} stages")
        blocks = sum(b.repeats for b in spec.stages[head.stage - 1].blocks)
        if head.block > blocks:
            raise SpecError(f"aux{i} attaches after {head.where}, but stage {head.stage} has {blocks} blocks")


def _aux_to_dict(head: AuxHead) -> dict[str, Any]:
    return {"stage": head.stage, "block": head.block, "weight": head.weight,
            "layers": [_block_to_dict(b) for b in head.layers]}


def _aux_from_dict(data: Any) -> AuxHead:
    """An AuxHead from its JSON form, with one-line errors."""
    if not isinstance(data, dict) or set(data) - {"stage", "block", "weight", "layers"} or not {
            "stage", "block", "layers"} <= set(data):
        raise SpecError(f"an auxiliary head must be an object with stage, block, layers (and weight), "
                        f"got {str(data)[:60]!r}")
    if not isinstance(data["layers"], list):
        raise SpecError("an auxiliary head's layers must be a list of blocks")
    weight = data.get("weight", 0.3)
    return AuxHead(data["stage"], data["block"], tuple(block_from_dict(b) for b in data["layers"]), weight)


def _args_to_dict(args: Any) -> dict[str, Any]:
    """A cell's arguments as JSON data, without the optional fields that hold their default."""
    data = _plain(dataclasses.asdict(args))
    for f in dataclasses.fields(args):
        if f.metadata.get("omit_default") and getattr(args, f.name) == f.default:
            del data[f.name]
    return data


def _block_to_dict(block: Block) -> dict[str, Any]:
    row: dict[str, Any] = {"cell": block.cell, "args": _args_to_dict(block.args)}
    if block.repeats != 1:
        row["repeats"] = block.repeats
    return row


def _plain(value: Any) -> Any:
    if isinstance(value, (tuple, list)):
        return [_plain(v) for v in value]
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    return value


def _tuples(value: Any) -> Any:
    """JSON lists back to the tuples frozen dataclasses hold."""
    if isinstance(value, list):
        return tuple(_tuples(v) for v in value)
    return value


def _check_type(cell: str, name: str, value: Any, hint: Any) -> None:
    """A JSON value against a field's type hint, for the simple types our argument dataclasses use."""
    allowed = typing.get_args(hint) if typing.get_origin(hint) in (typing.Union, types.UnionType) else (hint,)
    for option in allowed:
        origin = typing.get_origin(option) or option
        if option is type(None) and value is None:
            return
        if origin is bool and isinstance(value, bool):
            return
        if origin is int and isinstance(value, int) and not isinstance(value, bool):
            return
        if origin is float and isinstance(value, (int, float)) and not isinstance(value, bool):
            return
        if origin in (str, tuple) and isinstance(value, origin):
            return
        if dataclasses.is_dataclass(option) and isinstance(value, option):
            return
    names = " or ".join(getattr(typing.get_origin(o) or o, "__name__", str(o)) for o in allowed)
    raise SpecError(f"{cell} {name} must be {names}, got {value!r}")


def block_from_dict(data: Any) -> Block:
    """A Block from its JSON form, with one-line errors for unknown cells, arguments and bad types."""
    if not isinstance(data, dict) or "cell" not in data:
        raise SpecError(f"a block must be an object with 'cell' and 'args', got {str(data)[:60]!r}")
    extra = set(data) - {"cell", "args", "repeats"}
    if extra:
        raise SpecError(f"unknown block key(s) {sorted(extra)}; expected cell, args, repeats")
    if not isinstance(data["cell"], str):
        raise SpecError(f"block 'cell' must be a string, got {data['cell']!r}")
    kind = cells.get(data["cell"])
    args = _args_from_dict(kind.name, kind.args, data.get("args", {}))
    repeats = data.get("repeats", 1)
    return Block(kind.name, args, repeats)


def _nested(hint: Any) -> type | None:
    """The argument dataclass a field's type hint names (`GeneralizedAttentionArgs | None`), if any."""
    options = typing.get_args(hint) if typing.get_origin(hint) in (typing.Union, types.UnionType) else (hint,)
    return next((o for o in options if dataclasses.is_dataclass(o)), None)


def _args_from_dict(label: str, cls: type, raw: Any) -> Any:
    """An argument dataclass from its JSON object (an argument that is itself a dataclass, such as a
    bottleneck's generalized attention, from its nested object), with one-line errors naming `label`."""
    if not isinstance(raw, dict):
        raise SpecError(f"{label} args must be an object, got {str(raw)[:60]!r}")
    hints = typing.get_type_hints(cls)
    fields = {f.name for f in dataclasses.fields(cls)}
    unknown = set(raw) - fields
    if unknown:
        raise SpecError(f"unknown argument(s) {sorted(unknown)} for cell {label}; expected {sorted(fields)}")
    values = {k: _tuples(v) for k, v in raw.items()}
    for name, value in values.items():
        nested = _nested(hints[name])
        if nested is not None and isinstance(value, dict):
            values[name] = value = _args_from_dict(f"{label} {name}", nested, value)
        _check_type(label, name, value, hints[name])
    required = [f.name for f in dataclasses.fields(cls)
                if f.default is dataclasses.MISSING and f.default_factory is dataclasses.MISSING]
    missing = [name for name in required if name not in values]
    if missing:
        raise SpecError(f"cell {label} is missing argument(s) {missing}")
    return cls(**values)


def spec_from_dict(data: Any) -> NetSpec:
    """A NetSpec from plain data, validated."""
    if not isinstance(data, dict):
        raise SpecError(f"a spec must be a JSON object, got {type(data).__name__}")
    known = {"resolution", "in_channels", "num_classes", "stem", "stages", "head", "neck", "aux", *SETTINGS}
    unknown = set(data) - known
    if unknown:
        raise SpecError(f"unknown spec key(s) {sorted(unknown)}; expected {sorted(known)}")
    for key in ("stem", "stages"):
        if not isinstance(data.get(key), list):
            raise SpecError(f"spec {key!r} must be a list")
    for key in ("head", "aux"):
        if not isinstance(data.get(key, []), list):
            raise SpecError(f"spec {key!r} must be a list")
    for stage in data["stages"]:
        if not isinstance(stage, list):
            raise SpecError("each stage must be a list of blocks")
    scalars = {k: data[k] for k in ("resolution", "in_channels", "num_classes") if k in data}
    neck = data.get("neck")
    return NetSpec(
        stem=tuple(block_from_dict(b) for b in data["stem"]),
        stages=tuple(Stage(tuple(block_from_dict(b) for b in s)) for s in data["stages"]),
        head=tuple(block_from_dict(b) for b in data.get("head", [])),
        neck=None if neck is None else block_from_dict(neck),
        **scalars,
        **settings_from_dict(data),
        aux=tuple(_aux_from_dict(a) for a in data.get("aux", [])),
    )


def from_json(text: str) -> NetSpec:
    """Parse and validate spec JSON (data only: nothing is executed or unpickled)."""
    try:
        data = json.loads(text)
    except RecursionError:
        raise SpecError("spec JSON is nested too deeply") from None
    except json.JSONDecodeError as err:
        raise SpecError(f"spec is not valid JSON: {err}") from None
    try:
        return spec_from_dict(data)
    except RecursionError:
        raise SpecError("spec JSON is nested too deeply") from None
