"""Elastic spaces: Once-for-All's MobileNetV3 space, grown from any mobile backbone.

An elastic space keeps a base network's stem, its first stage and its head, and makes every later run of
blocks of one width an elastic stage (MobileNetV3-Large: the widths 24, 40, 80, 112 and 160, OFA's five
stages) with the run's stride, activation and SE flag. A point picks, per elastic stage, its depth (the first
d blocks), and per block its depthwise kernel and expansion ratio; network-wide, a resolution and, when the
space offers several, a width multiplier of the elastic stages (OFA's w1.0 / w1.2). A block of expansion e on
c inputs expands to make_divisible(c * e); SE widths follow the base's rule (MobileNetV3: make_divisible of a
quarter of the expanded width; EfficientNet: a quarter of the block input).

Every point is a NetSpec of the `mobile` space as well (rows merged by mobile's own rule; the constructor
checks the extreme points of every width, and refuses choices that would leave `mobile`), so the existing
`build` and `count` serve it, and `search_spaces.supernet` runs all of its points from one set of weights.
`elastic_mbv3` (registered) is OFA-MBv3 around torchvision's mobilenet_v3_large: depths 2-4, kernels 3/5/7,
expansions 3/4/6, resolutions 128-224 step 16, with OFA's BN settings (see `SPACE`). `ElasticSpace.grow("efficientnet_b0", name=...)` grows one
from another mobile backbone.
"""
from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from search_spaces.cells.base import stride_one
from search_spaces.cells.mbconv import MBConvArgs
from search_spaces.errors import SpaceError
from search_spaces.rounding import make_divisible, scale_channels
from search_spaces.settings import Norm
from search_spaces.spaces.base import Params, Space
from search_spaces.spaces.declared import Choice, Int, Param
from search_spaces.spaces.mobile import KERNELS, RATIOS, RESOLUTIONS, _se_rule
from search_spaces.spaces.mobile import SPACE as MOBILE
from search_spaces.spaces.mobile import _append as merge_row  # mobile's row rule: points stay mobile points
from search_spaces.spec import NetSpec, Stage, spec_from_dict

DEPTHS = (2, 3, 4)
ELASTIC_KERNELS = (3, 5, 7)
EXPANDS = (3, 4, 6)
ELASTIC_RESOLUTIONS = (128, 144, 160, 176, 192, 208, 224)
MAX_DEPTH = 4  # a stage's blocks are mobile rows, and mobile allows four rows a stage


@dataclass(frozen=True)
class Unit:
    """One elastic stage, read off the base: its width before the multiplier, stride, activation, SE."""

    width: int
    stride: int
    activation: str
    se: bool


def _copies(stage: Stage) -> list[MBConvArgs | Any]:
    """The argument objects of every block of a stage, rows expanded."""
    return [args for b in stage.blocks for args in [b.args] + [stride_one(b.args)] * (b.repeats - 1)]


def _units(base: NetSpec) -> tuple[Unit, ...]:
    """The elastic stages of a base: each run of one width in its stages after the first."""
    units: list[Unit] = []
    for stage in base.stages[1:]:
        if any(b.cell != "mbconv" for b in stage.blocks):
            raise SpaceError("an elastic space grows from MBConv stages (after the first stage); this base has "
                             f"{sorted({b.cell for b in stage.blocks})} blocks")
        width = None
        for args in _copies(stage):
            if args.out_channels != width:
                units.append(Unit(args.out_channels, args.stride, args.activation, args.se_channels > 0))
                width = args.out_channels
    return tuple(units)


def _check_choices(name: str, values: Sequence[Any], allowed: Sequence[Any]) -> tuple[Any, ...]:
    values = tuple(values)
    if not values or len(set(values)) != len(values) or list(values) != sorted(values):
        raise SpaceError(f"elastic space {name} must be distinct values in increasing order, got {values}")
    bad = [v for v in values if v not in allowed or isinstance(v, bool)]
    if bad:
        raise SpaceError(f"elastic space {name} {bad} would leave the mobile space; allowed: {tuple(allowed)}")
    return values


class ElasticSpace(Space):
    """Elastic depth, kernel, expansion, resolution (and optionally width) around a mobile base network."""

    def __init__(self, base: NetSpec, name: str = "elastic", depths: Sequence[int] = DEPTHS,
                 kernels: Sequence[int] = ELASTIC_KERNELS, expands: Sequence[float] = EXPANDS,
                 resolutions: Sequence[int] = ELASTIC_RESOLUTIONS, widths: Sequence[float] = (1.0,),
                 base_name: str = "a custom base", norm: Norm | None = None):
        if not isinstance(base, NetSpec) or not MOBILE.contains(base):
            raise SpaceError(f"an elastic space grows from a point of the mobile space; {base_name} is not one")
        if norm is not None:  # the BN settings of every point (default: the base's)
            base = dataclasses.replace(base, norm=norm)
        self.name, self.base, self.base_name = name, base, base_name
        self.depths = _check_choices("depths", depths, range(1, MAX_DEPTH + 1))
        self.kernels = _check_choices("kernels", kernels, KERNELS)
        self.expands = _check_choices("expands", expands, RATIOS)
        self.resolutions = _check_choices("resolutions", resolutions, RESOLUTIONS)
        self.widths = _check_choices("widths", widths, [w for w in widths if isinstance(w, (int, float)) and w > 0])
        self.units = _units(base)
        if not self.units:
            raise SpaceError(f"{base_name} has no MBConv stage after its first: nothing to make elastic")
        first = base.stages[0].blocks[-1].args
        mbconvs = [b.args for s in base.stages for b in s.blocks if b.cell == "mbconv"]
        self.se_rule = _se_rule(base)
        self.se_activation, self.se_gate = mbconvs[0].se_activation, mbconvs[0].se_gate
        self.first_width = first.out_channels
        self.description = (f"elastic stages around {base_name} (Once-for-All style): per stage depth "
                            f"{'/'.join(map(str, self.depths))}, per block kernel {'/'.join(map(str, self.kernels))} "
                            f"and expansion {'/'.join(f'{e:g}' for e in self.expands)}, resolution"
                            + (f", width {'/'.join(f'{w:g}' for w in self.widths)}" if len(self.widths) > 1 else ""))
        for width in self.widths:  # the extremes of every width are mobile points, so every point is
            for spec in (self.point(width=width, pick=0), self.point(width=width, pick=-1)):
                if not MOBILE.contains(spec):
                    raise SpaceError(f"elastic space around {base_name}: width {width:g} gives networks outside the "
                                     "mobile space (each stage's width must stay within half and twice the previous "
                                     "one, in multiples of 8)")

    @classmethod
    def grow(cls, backbone: str, name: str | None = None, **choices: Any) -> ElasticSpace:
        """An elastic space around the named mobile backbone (`search_spaces.backbones`)."""
        from search_spaces import backbones

        return cls(backbones.get(backbone), name or f"elastic_{backbone}", base_name=backbone, **choices)

    def to_dict(self) -> dict[str, Any]:
        """Plain data that `from_dict` rebuilds the space from (a supernet's run directory keeps it)."""
        return {"name": self.name, "base_name": self.base_name, "base": self.base.to_dict(),
                "depths": list(self.depths), "kernels": list(self.kernels), "expands": list(self.expands),
                "resolutions": list(self.resolutions), "widths": list(self.widths)}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> ElasticSpace:
        """The space `to_dict` described."""
        try:
            return cls(spec_from_dict(data["base"]), data["name"], data["depths"], data["kernels"], data["expands"],
                       data["resolutions"], data["widths"], data["base_name"])
        except (KeyError, TypeError) as err:
            raise SpaceError(f"not an elastic space description ({type(err).__name__}: {err})") from None

    def __eq__(self, other: object) -> bool:
        return isinstance(other, ElasticSpace) and self.to_dict() == other.to_dict()

    def __hash__(self) -> int:
        return hash((self.name, self.base.digest()))

    def stage_names(self) -> list[str]:
        """The module names of the elastic stages (`s2`..): the first stage is the base's, kept fixed."""
        return [f"s{s}" for s in range(2, len(self.units) + 2)]

    def parameters(self) -> tuple[Param, ...]:
        """What `suggest` draws, in its order (`declared`): from this space's choices."""
        stage = f"2 <= s <= {len(self.units) + 1}"
        depth = (Int("s{s}.depth", self.depths[0], self.depths[-1], when=stage)
                 if list(self.depths) == list(range(self.depths[0], self.depths[-1] + 1))
                 else Choice("s{s}.depth", self.depths, when=stage))
        return ((Choice("resolution", self.resolutions),) + ((Choice("width", self.widths),) if len(self.widths) > 1
                                                              else ())
                + (depth, Choice("s{s}.b{j}.kernel_size", self.kernels, when=stage + ", j <= s{s}.depth"),
                   Choice("s{s}.b{j}.expand_ratio", self.expands, when=stage + ", j <= s{s}.depth")))

    def suggest(self, trial: Any) -> NetSpec:
        resolution = trial.suggest_categorical("resolution", self.resolutions)
        width = trial.suggest_categorical("width", self.widths) if len(self.widths) > 1 else self.widths[0]
        contiguous = list(self.depths) == list(range(self.depths[0], self.depths[-1] + 1))
        stages, channels = [self.base.stages[0]], self.first_width
        for s, unit in zip(range(2, len(self.units) + 2), self.units):
            if contiguous:
                depth = trial.suggest_int(f"s{s}.depth", self.depths[0], self.depths[-1])
            else:
                depth = trial.suggest_categorical(f"s{s}.depth", self.depths)
            picks = [(trial.suggest_categorical(f"s{s}.b{j}.kernel_size", self.kernels),
                      trial.suggest_categorical(f"s{s}.b{j}.expand_ratio", self.expands)) for j in range(1, depth + 1)]
            stage, channels = self._stage(unit, width, channels, picks)
            stages.append(stage)
        return dataclasses.replace(self.base, stages=tuple(stages), resolution=resolution)

    def _stage(self, unit: Unit, width: float, channels: int, picks: list[tuple[int, float]]) -> tuple[Stage, int]:
        """A stage of blocks (kernel, expansion) on `channels` inputs, and its output width."""
        out, blocks = scale_channels(unit.width, width), []
        for j, (kernel, expand) in enumerate(picks):
            cin = channels if j == 0 else out
            mid = make_divisible(cin * expand)
            se = 0
            if unit.se:
                se = max(1, cin // 4) if self.se_rule == "input" else make_divisible(mid // 4)
            args = MBConvArgs(out, mid, kernel, unit.stride if j == 0 else 1, unit.activation, se,
                              self.se_activation, self.se_gate)
            merge_row(blocks, "mbconv", args, 1)
        return Stage(tuple(blocks)), out

    def point(self, width: float | None = None, pick: int = -1, resolution: int | None = None) -> NetSpec:
        """The point taking choice `pick` of every choice (-1: the largest, 0: the smallest)."""
        params: Params = {"resolution": resolution or self.resolutions[pick]}
        if len(self.widths) > 1:
            params["width"] = self.widths[pick] if width is None else width
        elif width not in (None, self.widths[0]):
            raise SpaceError(f"{self.name} has the one width {self.widths[0]:g}, not {width:g}")
        for s in range(2, len(self.units) + 2):
            params[f"s{s}.depth"] = self.depths[pick]
            for j in range(1, self.depths[pick] + 1):
                params |= {f"s{s}.b{j}.kernel_size": self.kernels[pick], f"s{s}.b{j}.expand_ratio": self.expands[pick]}
        return self.decode(params)

    def largest(self) -> NetSpec:
        """The largest point (every choice at its top): the network a supernet is made from."""
        return self.point(pick=-1)

    def encode(self, spec: NetSpec) -> Params:
        if not isinstance(spec, NetSpec) or (spec.stem, spec.head, spec.neck, spec.in_channels, spec.num_classes) != (
                self.base.stem, self.base.head, self.base.neck, self.base.in_channels, self.base.num_classes):
            raise SpaceError(f"{self.name}: not the stem, head, channels and classes of {self.base_name}")
        if len(spec.stages) != len(self.units) + 1 or spec.stages[0] != self.base.stages[0]:
            raise SpaceError(f"{self.name}: not the stages of {self.base_name}")
        params: Params = {"resolution": spec.resolution}
        outs = [stage.blocks[-1].args.out_channels for stage in spec.stages[1:]]
        width = next((w for w in self.widths if [scale_channels(u.width, w) for u in self.units] == outs), None)
        if width is None:
            raise SpaceError(f"{self.name}: stage widths {outs} are not those of any width multiplier")
        if len(self.widths) > 1:
            params["width"] = width
        channels = self.first_width
        for s, stage in enumerate(spec.stages[1:], 2):
            blocks = _copies(stage)
            if any(b.cell != "mbconv" for b in stage.blocks) or len(blocks) not in self.depths:
                raise SpaceError(f"{self.name}: stage s{s} is not {'/'.join(map(str, self.depths))} MBConv blocks")
            params[f"s{s}.depth"] = len(blocks)
            for j, args in enumerate(blocks, 1):
                cin = channels if j == 1 else args.out_channels
                expand = next((e for e in self.expands if make_divisible(cin * e) == args.mid_channels), None)
                if expand is None:
                    raise SpaceError(f"{self.name}: block s{s}.b{j} expands {cin} to {args.mid_channels}, no ratio of "
                                     f"{self.expands} does")
                params |= {f"s{s}.b{j}.kernel_size": args.kernel_size, f"s{s}.b{j}.expand_ratio": expand}
            channels = blocks[-1].out_channels
        return params


# Once-for-All's BN settings (momentum 0.1, eps 1e-5: OFA's MobileNetV3 `bn_param`), not torchvision's (0.01,
# 1e-3): with momentum 0.01 the running statistics of a 2-epoch proxy (225 steps on the default data) still
# lag the weights, and stand-alone trained points scored at chance (the smallest, the largest and a random
# point: 10.3 %, 11.8 %, 8.5 % validation accuracy; with 0.1 the smallest and the random one reach 93.3 % and
# 94.5 %). A supernet's sub-networks are recalibrated before they are scored either way.
SPACE = ElasticSpace.grow("mobilenet_v3_large", name="elastic_mbv3", norm=Norm())
