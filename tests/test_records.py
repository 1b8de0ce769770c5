"""Pareto fronts, hypervolume, the near-chance floor and the evolution sampler, on literal data (no training,
no Ray)."""
import optuna
import pytest

from nas.search.analysis import Drawn, summarize
from nas.search.records import TrialRecord, hypervolume, near_chance, pareto_front
from nas.search.strategies import PARENT, AgingEvolution, dominates
from nas.search.study import mask_url


def rec(number, accuracy, macs, status="trained", digest=None):
    return TrialRecord(number, status, accuracy, macs, 1, digest or f"d{number}", None, None, None, None, None)


def test_pareto_front_keeps_only_undominated_trained_trials():
    rows = [rec(0, 0.90, 300), rec(1, 0.80, 100), rec(2, 0.85, 300),  # 2 is dominated by 0
            rec(3, 0.95, 290, status="over_budget"), rec(4, 0.80, 100, digest="d1"),  # not trained / same network
            rec(5, 0.70, 50), rec(6, 0.70, 60)]  # 6 is dominated by 5
    front = pareto_front(rows)
    assert [r.number for r in front] == [0, 1, 5]


def test_hypervolume_by_hand():
    # budget 400: points (100/400, .8), (300/400, .9); area = (.75 - .25) * .8 + (1 - .75) * .9
    front = [rec(0, 0.9, 300), rec(1, 0.8, 100)]
    assert hypervolume(front, 400) == pytest.approx(0.5 * 0.8 + 0.25 * 0.9)
    assert hypervolume([], 400) == 0.0


def test_dominates():
    up, down = optuna.study.StudyDirection.MAXIMIZE, optuna.study.StudyDirection.MINIMIZE
    assert dominates([0.9, 100], [0.8, 200], [up, down])
    assert not dominates([0.9, 100], [0.9, 100], [up, down])
    assert not dominates([0.9, 300], [0.8, 200], [up, down])


def test_mask_url_hides_passwords():
    assert mask_url("postgresql://nas:s3cret@db.local:5432/studies") == "postgresql://nas:***@db.local:5432/studies"
    assert "s3cret" not in mask_url("postgresql+psycopg2://u:s3cret@h/d")


def test_evolution_children_differ_from_their_parent_in_one_parameter():
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    sampler = AgingEvolution(population=4, sample_size=2, seed=0)
    study = optuna.create_study(directions=["maximize", "minimize"], sampler=sampler)

    def objective(trial):
        xs = [trial.suggest_int(f"x{i}", 0, 9) for i in range(4)]
        trial.set_user_attr("status", "trained")
        return sum(xs) / 36, xs[0] + 1

    study.optimize(objective, n_trials=20)
    children = [t for t in study.trials if PARENT in t.system_attrs]
    assert len(children) == 16  # everything after the first `population` random trials
    for child in children:
        parent = study.trials[child.system_attrs[PARENT]]
        # aging: the parent is one of the 4 most recent trained trials, never older history
        assert child.number - 4 <= parent.number < child.number
        changed = [k for k in child.params if child.params[k] != parent.params[k]]
        assert len(changed) == 1


def test_evolution_breeds_from_near_chance_networks_only_when_nothing_better_is_drawn():
    """A cheap network at chance is on the (accuracy, cost) front of any sample; with a floor it is no parent
    while a sampled network clears the floor, and still one when none does."""
    optuna.logging.set_verbosity(optuna.logging.WARNING)

    def parents(floor, accuracies):
        sampler = AgingEvolution(population=4, sample_size=4, seed=0, floor=floor)
        study = optuna.create_study(directions=["maximize", "minimize"], sampler=sampler)
        for accuracy, cost in accuracies:  # the population: trained trials with their (accuracy, cost)
            study.add_trial(optuna.trial.create_trial(
                params={"x": cost}, distributions={"x": optuna.distributions.IntDistribution(0, 99)},
                values=[accuracy, cost], user_attrs={"status": "trained"}))
        found = set()
        for _ in range(12):
            trial = study.ask()
            parent = study.trials[trial.number].system_attrs[PARENT]
            found.add(study.trials[parent].params["x"])
            study.tell(trial, state=optuna.trial.TrialState.FAIL)
        return found

    population = [(0.12, 5), (0.95, 80), (0.90, 40), (0.50, 90)]  # the 5-cost one is near chance (10 classes)
    assert parents(0.0, population) == {5, 40, 80}  # the whole front of the sample: the near-chance one too
    assert parents(0.3, population) == {40, 80}
    assert parents(0.3, [(0.12, 5), (0.2, 40), (0.25, 80), (0.1, 90)]) == {5, 40, 80}  # none clears: as without


def test_proxy_side_follows_the_candidate_resolution():
    from nas.search.trial import proxy_side

    assert proxy_side(28, 224, 224) == 28  # a 224 px network trains at the data's own side
    assert proxy_side(32, 256, 224) == 37  # 32 * 256 / 224 = 36.6
    assert proxy_side(32, 600, 224) == 86  # EfficientNet-B7's 600 px
    assert proxy_side(28, 32, 224) == 8  # never below 8 px


def test_describe_gives_every_stage_its_blocks_and_output_width():
    from nas.search.records import describe
    from search_spaces import backbones

    # paper tables: MobileNetV2 rows (n, c) = (1, 16) (2, 24) (3, 32) (4, 64) (3, 96) (3, 160) (1, 320);
    # GoogLeNet's inception 3b, 4e and 5b output 480, 832 and 1024 channels; DenseNet-121's dense blocks
    # end on 64 + 6*32 = 256, 128 + 12*32 = 512, 256 + 24*32 = 1024 and 512 + 16*32 = 1024 channels
    assert describe(backbones.get("mobilenet_v2").to_json()) == "224px 1x16 2x24 3x32 4x64 3x96 3x160 1x320"
    assert describe(backbones.get("googlenet").to_json()).split()[3::2] == ["3x480", "6x832", "3x1024"]
    assert [part for part in describe(backbones.get("densenet121").to_json()).split() if "x" in part][1:] == [
        "1x256", "2x512", "2x1024", "3x1024"]
    assert describe(None) == ""


def test_near_chance_is_3x_chance_but_never_past_halfway_to_1():
    # 3x chance is 30 % on 10 classes; on 2 it would be 150 %, and no network could ever count as learned
    assert near_chance(10) == pytest.approx(0.30) and near_chance(5) == pytest.approx(0.60)
    assert near_chance(4) == pytest.approx(0.625) and near_chance(2) == pytest.approx(0.75)
    assert near_chance(None) == 0.0
    binary = summarize("binary", [Drawn({}, a) for a in (0.55, 0.74, 0.76, 0.98)], 2)
    assert (binary.near_chance, binary.floor) == (2, 0.75)
