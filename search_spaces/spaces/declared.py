"""Declared parameters: what a space can draw, written beside its `suggest` from the same constants.

A space is define-by-run: which parameters a point has, and some of their ranges, follow from earlier
draws. Its declaration (`Space.parameters()`) states each one statically, in the order `suggest` draws
them: a name or a pattern (`s{s}.b{r}.out_channels`: each `{x}` is an index from 1), the kind, the whole
range it can ever take (the union over every earlier choice), the condition under which it exists ("" when
every point has it) and a note where earlier choices narrow the range. `nas spaces` prints it, and
`audit.check` draws many points and fails on any parameter a draw makes that no declaration admits (an
undeclared name, a range beyond the declared one) and on declarations no draw reaches, so the declaration
and `suggest` cannot drift apart.
"""
from __future__ import annotations

import math
import re
from dataclasses import dataclass
from typing import Any, Sequence

KINDS = ("int", "float", "categorical")


@dataclass(frozen=True)
class Param:
    """One declared parameter (or family of parameters, by pattern)."""

    name: str  # a name, or a pattern whose {x} parts stand for indices 1, 2, ...
    kind: str  # int, float or categorical
    low: Any = None
    high: Any = None
    step: Any = None  # int: the grid step; float: the grid step or None (continuous)
    choices: tuple[Any, ...] = ()
    when: str = ""  # the condition under which a point has it; "" for every point
    note: str = ""  # how earlier choices narrow the range, where they do

    def __post_init__(self) -> None:
        if self.kind not in KINDS:
            raise ValueError(f"parameter {self.name!r}: kind must be one of {KINDS}, got {self.kind!r}")

    @property
    def allowed(self) -> str:
        """The range as `nas spaces` and the errors of `decode` write it: 'int in [8, 1024] step 8'."""
        if self.kind == "categorical":
            return "one of " + ", ".join(map(repr, self.choices))
        return f"{self.kind} in [{self.low}, {self.high}]" + (f" step {self.step}" if self.step not in (None, 1) else "")

    def matches(self, name: str) -> bool:
        """Whether a drawn parameter's name is this declaration's name or fits its pattern."""
        return _pattern(self.name).fullmatch(name) is not None

    def admits(self, kind: str, low: Any = None, high: Any = None, step: Any = None,
               choices: Sequence[Any] = ()) -> bool:
        """Whether a `suggest_*` call (its kind and range) lies within this declaration."""
        if kind != self.kind:
            return False
        if kind == "categorical":
            return tuple(choices) == self.choices
        if low < self.low or high > self.high:
            return False
        if kind == "int":
            return step % self.step == 0 and (low - self.low) % self.step == 0
        if self.step is None:
            return step is None or step > 0
        return step is not None and _whole(step / self.step) and _whole((low - self.low) / self.step)

    def to_dict(self) -> dict[str, Any]:
        """The declaration as `nas spaces --json` writes it (only the fields its kind has)."""
        out: dict[str, Any] = {"name": self.name, "kind": self.kind, "allowed": self.allowed}
        if self.kind == "categorical":
            out["choices"] = list(self.choices)
        else:
            out |= {"low": self.low, "high": self.high, "step": self.step}
        return out | {"when": self.when, "note": self.note}


def _whole(x: float) -> bool:
    return math.isclose(x, round(x), abs_tol=1e-9)


_PATTERNS: dict[str, re.Pattern[str]] = {}


def _pattern(name: str) -> re.Pattern[str]:
    """The regular expression of a declared name: each {x} is a positive index, the rest literal."""
    if name not in _PATTERNS:
        parts = re.split(r"\{[a-z]+\}", name)
        _PATTERNS[name] = re.compile("[1-9][0-9]*".join(re.escape(p) for p in parts))
    return _PATTERNS[name]


def Int(name: str, low: int, high: int, step: int = 1, *, when: str = "", note: str = "") -> Param:
    """An int parameter on the grid low, low + step, ..., high."""
    return Param(name, "int", low, high, step, when=when, note=note)


def Float(name: str, low: float, high: float, step: float | None = None, *, when: str = "",
          note: str = "") -> Param:
    """A float parameter in [low, high], on a grid when `step` is given."""
    return Param(name, "float", low, high, step, when=when, note=note)


def Choice(name: str, choices: Sequence[Any], *, when: str = "", note: str = "") -> Param:
    """A categorical parameter: one of `choices`, in the order `suggest` offers them."""
    return Param(name, "categorical", choices=tuple(choices), when=when, note=note)


def declared(params: Sequence[Param], name: str) -> Param | None:
    """The first declaration whose name or pattern fits `name`, or None."""
    return next((p for p in params if p.matches(name)), None)
