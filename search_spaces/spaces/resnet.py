"""The ResNet space: AnyNet-style stages of residual blocks (Radosavovic et al. 2020, pycls anynet.py).

A point is a stem (ResNet's 7x7/2 conv + 3x3/2 max pool, its Caffe form with a ceil-mode unpadded pool, or
RegNet's 3x3/2 conv) and 3 to 5 stages. Each stage draws its block kind and its own depth, stride (the
stride placement: 1 or 2, a choice once the network has reached output stride 4, 8, 16, 16, 16 after
stages 1-5, as ResNet's first stage and DetNet's last two do; otherwise 2) and output width, then the
kind's options:

- `basic`: ResNet-18/34's two 3x3s, optional SE (out_channels // reduction);
- `bottleneck`: bottleneck ratio (mid = out * ratio) and group width (ResNeXt, RegNet), dilation (DetNet),
  the stride on the first 1x1 (MSRA v1) or on the 3x3, SE after the last conv, HetConv's part P, and
  whether the stage has Zhu et al.'s generalized attention after the 3x3 (`{stage}.attention`; 8 heads,
  key/value stride 2, as the authors' released detectors); the first stage that has it draws the one
  four-term pattern every stage uses (`attention_pattern`, '0000'..'1111');
- `regnet`: RegNet's X / Y block (a bottleneck with SE after the 3x3 of round(block input * se_ratio)
  channels; where that makes a stage's first block and its copies differ, they are separate rows);
- `res2net`: Res2Net's block with timm's base width (split = out / 4 * base_width / 64) and scale.

The bottleneck width is rounded to a multiple of lcm(8, group width) as pycls does, so groups always
divide it. Global `width_mult` and `depth_mult` scale every drawn width (make_divisible) and depth (ceil),
clamped to the parameter ranges, so a scaled network is again a point; `encode` writes multipliers of
1.0 and the explicit per-stage values, searching the few ratio / group-width / SE options that give them.
"""
from __future__ import annotations

import dataclasses
import math
from collections.abc import Callable
from typing import Any

from search_spaces.cells.conv import ConvArgs, PoolArgs
from search_spaces.cells.generalized_attention import PATTERNS, GeneralizedAttentionArgs
from search_spaces.cells.head import ClassifierArgs
from search_spaces.cells.res2net import Res2NetArgs
from search_spaces.cells.residual import BasicArgs, BottleneckArgs
from search_spaces.errors import SpaceError
from search_spaces.rounding import scale_channels
from search_spaces.spaces.base import Params, Space
from search_spaces.spaces.declared import Choice, Float, Int
from search_spaces.spec import Block, NetSpec, Stage

STEMS = ("resnet", "caffe", "simple")  # 7x7/2 + maxpool 3/2 pad 1; the same, pool unpadded ceil-mode; 3x3/2
KINDS = ("basic", "bottleneck", "regnet", "res2net")
MAX_DEPTH = (4, 8, 36, 8, 8)  # per stage index: ResNet-152 has 36 blocks in stage 3
MAX_WIDTH = (256, 512, 1024, 2048, 2048)  # per stage index: ResNet-50's widths, DetNet's fifth stage
MIN_WIDTH = 16
STRIDES = (2, 1)
RATIOS = (0.25, 0.5, 1.0)  # bottleneck width / out_channels: ResNet, ResNeXt-32x4d, RegNet
GROUP_WIDTHS = (4, 8, 16, 24, 32, 48, 64, 0)  # channels per group of the 3x3; 0: one group (ResNet)
SE_REDUCTIONS = (0, 16, 8, 4)  # se_channels = out_channels // r; 0: no SE
SE_RATIOS = (0.0, 0.25)  # RegNetY: round(block input width * 0.25)
DILATIONS = (1, 2)
PARTS = (8, 4, 2, 1)  # HetConv P, cheapest first; 1: a plain 3x3
BASE_WIDTHS = (14, 26, 48)  # Res2Net (timm's variants 14w_8s, 26w_4s..8s, 48w_2s)
SCALES = (2, 4, 6, 8)
PROJECTIONS = {"auto": None, "always": True}  # asked only where the shape does not change
ATTENTION = (False, True)  # a stage's generalized attention after every bottleneck 3x3; none first (cheaper)
ATTENTION_HEADS, ATTENTION_KV_STRIDE = 8, 2  # mmdetection configs/empirical_attention
HEAD = (Block("classifier", ClassifierArgs()),)


def _stem(kind: str, width: int) -> tuple[Block, ...]:
    """The stem rows of a stem kind."""
    if kind == "simple":
        return (Block("conv", ConvArgs(width, 3, 2)),)
    pool = PoolArgs(3, 2, 1) if kind == "resnet" else PoolArgs(3, 2, 0, ceil_mode=True)
    return Block("conv", ConvArgs(width, 7, 2)), Block("maxpool", pool)


def bottleneck_width(out_channels: int, ratio: float, group_width: int) -> tuple[int, int]:
    """(mid_channels, groups): out * ratio rounded to a multiple of lcm(8, group width), pycls's rule."""
    quantum = math.lcm(8, group_width) if group_width else 8
    mid = max(quantum, round(out_channels * ratio / quantum) * quantum)  # pycls's quantize_float (half-even)
    return mid, mid // group_width if group_width else 1


def _se(out_channels: int, reduction: int) -> int:
    return out_channels // reduction if reduction else 0


def stride_is_free(index: int, reach: int) -> bool:
    """Whether stage `index` (0-based) may keep stride 1: the network already has output stride `reach` of
    at least min(16, 2 ** (index + 2)), so no map stays larger than ResNet's or DetNet's."""
    return reach >= min(16, 2 ** (index + 2))


def _projection(trial: Any, p: str, in_channels: int, out_channels: int, stride: int) -> bool | None:
    """The shortcut flag: a choice only where the shapes match (elsewhere it always projects)."""
    if stride != 1 or in_channels != out_channels:
        return None
    return PROJECTIONS[trial.suggest_categorical(f"{p}.projection", tuple(PROJECTIONS))]


def _basic(trial: Any, p: str, c_in: int, out: int, stride: int, depth: int) -> tuple[Block, ...]:
    se = _se(out, trial.suggest_categorical(f"{p}.se_reduction", SE_REDUCTIONS))
    args = BasicArgs(out, stride, _projection(trial, p, c_in, out, stride), se)
    return (Block("basic", args, depth),)


def _bottleneck(trial: Any, p: str, c_in: int, out: int, stride: int, depth: int) -> tuple[Block, ...]:
    mid, groups = bottleneck_width(out, trial.suggest_categorical(f"{p}.bottleneck_ratio", RATIOS),
                                   trial.suggest_categorical(f"{p}.group_width", GROUP_WIDTHS))
    dilation = trial.suggest_categorical(f"{p}.dilation", DILATIONS)
    stride_in_1x1 = trial.suggest_categorical(f"{p}.stride_in_1x1", (True, False))
    se = _se(out, trial.suggest_categorical(f"{p}.se_reduction", SE_REDUCTIONS))
    part = trial.suggest_categorical(f"{p}.part", PARTS) if groups == 1 and dilation == 1 else 1
    args = BottleneckArgs(out, mid, stride, groups, dilation, stride_in_1x1,
                          _projection(trial, p, c_in, out, stride), se,
                          conv="hetconv" if part > 1 else "conv", part=part,
                          generalized_attention=_attention(trial, p))
    return (Block("bottleneck", args, depth),)


def _attention(trial: Any, p: str) -> GeneralizedAttentionArgs | None:
    """The stage's generalized attention: on or off, and (drawn by the first stage that has it, then replayed
    by the others) the pattern of its four terms."""
    if not trial.suggest_categorical(f"{p}.attention", ATTENTION):
        return None
    pattern = trial.suggest_categorical("attention_pattern", PATTERNS)
    return GeneralizedAttentionArgs(ATTENTION_HEADS, pattern, ATTENTION_KV_STRIDE)


def _regnet(trial: Any, p: str, c_in: int, out: int, stride: int, depth: int) -> tuple[Block, ...]:
    mid, groups = bottleneck_width(out, trial.suggest_categorical(f"{p}.bottleneck_ratio", RATIOS),
                                   trial.suggest_categorical(f"{p}.group_width", GROUP_WIDTHS))
    se_ratio = trial.suggest_categorical(f"{p}.se_ratio", SE_RATIOS)
    first = BottleneckArgs(out, mid, stride, groups, se_channels=round(c_in * se_ratio), se_position="mid")
    rest = BottleneckArgs(out, mid, 1, groups, se_channels=round(out * se_ratio), se_position="mid")
    if depth == 1 or rest == dataclasses.replace(first, stride=1):  # the copies are plain repeats
        return (Block("bottleneck", first, depth),)
    return Block("bottleneck", first), Block("bottleneck", rest, depth - 1)


def res2net_split(out_channels: int, base_width: int) -> int:
    """timm's Res2Net split width: planes * base_width // 64 with planes = out_channels // 4."""
    return max(1, out_channels // 4 * base_width // 64)


def _res2net(trial: Any, p: str, c_in: int, out: int, stride: int, depth: int) -> tuple[Block, ...]:
    split = res2net_split(out, trial.suggest_categorical(f"{p}.base_width", BASE_WIDTHS))
    scale = trial.suggest_categorical(f"{p}.scale", SCALES)
    args = Res2NetArgs(out, split, scale, stride, stage_first=True,
                       projection=_projection(trial, p, c_in, out, stride))
    return (Block("res2net", args, depth),)


BUILDERS: dict[str, Callable[..., tuple[Block, ...]]] = {
    "basic": _basic, "bottleneck": _bottleneck, "regnet": _regnet, "res2net": _res2net,
}


def _clamp(value: int, low: int, high: int) -> int:
    return min(max(value, low), high)


def _stem_kind(stem: tuple[Block, ...]) -> str:
    """The stem kind a spec's stem looks like (decode checks the rest)."""
    if len(stem) == 1:
        return "simple"
    return "resnet" if getattr(stem[1].args, "padding", 1) else "caffe"


def _find(label: str, choices: tuple[Any, ...], gives: Callable[[Any], bool]) -> Any:
    """The first choice of a parameter that reproduces the spec's value; SpaceError if none does."""
    for choice in choices:
        if gives(choice):
            return choice
    raise SpaceError(f"resnet: no value of {label!r} gives this block")


def _encode_projection(p: str, args: Any, c_in: int) -> Params:
    if args.stride != 1 or c_in != args.out_channels:
        return {}
    return {f"{p}.projection": "always" if args.projection else "auto"}


def _encode_width(p: str, args: BottleneckArgs) -> Params:
    """The (ratio, group width) pair that gives the block's bottleneck width and groups."""
    for ratio in RATIOS:
        for group_width in sorted(GROUP_WIDTHS, key=bool):  # 0 first: one group is 0, not a group width >= mid
            if bottleneck_width(args.out_channels, ratio, group_width) == (args.mid_channels, args.groups):
                return {f"{p}.bottleneck_ratio": ratio, f"{p}.group_width": group_width}
    raise SpaceError(f"resnet: {p} mid_channels={args.mid_channels} with groups={args.groups} is off the "
                     "ratio and group-width grid")


def _encode_basic(p: str, args: BasicArgs, c_in: int) -> Params:
    se = _find(f"{p}.se_reduction", SE_REDUCTIONS, lambda r: _se(args.out_channels, r) == args.se_channels)
    return {f"{p}.se_reduction": se} | _encode_projection(p, args, c_in)


def _encode_bottleneck(p: str, args: BottleneckArgs, c_in: int) -> Params:
    params = _encode_width(p, args) | {f"{p}.dilation": args.dilation, f"{p}.stride_in_1x1": args.stride_in_1x1}
    params[f"{p}.se_reduction"] = _find(f"{p}.se_reduction", SE_REDUCTIONS,
                                        lambda r: _se(args.out_channels, r) == args.se_channels)
    if args.groups == 1 and args.dilation == 1:
        params[f"{p}.part"] = args.part
    return params | _encode_projection(p, args, c_in) | _encode_attention(p, args.generalized_attention)


def _encode_attention(p: str, attention: GeneralizedAttentionArgs | None) -> Params:
    """`{p}.attention` and the pattern; SpaceError for a module off the space's heads and stride."""
    if attention is None:
        return {f"{p}.attention": False}
    if attention != GeneralizedAttentionArgs(ATTENTION_HEADS, attention.pattern, ATTENTION_KV_STRIDE):
        raise SpaceError(f"resnet: {p} generalized attention must have {ATTENTION_HEADS} heads, key/value stride "
                         f"{ATTENTION_KV_STRIDE} and no other option set")
    return {f"{p}.attention": True, "attention_pattern": attention.pattern}


def _encode_regnet(p: str, args: BottleneckArgs, c_in: int) -> Params:
    se = _find(f"{p}.se_ratio", SE_RATIOS, lambda r: round(c_in * r) == args.se_channels)
    return _encode_width(p, args) | {f"{p}.se_ratio": se}


def _encode_res2net(p: str, args: Res2NetArgs, c_in: int) -> Params:
    base = _find(f"{p}.base_width", BASE_WIDTHS, lambda b: res2net_split(args.out_channels, b) == args.split_channels)
    return {f"{p}.base_width": base, f"{p}.scale": args.scale} | _encode_projection(p, args, c_in)


ENCODERS: dict[str, Callable[[str, Any, int], Params]] = {
    "basic": _encode_basic, "bottleneck": _encode_bottleneck, "regnet": _encode_regnet, "res2net": _encode_res2net,
}


def encode_stage(p: str, stage: Stage, c_in: int, free_stride: bool) -> Params:
    """The parameters of one stage (label prefix `p`) whose input has `c_in` channels."""
    first = stage.blocks[0]
    kind = first.cell if first.cell in ("basic", "res2net") else None
    if first.cell == "bottleneck":
        kind = "regnet" if first.args.se_position == "mid" else "bottleneck"
    if kind is None:
        raise SpaceError(f"resnet: stage {p} opens with a {first.cell} cell, not a residual block")
    params: Params = {
        f"{p}.kind": kind, f"{p}.depth": sum(block.repeats for block in stage.blocks),
        f"{p}.out_channels": first.args.out_channels,
    }
    if free_stride:
        params[f"{p}.stride"] = first.args.stride
    return params | ENCODERS[kind](p, first.args, c_in)


STAGE = "s <= num_stages"
PARAMETERS = (  # what `suggest` draws, in its order (`declared`; tests/spaces/test_declared.py holds them to it)
    Int("resolution", 96, 320, 32), Float("width_mult", 0.5, 2.0, 0.25), Float("depth_mult", 0.5, 2.0, 0.25),
    Choice("stem", STEMS), Int("stem_width", 16, 128, 8), Int("num_stages", 3, 5),
    Choice("s{s}.kind", KINDS, when=STAGE),
    Int("s{s}.depth", 1, max(MAX_DEPTH), when=STAGE, note="at most " + ", ".join(map(str, MAX_DEPTH)) + " in stages 1-5"),
    Choice("s{s}.stride", STRIDES, when=STAGE + ", once the output stride before it is at least 4, 8, 16, 16, 16 "
           "(stages 1-5; else 2)"),
    Int("s{s}.out_channels", MIN_WIDTH, max(MAX_WIDTH), 8, when=STAGE,
        note="at most " + ", ".join(map(str, MAX_WIDTH)) + " in stages 1-5"),
    Choice("s{s}.bottleneck_ratio", RATIOS, when=STAGE + ", s{s}.kind bottleneck or regnet"),
    Choice("s{s}.group_width", GROUP_WIDTHS, when=STAGE + ", s{s}.kind bottleneck or regnet"),
    Choice("s{s}.dilation", DILATIONS, when=STAGE + ", s{s}.kind bottleneck"),
    Choice("s{s}.stride_in_1x1", (True, False), when=STAGE + ", s{s}.kind bottleneck"),
    Choice("s{s}.se_reduction", SE_REDUCTIONS, when=STAGE + ", s{s}.kind basic or bottleneck"),
    Choice("s{s}.part", PARTS, when=STAGE + ", s{s}.kind bottleneck with one group and dilation 1"),
    Choice("s{s}.se_ratio", SE_RATIOS, when=STAGE + ", s{s}.kind regnet"),
    Choice("s{s}.base_width", BASE_WIDTHS, when=STAGE + ", s{s}.kind res2net"),
    Choice("s{s}.scale", SCALES, when=STAGE + ", s{s}.kind res2net"),
    Choice("s{s}.projection", tuple(PROJECTIONS), when=STAGE + ", s{s}.kind basic, bottleneck or res2net, where the "
           "stage keeps its input's shape (stride 1, same width)"),
    Choice("s{s}.attention", ATTENTION, when=STAGE + ", s{s}.kind bottleneck"),
    Choice("attention_pattern", PATTERNS, when="some stage has s{s}.attention true (drawn by the first, the same "
           "pattern in every stage)"),
)


class ResNetSpace(Space):
    """AnyNet-style residual networks; the ResNet, ResNeXt, SE, Res2Net, RegNet, DetNet, HetConv points."""

    name = "resnet"
    description = ("AnyNet-style residual stages: basic, bottleneck (groups, SE, HetConv, dilation, generalized "
                   "attention), RegNet, Res2Net")
    fixed_points = (
        "resnet18", "resnet34", "resnet50", "resnet101", "resnet152", "resnet50_v1", "resnext50_32x4d",
        "seresnet50", "legacy_seresnet50", "res2net50_26w_4s", "res2net101_26w_4s", "regnetx_600mf",
        "regnety_600mf", "detnet59", "detnet59_v1", "hetconv_resnet50", "resnet50_ga_0010",
    )

    def parameters(self) -> tuple:
        return PARAMETERS

    def suggest(self, trial: Any) -> NetSpec:
        """Globals, the stem, then each stage: kind, depth, stride, width and the kind's options."""
        resolution = trial.suggest_int("resolution", 96, 320, step=32)
        width = trial.suggest_float("width_mult", 0.5, 2.0, step=0.25)
        depth_mult = trial.suggest_float("depth_mult", 0.5, 2.0, step=0.25)
        stem_kind = trial.suggest_categorical("stem", STEMS)
        stem_width = _clamp(scale_channels(trial.suggest_int("stem_width", 16, 128, step=8), width), 16, 128)
        stages, c_in, reach = [], stem_width, 2 if stem_kind == "simple" else 4
        for i in range(trial.suggest_int("num_stages", 3, 5)):
            p = f"s{i + 1}"
            kind = trial.suggest_categorical(f"{p}.kind", KINDS)
            depth = math.ceil(trial.suggest_int(f"{p}.depth", 1, MAX_DEPTH[i]) * depth_mult)
            depth = _clamp(depth, 1, MAX_DEPTH[i])
            stride = trial.suggest_categorical(f"{p}.stride", STRIDES) if stride_is_free(i, reach) else 2
            reach *= stride
            out = trial.suggest_int(f"{p}.out_channels", MIN_WIDTH, MAX_WIDTH[i], step=8)
            out = _clamp(scale_channels(out, width), MIN_WIDTH, MAX_WIDTH[i])
            stages.append(Stage(BUILDERS[kind](trial, p, c_in, out, stride, depth)))
            c_in = out
        return NetSpec(_stem(stem_kind, stem_width), tuple(stages), HEAD, resolution=resolution)

    def encode(self, spec: NetSpec) -> Params:
        """Multipliers 1.0 and the explicit stem, stage and block values of `spec`."""
        if not spec.stem or spec.stem[0].cell != "conv" or not 3 <= len(spec.stages) <= 5:
            raise SpaceError("resnet: needs a conv stem and 3 to 5 stages")
        stem = spec.stem[0].args
        params: Params = {
            "resolution": spec.resolution, "width_mult": 1.0, "depth_mult": 1.0,
            "stem": _stem_kind(spec.stem),
            "stem_width": stem.out_channels, "num_stages": len(spec.stages),
        }
        c_in, reach = stem.out_channels, 2 if params["stem"] == "simple" else 4
        for i, stage in enumerate(spec.stages):
            found = encode_stage(f"s{i + 1}", stage, c_in, stride_is_free(i, reach))
            pattern = found.get("attention_pattern")
            if pattern is not None and params.setdefault("attention_pattern", pattern) != pattern:
                raise SpaceError("resnet: every stage with generalized attention uses one pattern, got "
                                 f"{params['attention_pattern']!r} and {pattern!r}")
            params.update(found)
            c_in, reach = stage.blocks[0].args.out_channels, reach * stage.blocks[0].args.stride
        return params


SPACE = ResNetSpace()
