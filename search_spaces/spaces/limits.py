"""Limits: bounds a space's default search distribution puts on whole networks.

`Space.defaults` holds single parameters fixed; some networks that do not train under the proxy are not
one parameter's value but a whole-network measure (a plain stack's conv count spans stages, rows and
repeats). A limit bounds such a measure: at most (or at least) a value. A search and `Space.samples`
reject a point outside a limit as they reject one over the budget: drawn, recorded, never trained. Like a
default, a limit enters the distribution only with evidence (its EDF against the rest), recorded in the
space's docstring; it lives in the same `fixed` mapping as the defaults, under its own name, so `--free
NAME` lifts it and `--fix NAME=VALUE` moves it. The space itself keeps every point (fixed points, decode,
contains).
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable, Mapping

from search_spaces.errors import SpaceError
from search_spaces.spec import NetSpec


@dataclass(frozen=True)
class Limit:
    """At most (`upper`) or at least `value` of `measure(spec)`; `unit` names what is measured."""

    measure: Callable[[NetSpec], int]
    value: int
    upper: bool
    unit: str  # e.g. "convs in a plain stack", "px of resolution"

    @property
    def bound(self) -> str:
        """'at most' or 'at least', as messages and `nas spaces` write the limit."""
        return "at most" if self.upper else "at least"

    def check(self, space: str, name: str, value: Any) -> int:
        """A limit's value given by `--fix NAME=VALUE`: a whole number >= 0, else a one-line SpaceError."""
        if not isinstance(value, int) or isinstance(value, bool) or value < 0:
            raise SpaceError(f"{space}: limit {name!r} ({self.bound} so many "
                             f"{self.unit}) takes a whole number >= 0, got {value!r}")
        return value

    def breach(self, spec: NetSpec, value: int) -> str | None:
        """Why `spec` lies outside the limit at `value`, or None when it lies within it."""
        measured = self.measure(spec)
        if measured > value if self.upper else measured < value:
            return f"{measured} {self.unit}, {self.bound} {value}"
        return None


def outside(limits: Mapping[str, Limit], spec: NetSpec, fixed: Mapping[str, Any] | None) -> str | None:
    """Why `spec` lies outside a limit that `fixed` (a search distribution) holds, or None."""
    for name, limit in limits.items():
        if fixed and name in fixed:
            why = limit.breach(spec, fixed[name])
            if why is not None:
                return f"outside the search distribution's limit {name} ({why}; --free {name} lifts it)"
    return None
