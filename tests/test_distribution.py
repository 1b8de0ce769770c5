"""The search distribution: parameters a space holds fixed by default, `fix` and `free` over them, in
sampling, in a search's sampler (enqueued backbones keep their own values) and in evolution's mutations;
the limits it keeps on whole networks, in sampling and in a search."""
import itertools
from types import MappingProxyType

import optuna
import pytest

from nas.cli import main
from nas.search.config import SearchConfig, SearchError, parse_fix
from nas.search.searcher import StudySearcher
from nas.search.strategies import PARENT, AgingEvolution, sampler
from search_spaces.errors import BudgetError, SpaceError
from search_spaces.spaces.classic import plain_convs
from search_spaces.spaces.limits import Limit
from tests.helpers import only_spaces
from tests.spaces.test_base import POINT, Plain


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
    assert main(["sample", "--space", "held", "-n", "3", "--fix", "s1.depth=3", "--fix", "s2.depth=2", "--json"]) == 0
    import json

    points = [row["point"] for row in json.loads(capsys.readouterr().out)]  # a repeated --fix adds to the first
    assert {p["kernel_size"] for p in points} == {3} and {(p["s1.depth"], p["s2.depth"]) for p in points} == {(3, 2)}
    assert main(["sample", "--space", "held", "--free", "s1.width"]) == 2
    assert "cannot free s1.width: not fixed by default" in capsys.readouterr().err


def _convs(spec):
    return sum(stage.blocks[0].repeats for stage in spec.stages)


class Limited(Plain):
    """Plain whose default distribution keeps networks of at most 3 convs (two stages of 1-3 each)."""

    name = "limited"
    limits = MappingProxyType({"max_convs": Limit(_convs, 3, upper=True, unit="convs")})


def test_a_limit_joins_the_distribution_and_free_lifts_it_and_fix_moves_it():
    space = Limited()
    assert space.distribution() == {"max_convs": 3}
    assert space.distribution(free=["max_convs"]) == {} == space.distribution(free=["all"])
    assert space.distribution({"max_convs": 5}) == {"max_convs": 5}
    with pytest.raises(SpaceError, match=r"limited: limit 'max_convs' \(at most so many convs\) takes a whole "
                                         r"number >= 0, got 'many'"):
        space.distribution({"max_convs": "many"})


def test_samples_keep_the_limits_and_only_they_are_lifted_by_free():
    space = Limited()
    kept = [_convs(s) for s in itertools.islice(space.samples(0, fixed=space.distribution()), 40)]
    lifted = [_convs(s) for s in itertools.islice(space.samples(0, fixed={}), 40)]
    assert set(kept) == {2, 3} and max(lifted) == 6
    assert space.outside(space.decode(POINT), {"max_convs": 3}) is None  # 2 + 1 convs
    assert space.outside(space.decode(POINT), {"max_convs": 2}) == (
        "outside the search distribution's limit max_convs (3 convs, at most 2; --free max_convs lifts it)")
    with pytest.raises(BudgetError, match=r"no point of space 'limited' within its distribution's limits in 50 "
                                          r"random draws \(.*\); --free max_convs$"):  # no budget to raise
        next(space.samples(0, max_draws=50, fixed={"max_convs": 1}))


def test_a_search_records_a_proposal_outside_a_limit_untrained(tmp_path):
    study = optuna.create_study(directions=["maximize", "minimize"])
    config = SearchConfig(space="limited", budget=10**9, trials=3, strategy="random", run_dir=str(tmp_path),
                          max_proposals=3)
    searcher = StudySearcher(study, config, Limited(), fixed={"max_convs": 1})  # no network has fewer than 2
    assert searcher.suggest("t1") == "FINISHED" and searcher.trained() == 0
    trials = study.get_trials()
    assert [(t.state, t.user_attrs["status"]) for t in trials] == [(optuna.trial.TrialState.PRUNED, "outside")] * 3
    assert "outside the search distribution's limit max_convs" in trials[0].user_attrs["failure"]


def test_the_classic_and_inception_limits_and_every_fixed_point_within_its_space_limits():
    from search_spaces import backbones, spaces

    classic, inception = spaces.get("classic"), spaces.get("inception")
    # AlexNet has 5 conv layers (Krizhevsky et al. 2012, section 3.5), VGG-16 13 (Simonyan & Zisserman 2015,
    # Table 1, configuration D): both within the default's 16 (VGG-19's count, configuration E)
    assert plain_convs(backbones.get("alexnet")) == 5 and plain_convs(backbones.get("vgg16")) == 13
    assert plain_convs(backbones.get("squeezenet1_0")) == 0
    for space in spaces.SPACES.values():
        fixed = space.distribution()
        assert all(space.outside(backbones.get(name), fixed) is None for name in space.fixed_points), space.name
    drawn = list(itertools.islice(classic.samples(0, 10**9, fixed={"kind": "plain"} | classic.distribution()), 15))
    assert max(map(plain_convs, drawn)) <= 16
    assert min(s.resolution for s in itertools.islice(inception.samples(0, 2 * 10**9, fixed=inception.distribution()), 5)) >= 160


def test_a_repeated_list_option_of_nas_search_adds_to_the_first():
    import argparse

    from nas.cli.options import add_settings, given
    from nas.search.config import search_fields

    parser = argparse.ArgumentParser()
    names = add_settings(parser, search_fields())
    args = parser.parse_args(["--fix", "kind=plain", "--fix", "max_plain_convs=12", "norm=true", "--free", "bypass"])
    assert given(args, names) == {"fix": ["kind=plain", "max_plain_convs=12", "norm=true"], "free": ["bypass"]}
