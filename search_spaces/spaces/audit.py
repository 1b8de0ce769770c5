"""A space's declaration against its draws: `check` finds where `parameters()` and `suggest` disagree,
`typical_size` counts the parameters of seeded points (what `nas spaces` calls a typical point)."""
from __future__ import annotations

import random
import statistics
from dataclasses import dataclass
from typing import Any

from search_spaces.spaces.base import RandomTrial, Space
from search_spaces.spaces.declared import Param, declared


def _draws(space: Space, draws: int, seed: int) -> list[RandomTrial]:
    """`draws` seeded random draws of the space, each trial kept (its parameters and their calls)."""
    rng = random.Random(seed)
    seen: dict[str, Any] = {}
    trials = []
    for _ in range(draws):
        trial = RandomTrial(rng, seen=seen, space=space.name)
        space.suggest(trial)
        trials.append(trial)
    return trials


def check(space: Space, draws: int = 500, seed: int = 0) -> list[str]:
    """Every disagreement between the space's declaration and `draws` seeded draws: a drawn parameter no
    declaration names, a draw whose range (or choices) lies outside its declaration's, a value outside it,
    and a declaration no draw reached (stale, or too rare for `draws`). Empty when they agree."""
    params = space.parameters()
    problems: dict[str, str] = {}
    reached = set()
    for trial in _draws(space, draws, seed):
        for name, call in trial.drawn.items():
            kind, low, high, step, *choices = call
            matching = [p for p in params if p.matches(name)]
            if not matching:
                problems.setdefault(name, f"{space.name}: {name} is drawn but not declared")
                continue
            fits = [p for p in matching if p.admits(kind, low, high, step, choices[0] if choices else ())]
            if not fits:
                drawn = Param(name, kind, low, high, step, tuple(choices[0]) if choices else ()).allowed
                problems.setdefault(name, f"{space.name}: {name} is drawn as {drawn}, outside its declaration "
                                          f"{declared(matching, name).allowed}")
                continue
            reached.add(fits[0].name + fits[0].when)
            value = trial.params[name]
            if kind != "categorical" and not fits[0].low <= value <= fits[0].high:
                problems.setdefault(name, f"{space.name}: {name} drew {value!r}, outside {fits[0].allowed}")
    stale = [f"{space.name}: {p.name} ({p.allowed}{', when ' + p.when if p.when else ''}) is declared but no "
             f"draw of {draws} made it" for p in params if p.name + p.when not in reached]
    return list(problems.values()) + stale


@dataclass(frozen=True)
class Size:
    """How many parameters seeded points of a space have."""

    median: float
    low: int
    high: int
    draws: int


def typical_size(space: Space, draws: int = 200, seed: int = 0) -> Size:
    """The median, smallest and largest parameter count over `draws` seeded random points."""
    counts = [len(trial.params) for trial in _draws(space, draws, seed)]
    return Size(statistics.median(counts), min(counts), max(counts), draws)
