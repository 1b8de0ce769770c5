"""The Ray Tune Searcher over the Optuna study, in the driver: it asks the study for each candidate, answers
there what needs no training (an over-budget proposal, or one outside a limit of the search distribution,
is recorded with its cost and never trained; a network already trained is recorded as a duplicate of it) and hands the rest to Ray Tune. The study is
told each trial's outcome exactly once, with the trial's learning curve (`curves`). An over-budget (or
outside) proposal ends PRUNED, not FAIL: it was discarded by the budget, not broken (Optuna's dashboard shows it as pruned,
not failed).
"""
from __future__ import annotations

import dataclasses
import json
from dataclasses import dataclass
from typing import Any, Callable, Mapping

import optuna
from optuna.trial import TrialState
from ray.tune.search import Searcher

from nas.search.config import SearchConfig
from nas.search.curves import HISTORY, add_epoch
from nas.search.heartbeat import WORKER, live_workers, worker_id
from nas.search.placement import DEVICE, LATENCY_DEVICE
from nas.search.records import (
    DIGEST,
    DUPLICATE_OF,
    FAILURE,
    MACS,
    OBJECTIVES,
    PARAMS,
    REJECTED,
    SPEC,
    SPENT,
    STATUS,
    TEST_ACCURACY,
    TrialRecord,
    TrialStatus,
    pareto_front,
    record,
)
from nas.search.study import requeue, versions
from search_spaces.counting import count
from search_spaces.errors import SpaceError, SpecError


@dataclass(frozen=True)
class Progress:
    """Sent to the progress callback after every recorded trial."""

    training_runs: int  # trained trials and failed trainings (both spend a run; see SearchConfig.trials)
    total: int
    best_accuracy: float | None
    pareto_size: int
    last: TrialRecord


class StudySearcher(Searcher):
    """Ray Tune Searcher asking an Optuna study for candidates and telling it the outcomes."""

    def __init__(self, study: optuna.Study, config: SearchConfig, space: Any,
                 progress: Callable[[Progress], None] | None = None, fixed: Mapping[str, Any] | None = None):
        super().__init__(metric="accuracy", mode="max")
        self.study, self.config, self.space, self.progress = study, config, space, progress
        self.fixed = fixed  # the search distribution (`Space.distribution`): its limits reject proposals
        self.key = OBJECTIVES[config.objective]
        self.running: dict[str, optuna.trial.Trial] = {}
        self.curves: dict[str, list[dict[str, Any]]] = {}  # Ray trial id -> the epochs it reported so far
        self.rejected = 0
        self.worker = worker_id()
        self.done = False  # True once the searcher told Ray Tune that the search is finished
        self.base = {"train": dataclasses.asdict(config.train), "data": dataclasses.asdict(config.data),
                     "reference_resolution": config.reference_resolution}

    def __getstate__(self) -> dict[str, Any]:
        """Ray Tune pickles its searcher into the run directory (tuner.pkl). The study, the config and the
        callback stay out: the storage URL may hold a password, and a search resumes from the study."""
        return {k: v for k, v in self.__dict__.items() if k not in ("study", "config", "progress")}

    def save(self, checkpoint_path: str) -> None:
        """Nothing to save: the study is the record and `--resume` continues from it. (Without this, Ray
        Tune prints "save not implemented for Searcher" in every search.)"""

    def restore(self, checkpoint_path: str) -> None:
        """Nothing to restore: see `save`."""

    def trained(self, trials: list[optuna.trial.FrozenTrial] | None = None) -> int:
        """Training runs spent in the study (this run's, earlier runs' and other workers'): trained trials
        and trials whose training failed. A failure counts, or a network that always fails (say, it diverges)
        would be proposed again for ever by a sweep over a fixed list. `trials`: the study as just read."""
        trials = self.study.get_trials(deepcopy=False) if trials is None else trials
        return sum(1 for t in trials if t.state in (TrialState.COMPLETE, TrialState.FAIL)
                   and t.user_attrs.get(STATUS) in SPENT)

    def in_flight(self, trials: list[optuna.trial.FrozenTrial] | None = None) -> int:
        """Trials being trained now, by this search process or another live one on the same study."""
        live = live_workers(self.study) | {self.worker}
        trials = self.study.get_trials(deepcopy=False) if trials is None else trials
        return sum(1 for t in trials if t.state == TrialState.RUNNING and t.user_attrs.get(WORKER) in live)

    def suggest(self, trial_id: str) -> dict[str, Any] | None:
        while True:
            trials = self.study.get_trials(deepcopy=False)  # one read of the study for both counts (6 ms each)
            trained = self.trained(trials)
            if trained >= self.config.trials or self.rejected >= self.config.max_proposals:
                self.done = True
                return Searcher.FINISHED
            if trained + self.in_flight(trials) >= self.config.trials:
                return None  # enough trials are running; ask again when one ends (it may fail)
            trial = self.study.ask()
            trial.set_user_attr(WORKER, self.worker)
            answer = self._propose(trial)
            if answer is not None:
                self.running[trial_id] = trial
                return answer

    def _propose(self, trial: optuna.trial.Trial) -> dict[str, Any] | None:
        """The Ray config of a candidate to train, or None when it was answered here."""
        try:
            spec = self.space.suggest(trial)
        except (SpaceError, SpecError) as err:
            return self._close(trial, TrialStatus.INVALID, TrialState.FAIL, failure=str(err))
        cost = count(spec)
        digest = spec.digest()
        for key, value in ((SPEC, spec.to_json(indent=None)), (DIGEST, digest), (MACS, cost.macs),
                           (PARAMS, cost.params), ("versions", json.dumps(versions()))):
            trial.set_user_attr(key, value)
        if cost.macs > self.config.budget:
            return self._close(trial, TrialStatus.OVER_BUDGET, TrialState.PRUNED,
                               failure=f"{cost.macs:,} multiply-adds over the budget of {self.config.budget:,}")
        outside = self.space.outside(spec, self.fixed)
        if outside is not None:
            return self._close(trial, TrialStatus.OUTSIDE, TrialState.PRUNED, failure=outside)
        earlier = self._same_digest(digest, trial.number)
        if earlier is not None:
            if earlier.state == TrialState.COMPLETE:
                trial.set_user_attr(DUPLICATE_OF, earlier.number)
                return self._close(trial, TrialStatus.DUPLICATE, TrialState.COMPLETE, values=earlier.values)
            state = "failed" if earlier.state == TrialState.FAIL else "running"
            return self._close(trial, TrialStatus.DUPLICATE, TrialState.FAIL,
                               failure=f"same network as {state} trial {earlier.number}")
        latency = {LATENCY_DEVICE: self.study.user_attrs.get(LATENCY_DEVICE)} if self.key == "latency_ms" else {}
        return self.base | latency | {"spec": spec.to_json(indent=None), "number": trial.number}

    def _same_digest(self, digest: str, number: int) -> optuna.trial.FrozenTrial | None:
        """An earlier trial that trained (or is training, or failed training) the same network."""
        states = (TrialState.COMPLETE, TrialState.RUNNING, TrialState.FAIL)
        for t in self.study.get_trials(deepcopy=False, states=states):
            status = t.user_attrs.get(STATUS)
            if t.number != number and t.user_attrs.get(DIGEST) == digest and (
                    status in SPENT or (status is None and t.state == TrialState.RUNNING)):
                return t
        return None

    def _close(self, trial: optuna.trial.Trial, status: TrialStatus, state: TrialState, values: Any = None,
               failure: str | None = None) -> None:
        if self.study._storage.get_trial(trial._trial_id).state != TrialState.RUNNING:
            return None  # already re-queued by another worker that took this process for dead: told once
        trial.set_user_attr(STATUS, status.value)
        if failure:
            trial.set_user_attr(FAILURE, failure)
        if status in REJECTED:
            self.rejected += 1  # proposals that train nothing: capped by max_proposals, so a search ends
        self.study.tell(trial, values, state=state)
        self._notify(trial.number)
        return None

    def release(self) -> int:
        """Record the trials still running (an interrupt stopped them) as interrupted and queue them again."""
        trials, self.running, self.curves = list(self.running.values()), {}, {}
        return sum(requeue(self.study, trial) for trial in trials)

    def on_trial_result(self, trial_id: str, result: dict) -> None:
        """Keep each epoch a running trial reports (its learning curve)."""
        if trial_id in self.running:
            add_epoch(self.curves.setdefault(trial_id, []), result)

    def on_trial_complete(self, trial_id: str, result: dict | None = None, error: bool = False) -> None:
        trial = self.running.pop(trial_id, None)
        history = self.curves.pop(trial_id, [])
        if trial is None:
            return
        add_epoch(history, result)  # the epoch on which ASHA stopped it reaches only this hook
        try:
            if history:  # failed trainings keep theirs too: the epochs before the failure
                trial.set_user_attr(HISTORY, history)
            self._complete(trial, result, error)
        except Exception as err:  # a trial left running would hold a slot for ever: the search would never end
            self._close(trial, TrialStatus.FAILED, TrialState.FAIL,
                        failure=f"recording the trial's result failed: {err.__class__.__name__}: {err}")

    def _complete(self, trial: optuna.trial.Trial, result: dict | None, error: bool) -> None:
        """Tell the study how a trial that Ray Tune finished (or stopped) ended."""
        if error or not result:
            self._close(trial, TrialStatus.FAILED, TrialState.FAIL,
                        failure="the trial's worker died or raised (see Ray logs)")
            return
        if result.get(DEVICE):
            trial.set_user_attr(DEVICE, str(result[DEVICE]))  # where it trained (and was timed): per trial
        failure = result.get("failure") or self._latency_refused(result)
        if failure:
            self._close(trial, TrialStatus.FAILED, TrialState.FAIL, failure=failure)
            return
        trial.set_user_attr("epochs", int(result.get("epoch", 0)))
        # ASHA stops even a trial that reached max_t before its final report: compare the epochs run
        trial.set_user_attr("stopped_early", int(result.get("epoch", 0)) < self.config.train.epochs)
        if result.get("latency_ms"):
            trial.set_user_attr("latency_ms", float(result["latency_ms"]))
        if result.get("test_accuracy", -1.0) >= 0:  # measured to report, never read to choose
            trial.set_user_attr(TEST_ACCURACY, float(result["test_accuracy"]))
        second = result.get(self.key)
        self._close(trial, TrialStatus.TRAINED, TrialState.COMPLETE, values=[float(result["accuracy"]), float(second)])

    def _latency_refused(self, result: dict) -> str | None:
        """Why a trained trial of a latency search cannot join its front: no latency reported, or one timed
        on another device than the study's (recorded from the first latency the study got). None otherwise."""
        if self.key != "latency_ms":
            return None
        if result.get("latency_ms") is None:
            return "the trial reported no latency (a latency search times each network before training it)"
        device = result.get(DEVICE) or "an unrecorded device"
        recorded = self.study.user_attrs.get(LATENCY_DEVICE)
        if recorded is None:
            self.study.set_user_attr(LATENCY_DEVICE, device)
        elif recorded != device:
            return (f"latency timed on {device}, the study's latencies are from {recorded}: a latency search runs "
                    "on one kind of device")
        return None

    def _notify(self, number: int) -> None:
        if self.progress is None:
            return
        # one read of the trials (a multi-trial study records nothing after a trial: no later_attrs to read)
        rows = [record(t) for t in self.study.get_trials(deepcopy=False)]
        front = pareto_front(rows, self.key)
        best = max((r.accuracy for r in rows if r.status == TrialStatus.TRAINED and r.accuracy is not None),
                   default=None)
        spent = sum(1 for r in rows if r.status in SPENT)  # self.trained() from the rows just read
        self.progress(Progress(spent, self.config.trials, best, len(front), rows[number]))
