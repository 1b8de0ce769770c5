"""The `shuffle` space: ShuffleNet v1 and v2 networks (Megvii's and torchvision's layouts).

Stem: 3x3/2 conv (BN, ReLU) to 24 (v2: times `width_mult`) and a 3x3/2 max pool. Then `stages` stages of `s{s}.depth` units of one
kind (`unit`), each stage opening with a stride-2 unit, widths strictly growing from stage to stage.

- v1: `groups` for the grouped 1x1 convs; widths are multiples of 4 * groups (so the bottleneck,
  out // 4, splits into the groups); the very first unit's first 1x1 is ungrouped (Megvii).
- v2: widths multiples of 4, main branch out // 2; `s{s}.split` picks the stage's first unit:
  torchvision's projection branch is out // 2, Megvii's keeps the input width. The last stage ends with
  a 1x1 conv (BN, ReLU) to `last_conv.out_channels`.

`width_mult` (at most 1.0) scales the widths as `search_spaces.scale.multiply` does (v2: `scale_channels`,
the split kept; v1 rounds to multiples of 4 * groups), each stage kept wider than its input;
`depth_mult` multiplies the units per stage (ceil).
"""
from __future__ import annotations

from typing import Any

from search_spaces.cells.conv import ConvArgs, PoolArgs
from search_spaces.cells.head import ClassifierArgs
from search_spaces.cells.shuffle import ShuffleV1Args, ShuffleV2Args
from search_spaces.rounding import make_divisible, scale_channels
from search_spaces.spaces.base import Params, Space
from search_spaces.spaces.declared import Choice, Int
from search_spaces.spaces.multipliers import (
    Unreachable,
    base_depth,
    base_width,
    encode_first,
)
from search_spaces.spaces.multipliers import depth as multiply_depth
from search_spaces.spec import Block, NetSpec, Stage

STEM_CHANNELS = 24
UNITS = ("v2", "v1")
SPLITS = ("torchvision", "megvii")
GROUPS = (8, 4, 3, 2, 1)  # more groups: cheaper 1x1 convs
WIDTH_MULTS = (0.5, 0.75, 1.0)
DEPTH_MULTS = (1.0, 1.5)
HIGH = (512, 1024, 2048, 2048)  # widest output per stage
DEPTH = (1, 12)
LAST = (512, 2048, 256)  # v2's last 1x1 conv


def _low(in_channels: int, step: int) -> int:
    """The narrowest width a stage may have: the first multiple of `step` above its input."""
    return (in_channels // step + 1) * step


PARAMETERS = (  # what `suggest` draws, in its order (`declared`; tests/spaces/test_declared.py holds them to it)
    Int("resolution", 96, 320, 16), Choice("width_mult", WIDTH_MULTS), Choice("depth_mult", DEPTH_MULTS),
    Choice("unit", UNITS), Choice("groups", GROUPS, when="unit v1"), Int("stages", 2, 4),
    Int("s{s}.out_channels", 20, max(HIGH) + 32, 4, when="s <= stages",
        note="a multiple of 4 (v2) or of 4 * groups (v1) above the stage's input width, up to "
        + ", ".join(map(str, HIGH)) + " in stages 1-4 (one step more where the input is already that wide)"),
    Int("s{s}.depth", *DEPTH, when="s <= stages"), Choice("s{s}.split", SPLITS, when="s <= stages, unit v2"),
    Int("last_conv.out_channels", *LAST, when="unit v2"), Choice("head.dropout", (0.0, 0.2)),
    Choice("head.bias", (False, True)),
)

class ShuffleSpace(Space):
    """ShuffleNet v1 / v2 networks: unit kind, groups, per-stage widths and depths."""

    name = "shuffle"
    description = "ShuffleNet v1 (groups) and v2 (torchvision or Megvii split per stage): widths and depths"
    fixed_points = (
        "shufflenet_v1_g3", "shufflenet_v2_x0_5", "shufflenet_v2_x1_0", "shufflenet_v2_x1_5", "shufflenet_v2_x2_0",
        "shufflenet_v2_x0_5_megvii", "shufflenet_v2_x1_0_megvii", "shufflenet_v2_x1_5_megvii",
        "shufflenet_v2_x2_0_megvii",
    )

    def parameters(self) -> tuple:
        return PARAMETERS

    def suggest(self, trial: Any) -> NetSpec:
        resolution = trial.suggest_int("resolution", 96, 320, step=16)
        width = trial.suggest_categorical("width_mult", WIDTH_MULTS)
        deep = trial.suggest_categorical("depth_mult", DEPTH_MULTS)
        unit = trial.suggest_categorical("unit", UNITS)
        groups = trial.suggest_categorical("groups", GROUPS) if unit == "v1" else 0
        stem_channels = STEM_CHANNELS if unit == "v1" else scale_channels(STEM_CHANNELS, width)
        stages, channels = [], stem_channels
        for s in range(1, trial.suggest_int("stages", 2, 4) + 1):
            low, high, step = _out_range(s, channels, groups)
            out = _scaled(trial.suggest_int(f"s{s}.out_channels", low, high, step=step), width, low, step)
            repeats = multiply_depth(trial.suggest_int(f"s{s}.depth", *DEPTH), deep)
            if unit == "v1":
                args: Any = ShuffleV1Args(out, out // 4, groups, 2, ungrouped_first=(s == 1))
                stages.append([Block("shuffle_v1", args, repeats)])
            else:
                proj = out // 2 if trial.suggest_categorical(f"s{s}.split", SPLITS) == "torchvision" else channels
                stages.append([Block("shuffle_v2", ShuffleV2Args(out, out // 2, 2, proj), repeats)])
            channels = out
        if unit == "v2":
            last = scale_channels(trial.suggest_int("last_conv.out_channels", *LAST[:2], step=LAST[2]), width)
            stages[-1].append(Block("conv", ConvArgs(last, 1)))
        head = ClassifierArgs(dropout=trial.suggest_categorical("head.dropout", (0.0, 0.2)),
                              bias=trial.suggest_categorical("head.bias", (False, True)))
        stem = (Block("conv", ConvArgs(stem_channels, 3, 2)), Block("maxpool", PoolArgs(3, 2, 1)))
        return NetSpec(stem=stem, stages=tuple(Stage(tuple(rows)) for rows in stages),
                       head=(Block("classifier", head),), resolution=resolution)

    def encode(self, spec: NetSpec) -> Params:
        return encode_first(self, spec, self._encode, WIDTH_MULTS, DEPTH_MULTS)

    def _encode(self, spec: NetSpec, width: float, deep: float) -> Params:
        units = [stage.blocks[0] for stage in spec.stages]
        head = spec.head[0].args
        params: Params = {"resolution": spec.resolution, "width_mult": width, "depth_mult": deep,
                          "stages": len(units), "head.dropout": head.dropout, "head.bias": head.bias}
        v1 = units[0].cell == "shuffle_v1"
        groups = units[0].args.groups if v1 else 0
        params["unit"] = "v1" if v1 else "v2"
        if v1:
            params["groups"] = groups
        else:
            params["last_conv.out_channels"] = base_width(spec.stages[-1].blocks[-1].args.out_channels, width, *LAST)
        channels = spec.stem[0].args.out_channels
        if channels != (STEM_CHANNELS if v1 else scale_channels(STEM_CHANNELS, width)):
            raise Unreachable(channels)
        for s, unit in enumerate(units, 1):
            a = unit.args
            params[f"s{s}.out_channels"] = _base(a.out_channels, width, *_out_range(s, channels, groups))
            params[f"s{s}.depth"] = base_depth(unit.repeats, deep, *DEPTH)
            if not v1:
                params[f"s{s}.split"] = "torchvision" if a.proj_channels == a.out_channels // 2 else "megvii"
            channels = a.out_channels
        return params


def _out_range(stage: int, in_channels: int, groups: int) -> tuple[int, int, int]:
    """(low, high, step) of a stage's width: v1 multiples of 4 * groups, v2 of 4, above the input width."""
    step = 4 * groups if groups else 4
    low = _low(in_channels, step)
    return low, low + max(0, HIGH[stage - 1] - low) // step * step, step  # a whole number of steps


def _scaled(base: int, width: float, low: int, step: int) -> int:
    """A stage width under the multiplier: `scale_channels` (v2; v1 rounds to its step), kept >= low."""
    if width == 1.0:
        return base
    return max(low, scale_channels(base, width) if step == 4 else make_divisible(base * width, step))


def _base(value: int, width: float, low: int, high: int, step: int) -> int:
    """The smallest base width on the grid that `_scaled` maps to `value`."""
    for base in range(low, high + 1, step):
        if _scaled(base, width, low, step) == value:
            return base
    raise Unreachable(value)


SPACE = ShuffleSpace()
