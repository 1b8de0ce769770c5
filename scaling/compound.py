"""Compound scaling (Tan & Le 2019): depth alpha^phi, width beta^phi, resolution gamma^phi, together.

With alpha * beta^2 * gamma^2 close to 2, each step of phi roughly doubles the multiply-adds. Every scaled
network goes through the one spec transform of the toolkit, `search_spaces.scale.multiply` (channels
made divisible by 8 and never below 90 % of the target, repeats rounded up), and the resolution through
the same `make_divisible` rule. A network that refuses that side (BN-Inception, whose stride-2 branches
disagree on odd maps, takes multiples of 32) gets the multiple of 8 nearest the exact side that it accepts.
A scaled network is a point of its base's search space only where the space's ranges reach its widths,
depths and side (EfficientNet-B1..B7 are points of `mobile`); the spaces scale by their own multipliers,
which `multiply` applies in the same way. Those roundings make the multiply-adds grow in jumps, not at
alpha beta^2 gamma^2 per phi; `explain_phi` says which rounding moved in a step (what `nas scale --to` prints).
"""
from __future__ import annotations

from dataclasses import dataclass

from search_spaces.counting import count, stage_shapes
from search_spaces.errors import NasError, SpecError
from search_spaces.rounding import make_divisible
from search_spaces.scale import multiply
from search_spaces.spec import NetSpec


class ScalingError(NasError):
    """A scaling coefficient or target is out of range."""


@dataclass(frozen=True)
class CompoundScaling:
    """The three coefficients; EfficientNet's grid-searched 1.2, 1.1, 1.15 by default."""

    alpha: float = 1.2  # depth per step of phi
    beta: float = 1.1  # width per step of phi
    gamma: float = 1.15  # resolution per step of phi

    def __post_init__(self) -> None:
        for name in ("alpha", "beta", "gamma"):
            value = getattr(self, name)
            if not isinstance(value, (int, float)) or not 1.0 <= value <= 4.0:
                raise ScalingError(f"compound scaling {name} must be in [1, 4], got {value!r}")

    @property
    def flops_factor(self) -> float:
        """alpha * beta^2 * gamma^2: the multiply-add growth per step of phi (before rounding)."""
        return self.alpha * self.beta**2 * self.gamma**2

    def coefficients(self, phi: float) -> tuple[float, float, float]:
        """(depth, width, resolution) multipliers at `phi`."""
        if not -4.0 <= phi <= 16.0:
            raise ScalingError(f"phi must be in [-4, 16], got {phi}")
        return self.alpha**phi, self.beta**phi, self.gamma**phi


def scale_resolution(resolution: int, factor: float) -> int:
    """The input side under a resolution multiplier, by the toolkit's one rounding rule (multiple of 8)."""
    return resolution if factor == 1.0 else make_divisible(resolution * factor)


def scale(spec: NetSpec, phi: float | None = None, scaling: CompoundScaling = CompoundScaling(), *,
          width: float | None = None, depth: float | None = None, resolution: int | None = None) -> NetSpec:
    """`spec` scaled by phi steps of `scaling`, or by explicit width and depth multipliers and an explicit
    input side in pixels (EfficientNet's published triples: width 1.1, depth 1.2, resolution 260 is B2)."""
    if phi is not None and any(v is not None for v in (width, depth, resolution)):
        raise ScalingError("give either phi or explicit width/depth/resolution, not both")
    factor = None
    if phi is not None:
        depth, width, factor = scaling.coefficients(phi)
        resolution = scale_resolution(spec.resolution, factor)
    width, depth = width or 1.0, depth or 1.0
    for name, value in (("width", width), ("depth", depth)):
        if not 0.05 <= value <= 64:
            raise ScalingError(f"{name} multiplier must be in [0.05, 64], got {value}")
    try:
        return multiply(spec, width=width, depth=depth, resolution=resolution)
    except SpecError:
        if factor is None or factor == 1.0:
            raise  # an explicit side is the caller's, and phi 0 is the base network itself
        return _nearest_side(spec, width, depth, spec.resolution * factor, resolution)


def _nearest_side(spec: NetSpec, width: float, depth: float, exact: float, refused: int) -> NetSpec:
    """`multiply` at the multiple of 8 nearest `exact` (within 64 px) that the network accepts; the error of
    the `refused` side when none does (the trouble is then not the side: e.g. a width that breaks groups)."""
    sides = sorted(range(max(8, refused - 64), refused + 65, 8), key=lambda side: (abs(side - exact), side))
    for side in sides:
        if side != refused:
            try:
                return multiply(spec, width=width, depth=depth, resolution=side)
            except SpecError:
                continue
    return multiply(spec, width=width, depth=depth, resolution=refused)  # raises its own error


def largest_phi(spec: NetSpec, budget: int, scaling: CompoundScaling = CompoundScaling(), step: float = 0.05,
                limit: float = 16.0) -> tuple[float, NetSpec]:
    """The largest phi (on a `step` grid from 0) whose scaled network fits `budget` multiply-adds."""
    choice = explain_phi(spec, budget, scaling, step, limit)
    return choice.phi, choice.spec


@dataclass(frozen=True)
class Jump:
    """One step of phi: the multiply-adds before and after it, and each rounding that moved in it."""

    phi_from: float
    phi: float
    macs_from: int
    macs: int
    changes: tuple[str, ...]  # 'depth: blocks per stage 2, 2, 2, 2 -> 3, 3, 3, 3', 'resolution: 224 -> 232 px'

    @property
    def growth(self) -> float:
        """The step's relative growth in multiply-adds (0.52: +52 %)."""
        return self.macs / self.macs_from - 1.0


@dataclass(frozen=True)
class PhiChoice:
    """What `explain_phi` found: the phi it picked and why the next step does not fit."""

    phi: float
    spec: NetSpec
    macs: int
    over: Jump | None  # the next step, over the budget (None: the limit was reached within it)
    largest: Jump | None  # the step that grew the network most on the way from phi 0 (None at phi 0)


def explain_phi(spec: NetSpec, budget: int, scaling: CompoundScaling = CompoundScaling(), step: float = 0.05,
                limit: float = 16.0) -> PhiChoice:
    """The largest phi on a `step` grid whose network fits `budget`, with the step that overshoots it and the
    largest step before it, each with the roundings that moved in it (`changes`): growth comes in jumps
    (a depth rounded up adds a block to every row at once), not at alpha beta^2 gamma^2 per phi."""
    macs = count(spec).macs
    if macs > budget:
        raise ScalingError(f"the base network ({macs:,} multiply-adds) is already over the budget "
                           f"of {budget:,}; scaling only grows it")
    phi, current, largest, over, most = 0.0, spec, None, None, 0.0
    for i in range(1, int(limit / step) + 1):
        nxt = round(i * step, 6)
        scaled = scale(spec, nxt, scaling)
        grown = count(scaled).macs
        if grown > budget:
            over = (phi, current, nxt, scaled)
            break
        if grown / macs > most:
            most, largest = grown / macs, (phi, current, nxt, scaled)
        phi, current, macs = nxt, scaled, grown
    jumps = [None if j is None else _jump(spec, scaling, *j) for j in (over, largest)]
    return PhiChoice(phi, current, macs, *jumps)


def _jump(base: NetSpec, scaling: CompoundScaling, phi_from: float, before: NetSpec, phi: float,
          after: NetSpec) -> Jump:
    return Jump(phi_from, phi, count(before).macs, count(after).macs, changes(base, scaling, phi_from, before, phi))


def _depths(spec: NetSpec) -> str:
    return ", ".join(str(sum(block.repeats for block in stage.blocks)) for stage in spec.stages)


def _blocks(spec: NetSpec) -> list:
    return list(spec.stem) + [block for stage in spec.stages for block in stage.blocks] + list(spec.head)


def _moved_widths(before: NetSpec, after: NetSpec) -> int:
    """How many channel counts differ between two specs of the same layout (tuple widths count each)."""
    moved = 0
    for a, b in zip(_blocks(before), _blocks(after)):
        for name, value in vars(a.args).items():
            other = getattr(b.args, name)
            if isinstance(value, tuple):
                moved += sum(x != y for x, y in zip(value, other))
            elif type(value) is int:
                moved += value != other
    return moved


def _growth(macs: int, base: int) -> str:
    growth = macs / base - 1
    return f"{growth:+.1%}" if abs(growth) >= 0.001 else f"{'+' if growth >= 0 else '-'}<0.1%"


def changes(base: NetSpec, scaling: CompoundScaling, phi_from: float, before: NetSpec, phi: float) -> tuple[str, ...]:
    """What each rounding does in the step from `before` (`base` at `phi_from`) to `base` at `phi`: depth,
    width and resolution each moved alone from `before`, with the growth in multiply-adds that alone gives;
    only the roundings that change the network."""
    (d0, w0, _), (d1, w1, _) = scaling.coefficients(phi_from), scaling.coefficients(phi)
    side = scale(base, phi, scaling).resolution
    macs, found = count(before).macs, []
    alone = {"depth": {"width": w0, "depth": d1, "resolution": before.resolution},
             "width": {"width": w1, "depth": d0, "resolution": before.resolution},
             "resolution": {"width": w0, "depth": d0, "resolution": side}}
    for factor, given in alone.items():
        try:
            moved = scale(base, **given)
        except (SpecError, ScalingError):  # a side this width refuses (groups): name the change, not its growth
            found.append(f"{factor}: rounds to another value (its effect alone cannot be counted)")
            continue
        if moved == before:
            continue
        growth = _growth(count(moved).macs, macs)
        if factor == "depth":
            found.append(f"depth {growth}: blocks per stage {_depths(before)} -> {_depths(moved)} (repeats round up)")
        elif factor == "width":
            found.append(f"width {growth}: {_moved_widths(before, moved)} channel count(s) round to another "
                         "multiple of 8")
        else:
            maps = [stage_shapes(spec)[-1].h for spec in (before, moved)]
            found.append(f"resolution {growth}: {before.resolution} -> {side} px"
                         + (f" (last feature map {maps[0]} -> {maps[1]} px)" if maps[0] != maps[1] else ""))
    return tuple(found)


def feasible_grid(target: float = 2.0, tolerance: float = 0.1, step: float = 0.05,
                  low: float = 1.0, high: float = 1.4) -> list[CompoundScaling]:
    """Every (alpha, beta, gamma) on a `step` grid in [low, high] with |alpha beta^2 gamma^2 - target| <=
    tolerance: the paper's constrained grid at phi = 1 (EfficientNet's own 1.2, 1.1, 1.15 gives 1.92)."""
    values = [round(low + i * step, 6) for i in range(int(round((high - low) / step)) + 1)]
    return [CompoundScaling(a, b, g) for a in values for b in values for g in values
            if abs(a * b * b * g * g - target) <= tolerance + 1e-12]
