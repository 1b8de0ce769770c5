"""The `shuffle` space: ShuffleNet v1 and v2 networks (Megvii's and torchvision's layouts).

Stem: 3x3/2 conv (BN, ReLU) to 24 and a 3x3/2 max pool. Then `stages` stages of `s{s}.depth` units of one
kind (`unit`), each stage opening with a stride-2 unit, widths strictly growing from stage to stage.

- v1: `groups` for the grouped 1x1 convs; widths are multiples of 4 * groups (so the bottleneck,
  out // 4, splits into the groups); the very first unit's first 1x1 is ungrouped (Megvii).
- v2: even widths (multiples of 4), main branch out // 2; `split` picks each stage's first unit:
  torchvision's projection branch is out // 2, Megvii's keeps the input width. The last stage ends with
  a 1x1 conv (BN, ReLU) to `last_conv.out_channels`.

`width_mult` (at most 1.0) scales the stage widths, each rounded to the unit's step and kept above the
input width (the last 1x1 conv keeps its width, as ShuffleNet v2's own 0.5x-1.5x keep 1024);
`depth_mult` multiplies the units per stage (ceil). Encode uses width 1.0 and the explicit widths.
"""
from __future__ import annotations

from typing import Any

from search_spaces.cells.conv import ConvArgs, PoolArgs
from search_spaces.cells.head import ClassifierArgs
from search_spaces.cells.shuffle import ShuffleV1Args, ShuffleV2Args
from search_spaces.scale import make_divisible
from search_spaces.spaces.base import Params, Space
from search_spaces.spaces.multipliers import base_depth, encode_first
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


def _low(in_channels: int, step: int) -> int:
    """The narrowest width a stage may have: the first multiple of `step` above its input."""
    return (in_channels // step + 1) * step


class ShuffleSpace(Space):
    """ShuffleNet v1 / v2 networks: unit kind, groups, per-stage widths and depths."""

    name = "shuffle"
    description = "ShuffleNet v1 (groups) and v2 (torchvision or Megvii split): per-stage widths and depths"
    fixed_points = (
        "shufflenet_v1_g3", "shufflenet_v2_x0_5", "shufflenet_v2_x1_0", "shufflenet_v2_x1_5", "shufflenet_v2_x2_0",
        "shufflenet_v2_x0_5_megvii", "shufflenet_v2_x1_0_megvii", "shufflenet_v2_x1_5_megvii",
        "shufflenet_v2_x2_0_megvii",
    )

    def suggest(self, trial: Any) -> NetSpec:
        resolution = trial.suggest_int("resolution", 96, 320, step=16)
        width = trial.suggest_categorical("width_mult", WIDTH_MULTS)
        deep = trial.suggest_categorical("depth_mult", DEPTH_MULTS)
        unit = trial.suggest_categorical("unit", UNITS)
        if unit == "v1":
            groups, split = trial.suggest_categorical("groups", GROUPS), ""
            step = 4 * groups
        else:
            groups, split, step = 0, trial.suggest_categorical("split", SPLITS), 4
        stages, channels = [], STEM_CHANNELS
        for s in range(1, trial.suggest_int("stages", 2, 4) + 1):
            low = _low(channels, step)
            out = trial.suggest_int(f"s{s}.out_channels", low, max(low, HIGH[s - 1]), step=step)
            if width != 1.0:
                out = max(low, make_divisible(out * width, step))
            repeats = multiply_depth(trial.suggest_int(f"s{s}.depth", *DEPTH), deep)
            if unit == "v1":
                args: Any = ShuffleV1Args(out, out // 4, groups, 2, ungrouped_first=(s == 1))
                stages.append([Block("shuffle_v1", args, repeats)])
            else:
                proj = out // 2 if split == "torchvision" else channels
                stages.append([Block("shuffle_v2", ShuffleV2Args(out, out // 2, 2, proj), repeats)])
            channels = out
        if unit == "v2":
            last = trial.suggest_int("last_conv.out_channels", 512, 2048, step=256)
            stages[-1].append(Block("conv", ConvArgs(last, 1)))
        head = ClassifierArgs(dropout=trial.suggest_categorical("head.dropout", (0.0, 0.2)),
                              bias=trial.suggest_categorical("head.bias", (False, True)))
        stem = (Block("conv", ConvArgs(STEM_CHANNELS, 3, 2)), Block("maxpool", PoolArgs(3, 2, 1)))
        return NetSpec(stem=stem, stages=tuple(Stage(tuple(rows)) for rows in stages),
                       head=(Block("classifier", head),), resolution=resolution)

    def encode(self, spec: NetSpec) -> Params:
        return encode_first(self, spec, self._encode, (1.0,), DEPTH_MULTS)

    def _encode(self, spec: NetSpec, width: float, deep: float) -> Params:
        units = [stage.blocks[0] for stage in spec.stages]
        first = units[0].args
        head = spec.head[0].args
        params: Params = {"resolution": spec.resolution, "width_mult": width, "depth_mult": deep,
                          "stages": len(units), "head.dropout": head.dropout, "head.bias": head.bias}
        if units[0].cell == "shuffle_v1":
            params |= {"unit": "v1", "groups": first.groups}
        else:
            tv = all(u.args.proj_channels == u.args.out_channels // 2 for u in units)
            split = "torchvision" if tv else "megvii"
            params |= {"unit": "v2", "split": split,
                       "last_conv.out_channels": spec.stages[-1].blocks[-1].args.out_channels}
        for s, unit in enumerate(units, 1):
            params[f"s{s}.out_channels"] = unit.args.out_channels
            params[f"s{s}.depth"] = base_depth(unit.repeats, deep, *DEPTH)
        return params


SPACE = ShuffleSpace()
