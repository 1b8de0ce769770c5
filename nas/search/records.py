"""A search's trials as records: the study's attribute keys, what became of each trial (`TrialStatus`),
one row per trial, the Pareto front and its hypervolume, and a one-line description of a network."""
from __future__ import annotations

from dataclasses import asdict, dataclass
from enum import Enum
from typing import TYPE_CHECKING, Any, Iterable

from nas.search.curves import HISTORY
from search_spaces.counting import stage_shapes
from search_spaces.spec import from_json

if TYPE_CHECKING:
    import optuna

# trial user attributes written by the search (the study is the record; these are its keys)
SPEC, DIGEST, MACS, PARAMS, STATUS, FAILURE, DUPLICATE_OF, NAMED = (
    "spec", "digest", "macs", "params", "status", "failure", "duplicate_of", "named")
TEST_ACCURACY = "test_accuracy"  # measured at the end of a trial to report; a search ranks on validation accuracy
# a search on a supernet: where a trial's accuracy comes from, and the stand-alone proxy training of its best
SCORED_ON, STANDALONE_ACCURACY, STANDALONE_TEST_ACCURACY = "scored_on", "standalone_accuracy", "standalone_test_accuracy"
LATER = "later_attrs"  # study attribute {number: {key: value}}: trial attributes recorded after it finished
# the search's second objective -> the record field it minimises
OBJECTIVES = {"flops": MACS, "params": PARAMS, "latency": "latency_ms"}
# the study's metric names (Optuna's dashboard shows them): validation accuracy, then the second objective
METRIC_NAMES = {"flops": "FLOPs", "params": "params", "latency": "latency (ms)"}
# below this many times chance accuracy a network did not learn what the data offers: `nas analyze` counts
# such networks, and evolution breeds from them only when its tournament sample holds nothing better
NEAR_CHANCE = 3.0


def near_chance(num_classes: int | None) -> float:
    """The accuracy below which a network counts as near chance on `num_classes` classes: NEAR_CHANCE times
    chance, but at most halfway from chance to 1 (3x chance is past 1 on two classes, so no network would
    count as learned); 0 when the class count is unknown."""
    if not num_classes:
        return 0.0
    chance = 1.0 / num_classes
    return min(NEAR_CHANCE * chance, (1.0 + chance) / 2)


class TrialStatus(str, Enum):
    """What became of a trial; stored as its plain string value in the study (`status` user attribute)."""

    TRAINED = "trained"  # trained to the end (or stopped early by the scheduler): it has an accuracy
    FAILED = "failed"  # its training failed (NaN, divergence, dead units, an error): a spent training run
    OVER_BUDGET = "over_budget"  # proposed over the FLOPs budget: recorded, never trained
    OUTSIDE = "outside"  # outside a limit of the search distribution (`Space.limits`): recorded, never trained
    INVALID = "invalid"  # the proposed parameters make no valid network
    DUPLICATE = "duplicate"  # the same network (digest) as an earlier trial: never trained twice
    INTERRUPTED = "interrupted"  # running when the search was stopped; its parameters were queued again
    RUNNING = "running"
    WAITING = "waiting"

    def __str__(self) -> str:
        return self.value


SPENT = (TrialStatus.TRAINED, TrialStatus.FAILED)  # statuses that spent a training run
REJECTED = (TrialStatus.OVER_BUDGET, TrialStatus.OUTSIDE, TrialStatus.INVALID,
            TrialStatus.DUPLICATE)  # proposals that trained nothing


@dataclass(frozen=True)
class TrialRecord:
    """One trial as a row: its state, cost, accuracy and why it has none."""

    number: int
    status: str  # a TrialStatus value
    accuracy: float | None  # validation accuracy (in studies recorded before validation splits: test accuracy)
    macs: int | None  # multiply-adds of the deployed network
    params: int | None
    digest: str | None
    named: str | None  # the backbone it was seeded from, if any
    failure: str | None
    seconds: float | None
    latency_ms: float | None  # measured batch-1 latency, when the search measured it
    spec: str | None  # spec JSON
    test_accuracy: float | None = None  # reported for the front, never used to choose
    device: str | None = None  # where it trained and was timed: 'cuda NVIDIA H200', 'cpu AMD EPYC 7B13'
    # the learning curve: per epoch its number, val_accuracy, train_loss, train_accuracy and training seconds
    history: list[dict[str, Any]] | None = None
    scored_on: str | None = None  # 'supernet': its accuracy is the supernet's (inherited weights), not trained
    standalone_accuracy: float | None = None  # a supernet search's --retrain: validation accuracy trained alone
    standalone_test_accuracy: float | None = None

    def row(self) -> dict[str, Any]:
        """The CSV row (no spec JSON, no learning curve: trials.json has both)."""
        return {k: v for k, v in asdict(self).items() if k not in ("spec", "history")}


def record(trial: optuna.trial.FrozenTrial, later: dict[str, Any] | None = None) -> TrialRecord:
    """A study trial as a TrialRecord (with the attributes recorded `later`, after it finished)."""
    attrs = trial.user_attrs | (later or {})
    status = attrs.get(STATUS) or {"RUNNING": TrialStatus.RUNNING, "WAITING": TrialStatus.WAITING}.get(
        trial.state.name, TrialStatus.FAILED).value
    accuracy = trial.values[0] if trial.values and status in (TrialStatus.TRAINED, TrialStatus.DUPLICATE) else None
    seconds = trial.duration.total_seconds() if trial.duration else None
    return TrialRecord(trial.number, status, accuracy, attrs.get(MACS), attrs.get(PARAMS), attrs.get(DIGEST),
                       attrs.get(NAMED), attrs.get(FAILURE), seconds, attrs.get("latency_ms"), attrs.get(SPEC),
                       attrs.get(TEST_ACCURACY), attrs.get("device"), attrs.get(HISTORY), attrs.get(SCORED_ON),
                       attrs.get(STANDALONE_ACCURACY), attrs.get(STANDALONE_TEST_ACCURACY))


def records(study: optuna.Study) -> list[TrialRecord]:
    """Every trial of the study, in order."""
    later = later_attrs(study)
    return [record(t, later.get(t.number)) for t in study.get_trials(deepcopy=False)]


def later_attrs(study: optuna.Study) -> dict[int, dict[str, Any]]:
    """Trial attributes recorded after their trial finished (Optuna keeps a finished trial read-only), by
    trial number."""
    return {int(n): attrs for n, attrs in study.user_attrs.get(LATER, {}).items()}


def set_later(study: optuna.Study, updates: dict[int, dict[str, Any]]) -> None:
    """Record attributes of finished trials (merged into what `later_attrs` holds)."""
    if updates:
        merged = {str(n): attrs for n, attrs in later_attrs(study).items()}
        for number, attrs in updates.items():
            merged[str(number)] = merged.get(str(number), {}) | attrs
        study.set_user_attr(LATER, merged)


def pareto_front(rows: Iterable[TrialRecord], key: str = "macs") -> list[TrialRecord]:
    """Trained trials that no other trained trial beats on both accuracy (higher) and `key` (lower);
    one per spec digest; sorted by accuracy, best first."""
    trained = {}
    for r in rows:
        if r.status == TrialStatus.TRAINED and r.accuracy is not None and getattr(r, key) is not None:
            trained.setdefault(r.digest, r)
    front = [
        r for r in trained.values()
        if not any(o.accuracy >= r.accuracy and getattr(o, key) <= getattr(r, key)
                   and (o.accuracy > r.accuracy or getattr(o, key) < getattr(r, key)) for o in trained.values())
    ]
    return sorted(front, key=lambda r: (-r.accuracy, getattr(r, key)))


def hypervolume(front: list[TrialRecord], budget: int, key: str = "macs") -> float:
    """Area dominated by the front in (cost / budget, accuracy) space, against (1, 0): 0 to 1, higher is better."""
    points = sorted((getattr(r, key) / budget, r.accuracy) for r in front if getattr(r, key) <= budget)
    area = 0.0
    for (cost, accuracy), (next_cost, _) in zip(points, points[1:] + [(1.0, 0.0)]):
        area += (next_cost - cost) * accuracy
    return area


def describe(spec_json: str | None) -> str:
    """A one-line description of a spec: its resolution, then each stage as blocks x output width (the
    width from the cost walk, so inception modules and dense blocks have one too) and its cells where they
    are not all mbconv."""
    if not spec_json:
        return ""
    spec = from_json(spec_json)
    stages = []
    for stage, shape in zip(spec.stages, stage_shapes(spec)):
        depth = sum(b.repeats for b in stage.blocks)
        cells = sorted({b.cell for b in stage.blocks})
        stages.append(f"{depth}x{shape.c}" + ("" if cells == ["mbconv"] else f" {'/'.join(cells)}"))
    return f"{spec.resolution}px " + " ".join(stages)
