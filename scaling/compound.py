"""Compound scaling (Tan & Le 2019): depth alpha^phi, width beta^phi, resolution gamma^phi, together.

With alpha * beta^2 * gamma^2 close to 2, each step of phi roughly doubles the multiply-adds. Every scaled
network goes through the one spec transform of the toolkit, `search_spaces.scale.multiply` (channels
made divisible by 8 and never below 90 % of the target, repeats rounded up), and the resolution through
the same `make_divisible` rule. A network that refuses that side (BN-Inception, whose stride-2 branches
disagree on odd maps, takes multiples of 32) gets the multiple of 8 nearest the exact side that it accepts.
A scaled network is a point of its base's search space only where the space's ranges reach its widths,
depths and side (EfficientNet-B1..B7 are points of `mobile`); the spaces scale by their own multipliers,
which `multiply` applies in the same way.
"""
from __future__ import annotations

from dataclasses import dataclass

from search_spaces.counting import count
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
    if count(spec).macs > budget:
        raise ScalingError(f"the base network ({count(spec).macs:,} multiply-adds) is already over the budget "
                           f"of {budget:,}; scaling only grows it")
    best = (0.0, spec)
    for i in range(1, int(limit / step) + 1):
        phi = round(i * step, 6)
        scaled = scale(spec, phi, scaling)
        if count(scaled).macs > budget:
            break
        best = (phi, scaled)
    return best


def feasible_grid(target: float = 2.0, tolerance: float = 0.1, step: float = 0.05,
                  low: float = 1.0, high: float = 1.4) -> list[CompoundScaling]:
    """Every (alpha, beta, gamma) on a `step` grid in [low, high] with |alpha beta^2 gamma^2 - target| <=
    tolerance: the paper's constrained grid at phi = 1 (EfficientNet's own 1.2, 1.1, 1.15 gives 1.92)."""
    values = [round(low + i * step, 6) for i in range(int(round((high - low) / step)) + 1)]
    return [CompoundScaling(a, b, g) for a in values for b in values for g in values
            if abs(a * b * b * g * g - target) <= tolerance + 1e-12]
