"""The space contract on a small literal space: strict decode, round trips, budgeted sampling."""
import pytest

from search_spaces.cells.conv import ConvArgs
from search_spaces.cells.head import ClassifierArgs
from search_spaces.counting import count
from search_spaces.errors import BudgetError, SpaceError
from search_spaces.spaces.base import Space
from search_spaces.spec import Block, NetSpec, Stage


class Plain(Space):
    """Stages of 3x3 convs: per-stage depth and width, a global kernel choice, the resolution."""

    name = "plain"

    def suggest(self, trial):
        resolution = trial.suggest_int("resolution", 32, 64, step=16)
        kernel = trial.suggest_categorical("kernel_size", [1, 3, 5])
        stages = []
        for s in (1, 2):
            width = trial.suggest_int(f"s{s}.width", 8, 32, step=8)
            depth = trial.suggest_int(f"s{s}.depth", 1, 3)
            stages.append(Stage((Block("conv", ConvArgs(width, kernel, 2), repeats=depth),)))
        return NetSpec(stem=(), stages=tuple(stages), head=(Block("classifier", ClassifierArgs()),),
                       resolution=resolution, num_classes=10)

    def encode(self, spec):
        params = {"resolution": spec.resolution, "kernel_size": spec.stages[0].blocks[0].args.kernel_size}
        for s, stage in enumerate(spec.stages, 1):
            params[f"s{s}.width"] = stage.blocks[0].args.out_channels
            params[f"s{s}.depth"] = stage.blocks[0].repeats
        return params


SPACE = Plain()
POINT = {"resolution": 48, "kernel_size": 3, "s1.width": 16, "s1.depth": 2, "s2.width": 32, "s2.depth": 1}


def test_decode_encode_round_trip():
    spec = SPACE.decode(POINT)
    assert spec.stages[0].blocks[0].args == ConvArgs(16, 3, 2) and spec.stages[0].blocks[0].repeats == 2
    assert SPACE.encode(spec) == POINT
    assert SPACE.contains(spec)


def test_samples_round_trip_and_are_seeded():
    for seed in range(50):
        spec = SPACE.sample(seed)
        assert SPACE.contains(spec)
        assert SPACE.decode(SPACE.encode(spec)) == spec
    assert SPACE.sample(7) == SPACE.sample(7)
    assert len({SPACE.sample(seed).digest() for seed in range(50)}) > 30


def test_not_contained():
    outside = NetSpec(stem=(), stages=(Stage((Block("conv", ConvArgs(12, 3, 2)),)),) * 2,
                      head=(Block("classifier", ClassifierArgs()),), resolution=48, num_classes=10)
    assert not SPACE.contains(outside)  # width 12 is off the step-8 grid


@pytest.mark.parametrize(
    "change,message",
    [
        ({"s1.width": None}, "plain: missing parameter 's1.width' (int in [8, 32] step 8)"),
        ({"s1.width": 12}, "plain: parameter 's1.width' must be int in [8, 32] step 8, got 12"),
        ({"s2.depth": 4}, "plain: parameter 's2.depth' must be int in [1, 3], got 4"),
        ({"kernel_size": 7}, "plain: parameter 'kernel_size' must be one of 1, 3, 5, got 7"),
        ({"s3.width": 8}, "plain: unknown parameter(s) ['s3.width'] for this point of the space"),
    ],
)
def test_strict_decode(change, message):
    params = {k: v for k, v in (POINT | change).items() if v is not None}
    with pytest.raises(SpaceError) as err:
        SPACE.decode(params)
    assert str(err.value) == message


def test_budgeted_sampling_stays_within_budget():
    budget = 2_000_000
    for seed, spec in zip(range(100), SPACE.samples(0, budget)):
        assert count(spec).macs <= budget


def test_budget_below_smallest_names_the_minimum():
    smallest = count(SPACE.smallest()).macs  # 32px, kernel 1, width 8, depth 1, twice
    assert smallest == 8 * 3 * 16 * 16 + 8 * 8 * 8 * 8 + 8 * 10
    with pytest.raises(BudgetError) as err:
        SPACE.sample(0, budget=smallest - 1)
    assert f"below the smallest network of space 'plain' ({smallest:,} multiply-adds)" in str(err.value)


def test_describe_lists_ranges():
    ranges = SPACE.describe()
    assert ranges["s1.width"] == "int in [8, 32] step 8"
    assert ranges["kernel_size"] == "one of 1, 3, 5"


def test_what_optuna_refuses_is_refused_here():
    class Ragged(Plain):
        def suggest(self, trial):  # step 10 does not divide [8, 32]: Optuna would silently cut the range
            trial.suggest_int("w", 8, 32, step=10)
            return Plain.suggest(self, trial)

    class Shifting(Plain):
        def suggest(self, trial):  # the choices of one name change between draws: Optuna raises mid-study
            depth = trial.suggest_int("d", 1, 2)
            trial.suggest_categorical("k", (1, 3) if depth == 1 else (3, 5))
            return Plain.suggest(self, trial)

    with pytest.raises(SpaceError, match=r"'w': range \[8, 32\] is not a whole number of steps of 10"):
        Ragged().sample(0)
    with pytest.raises(SpaceError, match="offers .* here but .* elsewhere; Optuna needs the same choices"):
        Shifting().describe()


def test_a_name_drawn_twice_gives_its_first_value_as_in_optuna():
    import random

    import optuna

    from search_spaces.spaces.base import RandomTrial

    def draws(trial):  # a global choice drawn by whichever stage first needs it, then by the others
        return [trial.suggest_categorical("pattern", ("a", "b", "c", "d")) for _ in range(20)] + [
            trial.suggest_int("n", 1, 100) for _ in range(5)] + [trial.suggest_float("x", 0, 1) for _ in range(5)]

    for seed in range(5):
        got = draws(RandomTrial(random.Random(seed)))
        assert len(set(got[:20])) == len(set(got[20:25])) == len(set(got[25:])) == 1
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    trial = optuna.create_study(sampler=optuna.samplers.RandomSampler(seed=0)).ask()
    got = draws(trial)  # what Optuna's own trials do
    assert len(set(got[:20])) == len(set(got[20:25])) == len(set(got[25:])) == 1


@pytest.mark.parametrize("name", ["mobile", "resnet", "inception", "dense", "shuffle", "classic", "randwire"])
def test_every_registered_space_runs_under_a_real_optuna_study(name):
    import optuna

    from search_spaces import spaces

    space = spaces.get(name)
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    study = optuna.create_study(sampler=optuna.samplers.RandomSampler(seed=0))
    for _ in range(30):
        trial = study.ask()
        spec = space.suggest(trial)
        assert space.decode(trial.params) == spec  # Optuna's recorded params replay to the same network
        study.tell(trial, 0.0)


def test_a_budget_no_draw_meets_says_so_with_the_minimum():
    class Wide(Plain):
        def smallest(self):  # a network cheaper than any random draw of the space
            return NetSpec(stem=(), stages=(Stage((Block("conv", ConvArgs(4, 1, 2)),)),),
                           head=(Block("classifier", ClassifierArgs()),), resolution=32, num_classes=10)

    smallest = count(Wide().smallest()).macs
    with pytest.raises(BudgetError, match=f"within {smallest:,} multiply-adds in 50 random draws "
                                          f"\\(its smallest network has {smallest:,}\\); raise the budget"):
        next(Wide().samples(0, smallest, max_draws=50))
