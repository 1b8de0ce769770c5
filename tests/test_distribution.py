"""The search distribution: parameters a space holds fixed by default, `fix` and `free` over them, in
sampling, in a search's sampler (enqueued backbones keep their own values) and in evolution's mutations."""
from types import MappingProxyType

import optuna
import pytest

from nas.cli import main
from nas.search.config import SearchConfig, SearchError, parse_fix
from nas.search.strategies import PARENT, AgingEvolution, sampler
from search_spaces.errors import SpaceError
from tests.helpers import only_spaces
from tests.spaces.test_base import Plain


class Held(Plain):
    """Plain with kernel 3 held fixed by default (as a space whose other kernels do not train would)."""

    name = "held"
    defaults = MappingProxyType({"kernel_size": 3})


def test_the_distribution_applies_free_then_fix():
    space = Held()
    assert space.distribution() == {"kernel_size": 3}
    assert space.distribution(free=["kernel_size"]) == {} == space.distribution(free=["all"])
    assert space.distribution({"s1.depth": 2}, ["kernel_size"]) == {"s1.depth": 2}
    assert space.distribution({"kernel_size": 5}) == {"kernel_size": 5}
    with pytest.raises(SpaceError, match=r"held: cannot free s1.depth: not fixed by default \(fixed: kernel_size\)"):
        space.distribution(free=["s1.depth"])
    with pytest.raises(SpaceError, match=r"held: unknown parameter\(s\) kernel; see `nas spaces held`"):
        space.distribution({"kernel": 3})
    with pytest.raises(SpaceError, match=r"parameter 'kernel_size' must be one of 1, 3, 5, got 4"):
        space.distribution({"kernel_size": 4})
    with pytest.raises(SpaceError, match=r"parameter 's1.depth' must be int in \[1, 3\], got 7"):
        space.distribution({"s1.depth": 7})


def test_samples_hold_the_fixed_values():
    space = Held()
    specs = [space.sample(seed, fixed={"kernel_size": 5, "s2.depth": 3}) for seed in range(20)]
    assert {s.stages[0].blocks[0].args.kernel_size for s in specs} == {5}
    assert {s.stages[1].blocks[0].repeats for s in specs} == {3}
    assert len({s.stages[0].blocks[0].args.kernel_size for s in map(space.sample, range(20))}) == 3  # unfixed


def test_fix_texts_read_as_json_values():
    assert parse_fix(["norm=true", "s1.kind=mbconv", "width_mult=0.5", "s2.rows=3"]) == {
        "norm": True, "s1.kind": "mbconv", "width_mult": 0.5, "s2.rows": 3}
    with pytest.raises(SearchError, match="--fix takes NAME=VALUE"):
        parse_fix(["norm"])


@pytest.mark.parametrize("strategy", ["random", "tpe", "nsga2", "evolution"])
def test_every_strategy_holds_the_fixed_values_but_enqueued_points_keep_theirs(strategy):
    config = SearchConfig(space="held", strategy=strategy, population=2, sample_size=1, trials=12)
    study = optuna.create_study(directions=["maximize", "minimize"], sampler=sampler(config, {"kernel_size": 3}))
    study.enqueue_trial({"resolution": 32, "kernel_size": 5, "s1.width": 8, "s1.depth": 1, "s2.width": 8,
                         "s2.depth": 1})  # a seeded backbone with another kernel
    space = Held()
    kernels = []
    for i in range(12):
        trial = study.ask()
        kernels.append(space.suggest(trial).stages[0].blocks[0].args.kernel_size)
        trial.set_user_attr("status", "trained")
        study.tell(trial, [0.5 + 0.01 * i, float(i)])
    assert kernels[0] == 5 and set(kernels[1:]) == {3}


def test_evolution_never_mutates_a_fixed_parameter():
    study = optuna.create_study(directions=["maximize", "minimize"],
                                sampler=AgingEvolution(2, 1, seed=0, fixed=frozenset({"kernel_size"})))
    space = Plain()
    for i in range(20):
        trial = study.ask()
        space.suggest(trial)
        trial.set_user_attr("status", "trained")
        study.tell(trial, [0.5, float(i)])
    mutated = [t.system_attrs["evolution:mutate"] for t in study.get_trials() if PARENT in t.system_attrs]
    assert mutated and "kernel_size" not in mutated


def test_sample_cli_takes_fix_and_free(capsys, monkeypatch):
    from search_spaces import spaces

    monkeypatch.setattr(spaces, "SPACES", only_spaces(Held()))
    assert main(["sample", "--space", "held", "-n", "3", "--fix", "s1.depth=3", "--json"]) == 0
    import json

    points = [row["point"] for row in json.loads(capsys.readouterr().out)]
    assert {p["kernel_size"] for p in points} == {3} and {p["s1.depth"] for p in points} == {3}
    assert main(["sample", "--space", "held", "--free", "s1.width"]) == 2
    assert "cannot free s1.width: not fixed by default" in capsys.readouterr().err
