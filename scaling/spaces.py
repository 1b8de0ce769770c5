"""Compound-scaling experiments as search spaces, so they run through the same trial machinery as a search.

`PhiSpace`: the base network at each phi of a list. `CoefficientSpace`: the base network scaled once
(phi = 1) by each (alpha, beta, gamma) of a grid. Both are immutable views of their base and list.
"""
from __future__ import annotations

from scaling.compound import CompoundScaling, scale
from search_spaces.errors import SpaceError
from search_spaces.spaces.base import Params, Space
from search_spaces.spaces.declared import Choice, Param
from search_spaces.spec import NetSpec


class PhiSpace(Space):
    """The base network scaled to each phi of `phis` (one parameter, `phi`)."""

    name = "phi"

    def __init__(self, base: NetSpec, phis: tuple[float, ...], scaling: CompoundScaling = CompoundScaling()):
        self.base, self.phis, self.scaling = base, tuple(phis), scaling
        self.description = f"phi in {self.phis} of alpha={scaling.alpha}, beta={scaling.beta}, gamma={scaling.gamma}"

    def parameters(self) -> tuple[Param, ...]:
        return (Choice("phi", self.phis),)

    def suggest(self, trial) -> NetSpec:
        return scale(self.base, trial.suggest_categorical("phi", self.phis), self.scaling)

    def encode(self, spec: NetSpec) -> Params:
        for phi in self.phis:
            if scale(self.base, phi, self.scaling) == spec:
                return {"phi": phi}
        raise SpaceError("phi: the network is not the base at any phi of this sweep")


def triple(scaling: CompoundScaling) -> str:
    """The label of a coefficient triple: 'alpha/beta/gamma'."""
    return f"{scaling.alpha:g}/{scaling.beta:g}/{scaling.gamma:g}"


class CoefficientSpace(Space):
    """The base network at phi = 1 under each coefficient triple of `grid` (one parameter, `coefficients`)."""

    name = "coefficients"

    def __init__(self, base: NetSpec, grid: list[CompoundScaling]):
        if not grid:
            raise SpaceError("coefficients: the grid is empty; widen the tolerance or the range")
        self.base, self.grid = base, {triple(g): g for g in grid}
        self.description = f"{len(self.grid)} (alpha, beta, gamma) triples at phi = 1"

    def parameters(self) -> tuple[Param, ...]:
        return (Choice("coefficients", tuple(self.grid)),)

    def suggest(self, trial) -> NetSpec:
        return scale(self.base, 1.0, self.grid[trial.suggest_categorical("coefficients", list(self.grid))])

    def encode(self, spec: NetSpec) -> Params:
        for label, scaling in self.grid.items():
            if scale(self.base, 1.0, scaling) == spec:
                return {"coefficients": label}
        raise SpaceError("coefficients: the network is not the base under any triple of this grid")
