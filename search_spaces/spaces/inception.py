"""The Inception space: per-module branch widths and module counts around the family's templates.

Inception networks are heterogeneous (every module has its own branch widths), so the space is a template
choice (GoogLeNet, BN-Inception, Inception-v3, Inception-v4, Inception-ResNet-v2: the named backbones'
own specs) and, for that template, one parameter per branch width of every row (a width of w ranges over
[w/2, 2w] in steps of 8), one per module row for its repeat count (1 to twice the template's, at least
2), and the resolution on a grid through the template's own (224 or 299). GoogLeNet adds its "5x5"
kernel (torchvision's 3 or the paper's 5). Parameters are named after the template and the row, e.g.
`inception_v3.s2.b2.ch5x5[1]`, `inception_v4.s3.b2.repeats` (so each template's parameters are its own).

`width_mult` scales every drawn width (make_divisible, as `scale.multiply` does) and `depth_mult` every
module count (ceil), both clamped to the parameter's range, so a scaled network is again a point; `encode`
writes multipliers of 1.0 and the explicit widths. Widths of 0 (BN-Inception's absent 1x1 branch and
unprojected pool) stay 0: they are structure, not width.

The default search distribution keeps the limit `min_resolution` = 160 (`--free min_resolution` lifts it,
`--fix min_resolution=N` moves it). Under a budget, rejection sampling favours each template's lowest
resolutions, which the proxy trains at 14-18 px sides: of 11 draws at 2G without the limit, the 9 at 96-128
px reached 3x chance 7 times (median 0.738), the 2 above 160 px both (0.958, 0.970); with it, 19 of 20
default draws reach it (median 0.885) (experiments/proxy_reliability.md).
"""
from __future__ import annotations

import dataclasses
import math
from collections.abc import Iterator
from types import MappingProxyType
from typing import Any

from search_spaces.backbones.inception import (
    googlenet_spec,
    inception_resnet_v2_spec,
    inception_v2_spec,
    inception_v3_spec,
    inception_v4_spec,
)
from search_spaces.errors import SpaceError
from search_spaces.rounding import scale_channels
from search_spaces.spaces.base import Params, Space
from search_spaces.spaces.declared import Choice, Float, Int, Param
from search_spaces.spaces.limits import Limit
from search_spaces.spec import Block, NetSpec, Stage

TEMPLATES = MappingProxyType({  # the named backbones' specs, built once (each draw starts from one); cheapest first;
    # without their training-only auxiliary heads, which attach to blocks a drawn module count moves
    name: dataclasses.replace(make(), aux=()) for name, make in (
        ("googlenet", googlenet_spec), ("inception_v2", inception_v2_spec), ("inception_v3", inception_v3_spec),
        ("inception_v4", inception_v4_spec), ("inception_resnet_v2", inception_resnet_v2_spec))
})
TEMPLATE_NAMES = tuple(TEMPLATES)
MODULES = frozenset({  # cells whose rows may repeat (they keep their output shape)
    "inception_v1", "bn_inception", "inception_a", "inception_b", "inception_v3_c", "inception_v4_c",
    "inception_resnet_a", "inception_resnet_b",
})
GOOGLENET_KERNELS = (3, 5)  # of the "5x5" branch: torchvision's 3x3, the paper's 5x5
RESOLUTIONS = MappingProxyType({  # (low, high, step) around each template's own resolution
    "googlenet": (96, 320, 32), "inception_v2": (96, 320, 32),  # BN-Inception's stride-2 modules need even maps
    "inception_v3": (107, 395, 32), "inception_v4": (107, 395, 32), "inception_resnet_v2": (107, 395, 32),
})


def width_range(width: int) -> tuple[int, int]:
    """The range of a branch width parameter around the template's `width`: [w/2 down to 8s, 2w]."""
    return max(8, width // 2 // 8 * 8), 2 * width


def width_fields(args: Any) -> Iterator[tuple[str, Any]]:
    """(name, value) of every branch width field (ch*, pool_proj, out_channels) that is not 0."""
    for field in dataclasses.fields(args):
        if field.name.startswith("ch") or field.name in ("pool_proj", "out_channels"):
            value = getattr(args, field.name)
            if value:
                yield field.name, value


def repeatable(row: Block) -> bool:
    """Whether a template row is a module whose count is a parameter (stride-2 modules are not)."""
    return row.cell in MODULES and getattr(row.args, "stride", 1) == 1


def max_repeats(row: Block) -> int:
    """The top of a module row's count range: twice the template's, at least 2."""
    return max(2, 2 * row.repeats)


def _clamp(value: int, low: int, high: int) -> int:
    return min(max(value, low), high)


def _width(trial: Any, label: str, template: int, width: float) -> int:
    low, high = width_range(template)
    return _clamp(scale_channels(trial.suggest_int(label, low, high, step=8), width), low, high)


def _row(trial: Any, label: str, row: Block, width: float, depth: float, kernel: int | None) -> Block:
    """One template row with drawn widths (and count, and GoogLeNet's kernel)."""
    repeats = row.repeats
    if repeatable(row):
        high = max_repeats(row)
        repeats = _clamp(math.ceil(trial.suggest_int(f"{label}.repeats", 1, high) * depth), 1, high)
    changes: dict[str, Any] = {}
    for name, value in width_fields(row.args):
        if isinstance(value, tuple):
            changes[name] = tuple(_width(trial, f"{label}.{name}[{j}]", v, width) for j, v in enumerate(value))
        else:
            changes[name] = _width(trial, f"{label}.{name}", value, width)
    if kernel is not None and row.cell == "inception_v1":
        changes["kernel_size"] = kernel
    return Block(row.cell, dataclasses.replace(row.args, **changes), repeats)


def _declared() -> tuple[Param, ...]:
    """What `suggest` draws, in its order, from the templates themselves (`declared`): each template's own
    row parameters exist only where `template` is that template."""
    params = [Choice("template", TEMPLATE_NAMES)]
    for grid in dict.fromkeys(RESOLUTIONS.values()):
        names = [name for name, g in RESOLUTIONS.items() if g == grid]
        params.append(Int("resolution", *grid, when="template " + " or ".join(names)))
    params += [Float("width_mult", 0.5, 2.0, 0.25), Float("depth_mult", 0.5, 2.0, 0.25),
               Choice("googlenet.kernel_size", GOOGLENET_KERNELS, when="template googlenet")]
    for name, base in TEMPLATES.items():
        parts = [("stem", base.stem)] + [(f"s{s}", stage.blocks) for s, stage in enumerate(base.stages, 1)]
        for part, rows in parts:
            for i, row in enumerate(rows, 1):
                label, when = f"{name}.{part}.b{i}", f"template {name}"
                if repeatable(row):
                    params.append(Int(f"{label}.repeats", 1, max_repeats(row), when=when))
                for field, value in width_fields(row.args):
                    widths = enumerate(value) if isinstance(value, tuple) else [(None, value)]
                    params += [Int(f"{label}.{field}" + ("" if j is None else f"[{j}]"), *width_range(w), 8, when=when)
                               for j, w in widths]
    return tuple(params)


class InceptionSpace(Space):
    """Inception templates with per-module branch widths and module counts."""

    name = "inception"
    description = "Inception v1-v4 and Inception-ResNet-v2 templates: per-module branch widths and counts"
    fixed_points = ("googlenet", "googlenet_5x5", "inception_v2", "inception_v3", "inception_v4",
                    "inception_resnet_v2")
    limits = MappingProxyType({"min_resolution": Limit(lambda spec: spec.resolution, 160, upper=False,
                                                       unit="px of resolution")})  # evidence: the module docstring

    def parameters(self) -> tuple[Param, ...]:
        return PARAMETERS

    def suggest(self, trial: Any) -> NetSpec:
        """The template, the globals, then every row of its stem and stages in order."""
        name = trial.suggest_categorical("template", TEMPLATE_NAMES)
        low, high, step = RESOLUTIONS[name]
        resolution = trial.suggest_int("resolution", low, high, step=step)
        width = trial.suggest_float("width_mult", 0.5, 2.0, step=0.25)
        depth = trial.suggest_float("depth_mult", 0.5, 2.0, step=0.25)
        kernel = None
        if name == "googlenet":
            kernel = trial.suggest_categorical(f"{name}.kernel_size", GOOGLENET_KERNELS)
        base = TEMPLATES[name]

        def rows(prefix: str, template: tuple[Block, ...]) -> tuple[Block, ...]:
            return tuple(_row(trial, f"{prefix}.b{i}", row, width, depth, kernel) for i, row in enumerate(template, 1))

        stem = rows(f"{name}.stem", base.stem)
        stages = tuple(Stage(rows(f"{name}.s{s}", stage.blocks)) for s, stage in enumerate(base.stages, 1))
        return dataclasses.replace(base, stem=stem, stages=stages, resolution=resolution)

    def encode(self, spec: NetSpec) -> Params:
        """The template whose rows the spec follows, multipliers 1.0, and the spec's widths and counts."""
        for name, base in TEMPLATES.items():
            params = _match(name, base, spec)
            if params is not None:
                return params
        raise SpaceError(f"inception: the network follows none of the templates {', '.join(TEMPLATES)}")


def _same_layout(base: NetSpec, spec: NetSpec) -> bool:
    """Whether `spec` has the template's rows: the same cells in the same stem and stage positions."""
    def cells(rows: tuple[Block, ...]) -> list[str]:
        return [row.cell for row in rows]

    return cells(base.stem) == cells(spec.stem) and len(base.stages) == len(spec.stages) and all(
        cells(a.blocks) == cells(b.blocks) for a, b in zip(base.stages, spec.stages))


def _row_params(label: str, template: Block, row: Block) -> Params:
    """The parameters that make `_row` give `row` at multipliers 1.0."""
    params: Params = {f"{label}.repeats": row.repeats} if repeatable(template) else {}
    for name, value in width_fields(template.args):
        found = getattr(row.args, name)
        if isinstance(value, tuple):
            params.update({f"{label}.{name}[{j}]": v for j, v in enumerate(found)})
        else:
            params[f"{label}.{name}"] = found
    return params


def _match(name: str, base: NetSpec, spec: NetSpec) -> Params | None:
    """The parameters of `spec` read against template `name`, or None when its layout differs."""
    if not _same_layout(base, spec):
        return None
    params: Params = {"template": name, "resolution": spec.resolution, "width_mult": 1.0, "depth_mult": 1.0}
    if name == "googlenet":
        modules = [row for stage in spec.stages for row in stage.blocks if row.cell == "inception_v1"]
        params[f"{name}.kernel_size"] = modules[0].args.kernel_size
    for i, (template, row) in enumerate(zip(base.stem, spec.stem), 1):
        params.update(_row_params(f"{name}.stem.b{i}", template, row))
    for s, (template_stage, stage) in enumerate(zip(base.stages, spec.stages), 1):
        for i, (template, row) in enumerate(zip(template_stage.blocks, stage.blocks), 1):
            params.update(_row_params(f"{name}.s{s}.b{i}", template, row))
    return params


PARAMETERS = _declared()
SPACE = InceptionSpace()
