"""The search strategies as Optuna samplers: `sampler(config)` for evolution, TPE, NSGA-II or random, and
our regularized (aging) evolution, aware of both objectives.

Real et al. 2019: keep the most recent `population` trained trials; to make a child, take a random
`sample_size` of them, pick a parent by tournament, and change one of its parameters. Our tournament is
multi-objective: the parent is drawn from the sample's members that no other member dominates on
(accuracy, cost). A network that stayed near chance (below `records.near_chance`: 3x chance) is dominated
by a constant prediction that costs nothing, so it is no parent while the sample holds a network above it:
otherwise the cheapest corner of the front, a near-chance network of a few MFLOPs, breeds children like
itself (the README's main command once spent 3 of its 10 proposals so). Parameters the parent lacks (a
deeper stage, say) are drawn at random; until the population is full, every trial is random. The parent
and the mutated parameter are stored on the trial (system attributes), so the choice survives a restart and
is the same for every worker.
"""
from __future__ import annotations

import warnings
from typing import TYPE_CHECKING, Any, Sequence

import numpy as np
import optuna
from optuna.distributions import BaseDistribution
from optuna.samplers import BaseSampler, RandomSampler
from optuna.study import StudyDirection
from optuna.trial import FrozenTrial, TrialState

from nas.search.records import STATUS, TrialStatus, near_chance

if TYPE_CHECKING:
    from nas.search.config import SearchConfig

PARENT, MUTATE = "evolution:parent", "evolution:mutate"


def dominates(a: Sequence[float], b: Sequence[float], directions: Sequence[StudyDirection]) -> bool:
    """Whether values `a` are at least as good as `b` everywhere and better somewhere."""
    sign = [1 if d == StudyDirection.MAXIMIZE else -1 for d in directions]
    better = [s * (x - y) for s, x, y in zip(sign, a, b)]
    return all(v >= 0 for v in better) and any(v > 0 for v in better)


class AgingEvolution(BaseSampler):
    """Aging evolution with a multi-objective tournament (see the module docstring)."""

    def __init__(self, population: int = 16, sample_size: int = 4, seed: int | None = None,
                 fixed: frozenset[str] = frozenset(), floor: float = 0.0):
        if population < 2 or not 1 <= sample_size <= population:
            raise ValueError(f"evolution needs population >= 2 and 1 <= sample_size <= population, got {population}, {sample_size}")
        self.population = population
        self.sample_size = sample_size
        self._rng = np.random.RandomState(seed)
        self._random = RandomSampler(seed=seed)
        self.fixed = fixed  # parameters the search holds fixed: mutating one would change nothing
        self.floor = floor  # accuracy a parent must reach while the sample holds one that does

    def infer_relative_search_space(self, study: optuna.Study, trial: FrozenTrial) -> dict[str, BaseDistribution]:
        return {}

    def sample_relative(self, study: optuna.Study, trial: FrozenTrial, search_space: dict) -> dict[str, Any]:
        return {}

    def before_trial(self, study: optuna.Study, trial: FrozenTrial) -> None:
        """Choose the parent and the parameter to mutate, once the population is full."""
        if trial.system_attrs.get("fixed_params"):  # an enqueued point (a named backbone, a re-run)
            return
        trained = [t for t in study.get_trials(deepcopy=False, states=(TrialState.COMPLETE,))
                   if t.user_attrs.get(STATUS) == TrialStatus.TRAINED and t.params]
        if len(trained) < self.population:
            return
        pool = trained[-self.population:]  # aging: only the most recent trained trials compete
        picks = [pool[i] for i in self._rng.choice(len(pool), self.sample_size, replace=False)]
        picks = [p for p in picks if p.values[0] >= self.floor] or picks
        front = [p for p in picks if not any(dominates(o.values, p.values, study.directions) for o in picks)]
        parent = front[self._rng.randint(len(front))]
        study._storage.set_trial_system_attr(trial._trial_id, PARENT, parent.number)
        free = sorted(p for p in parent.params if p not in self.fixed) or sorted(parent.params)
        study._storage.set_trial_system_attr(trial._trial_id, MUTATE, free[self._rng.randint(len(free))])

    def sample_independent(self, study: optuna.Study, trial: FrozenTrial, param_name: str,
                           param_distribution: BaseDistribution) -> Any:
        """The parent's value, except for the mutated parameter and those the parent lacks."""
        number = trial.system_attrs.get(PARENT)
        if number is None:
            return self._random.sample_independent(study, trial, param_name, param_distribution)
        parent = study.get_trials(deepcopy=False)[number]
        inherited = parent.params.get(param_name)
        same_range = parent.distributions.get(param_name) == param_distribution
        if param_name != trial.system_attrs.get(MUTATE) and same_range and inherited is not None:
            return inherited
        value = self._random.sample_independent(study, trial, param_name, param_distribution)
        for _ in range(8):  # a mutation should change something when the range allows it
            if value != inherited:
                break
            value = self._random.sample_independent(study, trial, param_name, param_distribution)
        return value


def sampler(config: SearchConfig, fixed: dict[str, Any] | None = None,
            num_classes: int | None = None) -> optuna.samplers.BaseSampler:
    """The Optuna sampler of a search's strategy, seeded by the search's seed, with the parameters in `fixed`
    held at their values (Optuna's PartialFixedSampler; enqueued points such as the seeded backbones keep
    their own values). Evolution's parents clear `near_chance(num_classes)` when they can."""
    if config.strategy == "evolution":
        floor = near_chance(num_classes)
        base: optuna.samplers.BaseSampler = AgingEvolution(config.population, config.sample_size, seed=config.seed,
                                                           fixed=frozenset(fixed or ()), floor=floor)
    elif config.strategy == "tpe":
        base = optuna.samplers.TPESampler(seed=config.seed, n_startup_trials=max(4, config.trials // 4))
    elif config.strategy == "nsga2":
        base = optuna.samplers.NSGAIISampler(population_size=max(4, config.population), seed=config.seed)
    else:
        base = optuna.samplers.RandomSampler(seed=config.seed)
    if not fixed:
        return base
    with warnings.catch_warnings():  # "experimental" since Optuna 2.4, unchanged since
        warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
        return optuna.samplers.PartialFixedSampler(dict(fixed), base)
