"""The search-space contract: a space writes `suggest` and `encode`; everything else derives from them.

`suggest(trial)` builds a NetSpec in Optuna's define-by-run style (`trial.suggest_int/float/categorical`)
and `encode(spec)` gives the flat parameters that `suggest` would have drawn to produce it. From these two:
`decode(params)` replays `suggest` on fixed values (strictly: missing, extra or out-of-range values are a
one-line SpaceError), `sample(seed, budget)` draws seeded random points, optionally under a multiply-add
budget (rejection sampling: the space's own distribution restricted to the budget; a space may cost its
rows as it draws them and call `check_budget` to abandon a draw early, which changes nothing but speed),
`contains(spec)` is the round trip, and `describe()` lists the parameters that seeded draws make. A space
may also declare its parameters statically (`parameters()`, see `declared`), which `nas spaces` prints.
Spaces hold no state between calls. List categorical choices cheapest first: `smallest()` takes the low
end of every range and the first choice of every categorical.
"""
from __future__ import annotations

import math
import random
from abc import ABC, abstractmethod
from types import MappingProxyType
from typing import Any, Iterator, Mapping, Sequence

from search_spaces.counting import count
from search_spaces.errors import BudgetError, SpaceError, SpecError
from search_spaces.settings import without_settings
from search_spaces.spaces.declared import Param
from search_spaces.spaces.limits import Limit, outside
from search_spaces.spec import NetSpec

Params = dict[str, Any]


def _allowed(kind: str, low: Any = None, high: Any = None, step: Any = None, choices: Sequence[Any] = ()) -> str:
    if kind == "categorical":
        return "one of " + ", ".join(map(repr, choices))
    return f"{kind} in [{low}, {high}]" + (f" step {step}" if step not in (None, 1) else "")


def _checked_int(space: str, name: str, value: Any, low: int, high: int, step: int) -> int:
    """`value` if the int range allows it, else a SpaceError naming the range."""
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    if not isinstance(value, int) or isinstance(value, bool) or not low <= value <= high or (value - low) % step:
        raise SpaceError(f"{space}: parameter {name!r} must be {_allowed('int', low, high, step)}, got {value!r}")
    return value


def _checked_float(space: str, name: str, value: Any, low: float, high: float, step: float | None) -> float:
    """`value` if the float range allows it, else a SpaceError naming the range."""
    if not isinstance(value, (int, float)) or isinstance(value, bool) or not low <= value <= high:
        raise SpaceError(f"{space}: parameter {name!r} must be {_allowed('float', low, high, step)}, got {value!r}")
    return float(value)


def _checked_choice(space: str, name: str, value: Any, choices: Sequence[Any]) -> Any:
    """`value` if it is one of `choices`, else a SpaceError listing them."""
    if value not in choices or isinstance(value, bool) != isinstance(choices[choices.index(value)], bool):
        raise SpaceError(f"{space}: parameter {name!r} must be {_allowed('categorical', choices=choices)}, "
                         f"got {value!r}")
    return value


class ReplayTrial:
    """A trial answering every suggest_* from fixed params, strictly (Optuna's FixedTrial, but strict)."""

    def __init__(self, params: Params, space: str):
        self.params = dict(params)
        self.space = space
        self.used: set[str] = set()

    def _get(self, name: str, allowed: str) -> Any:
        if name not in self.params:
            raise SpaceError(f"{self.space}: missing parameter {name!r} ({allowed})")
        self.used.add(name)
        return self.params[name]

    def suggest_int(self, name: str, low: int, high: int, *, step: int = 1, log: bool = False) -> int:
        return _checked_int(self.space, name, self._get(name, _allowed("int", low, high, step)), low, high, step)

    def suggest_float(self, name: str, low: float, high: float, *, step: float | None = None, log: bool = False) -> float:
        return _checked_float(self.space, name, self._get(name, _allowed("float", low, high, step)), low, high, step)

    def suggest_categorical(self, name: str, choices: Sequence[Any]) -> Any:
        return _checked_choice(self.space, name, self._get(name, _allowed("categorical", choices=choices)), choices)

    def finish(self) -> None:
        """Unused parameters are an error: they mean the caller's point is not what it thinks."""
        extra = sorted(set(self.params) - self.used)
        if extra:
            raise SpaceError(f"{self.space}: unknown parameter(s) {extra} for this point of the space")


def check_optuna_rules(name: str, low: Any = None, high: Any = None, step: Any = None,
                       choices: Sequence[Any] | None = None, seen: dict[str, Sequence[Any]] | None = None) -> None:
    """What Optuna's own trials refuse, refused here too, so a space that passes its tests runs in a study:
    an int range must be a whole number of steps, and a categorical parameter must offer the same choices
    every time it is drawn (`seen` holds the choices of earlier draws)."""
    if choices is None:
        if (high - low) % step:
            raise SpaceError(f"parameter {name!r}: range [{low}, {high}] is not a whole number of steps of {step}")
        return
    if seen is not None:
        first = seen.setdefault(name, choices)
        if first is not choices and tuple(first) != tuple(choices):
            raise SpaceError(f"parameter {name!r} offers {tuple(choices)} here but {tuple(first)} elsewhere; "
                             "Optuna needs the same choices for a name in every trial")


class OverBudget(Exception):
    """A draw abandoned part-way because its network is already over the sampling budget (`check_budget`)."""


def check_budget(trial: Any, macs: int) -> None:
    """Abandon the draw (raise OverBudget) when the network drawn so far already costs more than the
    trial's sampling budget: costs only add up, so the rest of the draw cannot bring it back under. A space
    calls this after costing the rows it has drawn; trials without a budget (Optuna's, `decode`'s) ignore it."""
    budget = getattr(trial, "budget", None)
    if budget is not None and macs > budget:
        raise OverBudget


class RandomTrial:
    """A trial drawing every suggest_* uniformly (log-uniformly where asked) from a seeded RNG; with a
    `budget` (multiply-adds), spaces that call `check_budget` abandon a draw as soon as it is over it, and
    parameters in `fixed` take their fixed value (checked against the range) instead of a draw. A name drawn
    again in the same trial gives its first value, as Optuna's trials do (a space may draw one global choice
    from whichever stage first needs it)."""

    def __init__(self, rng: random.Random, smallest: bool = False, seen: dict[str, Sequence[Any]] | None = None,
                 budget: int | None = None, fixed: Mapping[str, Any] | None = None, space: str = "space"):
        self.rng = rng
        self.smallest = smallest
        self.seen = seen  # categorical choices of earlier draws, held fixed per name as Optuna does
        self.budget = budget
        self.fixed = fixed or {}
        self.space = space
        self.params: Params = {}
        self._ranges: dict[str, tuple[Any, ...]] = {}  # formatted only when asked: sampling is a hot path

    @property
    def ranges(self) -> dict[str, str]:
        """Every parameter drawn so far with its range, as `describe()` shows it."""
        return {name: _allowed(*spec) for name, spec in self._ranges.items()}

    @property
    def drawn(self) -> dict[str, tuple[Any, ...]]:
        """Every parameter drawn so far with its call: (kind, low, high, step), or (kind, None, None, None,
        choices) for a categorical one (`audit` checks them against the space's declaration)."""
        return dict(self._ranges)

    def _index(self, n: int) -> int:
        """A uniform index in [0, n): `random()` scaled (one C call; randrange costs several Python calls,
        and a search draws every parameter of every candidate through here)."""
        return int(self.rng.random() * n)

    def suggest_int(self, name: str, low: int, high: int, *, step: int = 1, log: bool = False) -> int:
        if name in self.params:
            return self.params[name]
        if (high - low) % step:
            check_optuna_rules(name, low, high, step)  # raises
        self._ranges[name] = ("int", low, high, step)
        if name in self.fixed:
            value = _checked_int(self.space, name, self.fixed[name], low, high, step)
        else:
            value = low if self.smallest else low + step * self._index((high - low) // step + 1)
        self.params[name] = value
        return value

    def suggest_float(self, name: str, low: float, high: float, *, step: float | None = None, log: bool = False) -> float:
        if name in self.params:
            return self.params[name]
        self._ranges[name] = ("float", low, high, step)
        if name in self.fixed:
            value = _checked_float(self.space, name, self.fixed[name], low, high, step)
        elif self.smallest:
            value = low
        elif step:
            value = low + step * self._index(round((high - low) / step) + 1)
        elif log:
            value = math.exp(self.rng.uniform(math.log(low), math.log(high)))
        else:
            value = self.rng.uniform(low, high)
        self.params[name] = value
        return value

    def suggest_categorical(self, name: str, choices: Sequence[Any]) -> Any:
        if name in self.params:
            return self.params[name]
        if self.seen is not None and self.seen.get(name) is not choices:  # the same tuple as before: nothing to check
            check_optuna_rules(name, choices=choices, seen=self.seen)
        self._ranges[name] = ("categorical", None, None, None, choices)
        if name in self.fixed:
            value = _checked_choice(self.space, name, self.fixed[name], choices)
        else:
            value = choices[0] if self.smallest else choices[self._index(len(choices))]
        self.params[name] = value
        return value


class Space(ABC):
    """A search space. Subclasses set `name` and `description` and write `suggest` and `encode`."""

    name: str = "space"
    description: str = ""
    fixed_points: tuple[str, ...] = ()  # named backbones that are points of this space
    # The default search distribution: parameters a search holds fixed unless told otherwise (`--free`),
    # each left out of the default only with evidence (its EDF against the rest), recorded in the space's
    # docstring. The space itself still contains every value (its fixed points, decode, contains).
    defaults: Mapping[str, Any] = MappingProxyType({})
    # Bounds the default distribution puts on whole networks (`limits`), by name; the same evidence rule.
    limits: Mapping[str, Limit] = MappingProxyType({})

    @abstractmethod
    def suggest(self, trial: Any) -> NetSpec:
        """Draw a point through trial.suggest_int / suggest_float / suggest_categorical."""

    @abstractmethod
    def encode(self, spec: NetSpec) -> Params:
        """The flat parameters that make `suggest` produce `spec`; SpaceError if no parameters can."""

    def decode(self, params: Params) -> NetSpec:
        """The point given by `params`, strictly."""
        trial = ReplayTrial(params, self.name)
        try:
            spec = self.suggest(trial)
        except SpecError as err:
            raise SpaceError(f"{self.name}: parameters give an invalid network: {err}") from None
        trial.finish()
        return spec

    def contains(self, spec: NetSpec) -> bool:
        """Whether `spec` is a point of this space (encode, then decode gives it back), settings aside: a
        space searches architectures, and BN settings and stochastic depth are no part of one."""
        try:
            return without_settings(self.decode(self.encode(spec))) == without_settings(spec)
        except (SpaceError, SpecError):
            return False

    def smallest(self) -> NetSpec:
        """The point at the low end of every parameter (the space's cheapest network by construction)."""
        return self.suggest(RandomTrial(random.Random(0), smallest=True))

    def parameters(self) -> tuple[Param, ...]:
        """The parameters the space declares, in the order `suggest` draws them, each with its whole range and
        the condition under which it exists (`search_spaces.spaces.declared`); () for a space that declares
        none (then `describe()`, gathered from draws, is what there is)."""
        return ()

    def describe(self, draws: int = 200) -> dict[str, str]:
        """Every parameter the space drew in `draws` seeded draws, with the range of its last draw (where a
        range depends on earlier choices, that is one draw's range: `parameters()` declares the whole one)."""
        ranges: dict[str, str] = {}
        rng = random.Random(0)
        seen: dict[str, Sequence[Any]] = {}
        for _ in range(draws):
            trial = RandomTrial(rng, seen=seen)
            self.suggest(trial)
            ranges.update(trial.ranges)
        return ranges

    def distribution(self, fix: Mapping[str, Any] | None = None, free: Sequence[str] = ()) -> dict[str, Any]:
        """The parameters a search holds fixed and the limits it keeps, with their values: the space's
        `defaults` and `limits` less those in `free` (all of them for "all"), plus `fix`; a SpaceError for a
        name the space does not have or a value it does not allow."""
        held = {**self.defaults, **{name: limit.value for name, limit in self.limits.items()}}
        unknown = sorted(set(free) - set(held) - {"all"})
        if unknown:
            known = ", ".join(held) or "none"
            raise SpaceError(f"{self.name}: cannot free {', '.join(unknown)}: not fixed by default (fixed: {known})")
        fixed = {} if "all" in free else {k: v for k, v in held.items() if k not in free}
        fixed |= dict(fix or {})
        names = self.describe()
        unknown = sorted(set(fixed) - set(names) - set(self.limits))
        if unknown:
            raise SpaceError(f"{self.name}: unknown parameter(s) {', '.join(unknown)}; see `nas spaces {self.name}`")
        for name in set(fixed) & set(self.limits):
            self.limits[name].check(self.name, name, fixed[name])
        rng = random.Random(0)
        for _ in range(50):  # each fixed value is checked against its range where a draw reaches it
            self.suggest(RandomTrial(rng, fixed=fixed, space=self.name))
        return fixed

    def outside(self, spec: NetSpec, fixed: Mapping[str, Any] | None) -> str | None:
        """Why `spec` lies outside a limit the distribution `fixed` keeps (a search rejects it untrained),
        or None."""
        return outside(self.limits, spec, fixed)

    def samples(self, seed: int, budget: int | None = None, max_draws: int = 10_000,
                fixed: Mapping[str, Any] | None = None) -> Iterator[NetSpec]:
        """Seeded random points, endless; under a multiply-add budget only those that fit it; parameters in
        `fixed` (see `distribution`) held at their values and the limits it keeps kept."""
        if budget is not None:
            floor = count(self.smallest()).macs
            if budget < floor:
                raise BudgetError(
                    f"budget {budget:,} multiply-adds is below the smallest network of space {self.name!r} "
                    f"({floor:,} multiply-adds); raise the budget to at least that"
                )
        rng = random.Random(seed)
        seen: dict[str, Sequence[Any]] = {}
        misses = 0
        while True:
            try:
                spec = self.suggest(RandomTrial(rng, seen=seen, budget=budget, fixed=fixed, space=self.name))
            except OverBudget:
                spec = None  # abandoned part-way: the same outcome as drawing it whole and rejecting it
            fits = spec is not None and (budget is None or count(spec).macs <= budget)
            if fits and self.outside(spec, fixed) is None:
                misses = 0
                yield spec
            else:
                misses += 1
                if misses >= max_draws:
                    fixes = ["raise the budget"] if budget is not None else []
                    fixes += [f"--free {name}" for name in sorted(set(fixed or ()) & set(self.limits))]
                    within = "its distribution's limits" if budget is None else f"{budget:,} multiply-adds"
                    raise BudgetError(
                        f"no point of space {self.name!r} within {within} in {max_draws:,} random draws (its "
                        f"smallest network has {count(self.smallest()).macs:,}); {' or '.join(fixes)}")

    def sample(self, seed: int, budget: int | None = None, fixed: Mapping[str, Any] | None = None) -> NetSpec:
        """One seeded random point (within `budget` multiply-adds when given)."""
        return next(self.samples(seed, budget, fixed=fixed))
