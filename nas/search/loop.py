"""The scoring loop of a search on a supernet (`OneShot`, see `nas.search.oneshot`): ask the strategy for
candidates, answer the invalid, over-budget, outside and duplicate ones at once, send the rest to a pool
that scores them (on the supernet, or by an accuracy predictor) and tell the study what came back."""
from __future__ import annotations

import json
from typing import Any, Callable

import optuna
from optuna.trial import FrozenTrial, TrialState

from nas.search.config import SearchConfig
from nas.search.recorder import Front, Recorder
from nas.search.records import (
    DIGEST,
    DUPLICATE_OF,
    FAILURE,
    MACS,
    OBJECTIVES,
    PARAMS,
    REJECTED,
    SCORED_ON,
    SPEC,
    SPENT,
    STATUS,
    TrialStatus,
    record,
)
from nas.search.scoring import BATCH
from nas.search.searcher import Progress
from nas.search.study import versions
from search_spaces.counting import count
from search_spaces.errors import SpaceError, SpecError
from search_spaces.spaces.base import Space


class OneShot:
    """The scoring loop of a search on a supernet (see the module's notes); `pool` is a `scoring.Pool` or has its
    interface (`predicted.Predicting`)."""

    def __init__(self, study: optuna.Study, config: SearchConfig, space: Space, fixed: dict[str, Any],
                 pool: Any, progress: Callable[[Progress], None] | None, num_classes: int | None = None,
                 scored_on: str = "supernet"):
        self.config, self.space, self.pool, self.progress, self.fixed = config, space, pool, progress, fixed
        self.scored_on = scored_on
        self.key = OBJECTIVES[config.objective]
        self.recorder = Recorder(study, config, fixed, num_classes)
        self.known: dict[str, FrozenTrial] = {}  # digest -> the trial that scored it (or failed to)
        self.front, self.spent, self.rejected, self.flying = Front(), 0, 0, 0
        for t in self.recorder.trials():
            if t.user_attrs.get(STATUS) in SPENT:
                self.known.setdefault(t.user_attrs.get(DIGEST), t)
                self.spent += 1
                if t.state == TrialState.COMPLETE:
                    self.front.add(t.values[0], t.values[1])
        self.versions = json.dumps(versions())
        self.cpu_seconds, self.scored = 0.0, 0

    def run(self) -> int | None:
        """Score until `trials` candidates are scored or `max_proposals` rejected; None when done, else (after
        Ctrl-C or SIGTERM) the number of candidates in flight, recorded as interrupted and queued again."""
        try:
            while True:
                while len(self.pool.pending) < self.pool.slots and self._submit():
                    pass
                if not self.pool.pending:
                    break
                (trials, specs), (results, seconds) = self.pool.wait()
                self.cpu_seconds += seconds
                for trial, spec, result in zip(trials, specs, results):
                    self._told(trial, spec, result)
                self.recorder.flush()
            self.recorder.close()  # an interrupt while the last trials are written is an interrupt too
        except KeyboardInterrupt:
            return self._interrupted()
        return None

    def _submit(self) -> bool:
        """Ask for the next batch of candidates to score and submit it; False when there is none to ask for."""
        wanted = self.config.trials - self.spent - self.flying
        size = max(1, min(BATCH, -(-wanted // self.pool.slots))) if self.pool.use_ray else 1
        batch: list[tuple[optuna.trial.Trial, Any]] = []
        while len(batch) < min(size, wanted) and self.rejected < self.config.max_proposals:
            candidate = self._propose()
            if candidate is not None:
                batch.append(candidate)
        self.recorder.flush()
        if not batch:
            return False
        self.flying += len(batch)
        trials, specs = [t for t, _ in batch], [s for _, s in batch]
        self.pool.submit((trials, specs), "score", ([s.to_json(indent=None) for s in specs],))
        return True

    def _propose(self) -> tuple[optuna.trial.Trial, Any] | None:
        """A candidate to score, or None when it was answered here (invalid, over budget, outside the
        distribution's limits, a duplicate)."""
        trial = self.recorder.memory.ask()
        try:
            spec = self.space.suggest(trial)
        except (SpaceError, SpecError) as err:
            return self._close(trial, TrialStatus.INVALID, TrialState.FAIL, failure=str(err))
        cost, digest = count(spec), spec.digest()
        for key, value in ((SPEC, spec.to_json(indent=None)), (DIGEST, digest), (MACS, cost.macs),
                           (PARAMS, cost.params), ("versions", self.versions), (SCORED_ON, self.scored_on)):
            trial.set_user_attr(key, value)
        if cost.macs > self.config.budget:
            return self._close(trial, TrialStatus.OVER_BUDGET, TrialState.FAIL,
                               failure=f"{cost.macs:,} multiply-adds over the budget of {self.config.budget:,}")
        outside = self.space.outside(spec, self.fixed)
        if outside is not None:
            return self._close(trial, TrialStatus.OUTSIDE, TrialState.FAIL, failure=outside)
        earlier = self.known.get(digest)
        if earlier is not None:
            if earlier.state == TrialState.COMPLETE:
                trial.set_user_attr(DUPLICATE_OF, earlier.number)
                return self._close(trial, TrialStatus.DUPLICATE, TrialState.COMPLETE, values=earlier.values)
            state = "failed" if earlier.state == TrialState.FAIL else "running"
            return self._close(trial, TrialStatus.DUPLICATE, TrialState.FAIL,
                               failure=f"same network as {state} trial {earlier.number}")
        self.known[digest] = self.recorder.frozen(trial)
        return trial, spec

    def _close(self, trial: optuna.trial.Trial, status: TrialStatus, state: TrialState, values: Any = None,
               failure: str | None = None) -> None:
        trial.set_user_attr(STATUS, status.value)
        if failure:
            trial.set_user_attr(FAILURE, failure)
        if status in REJECTED:
            self.rejected += 1
        self.recorder.memory.tell(trial, values, state=state)
        frozen = self.recorder.finished(trial)
        if status in SPENT:
            self.spent += 1
            self.known[frozen.user_attrs[DIGEST]] = frozen
            if state == TrialState.COMPLETE:
                self.front.add(*values)
        if self.progress is not None:
            self.progress(Progress(self.spent, self.config.trials, self.front.best, len(self.front.points),
                                   record(frozen)))
        return None

    def _told(self, trial: optuna.trial.Trial, spec: Any, result: Any) -> None:
        """Record a scored candidate (its accuracy, or why it has none)."""
        self.flying -= 1
        if isinstance(result, str):
            self._close(trial, TrialStatus.FAILED, TrialState.FAIL, failure=result)
            return
        self.scored += 1
        cost = trial.user_attrs[MACS] if self.key == MACS else trial.user_attrs[PARAMS]
        self._close(trial, TrialStatus.TRAINED, TrialState.COMPLETE, values=[float(result), float(cost)])

    def _interrupted(self) -> int:
        """Candidates in flight (or being proposed) recorded as interrupted, every trial written, and the
        parameters of the interrupted ones queued again."""
        self.pool.cancel()
        queued = []
        for frozen in self.recorder.memory.get_trials(deepcopy=False, states=(TrialState.RUNNING,)):
            self.recorder.memory._storage.set_trial_user_attr(frozen._trial_id, STATUS, TrialStatus.INTERRUPTED.value)
            self.recorder.memory._storage.set_trial_state_values(frozen._trial_id, TrialState.FAIL)
            self.recorder.done[frozen.number] = self.recorder.memory._storage.get_trial(frozen._trial_id)
            queued.append(frozen)
        self.recorder.flush()
        self.recorder.close()
        for frozen in queued:
            if frozen.params:
                self.recorder.study.enqueue_trial(frozen.params)
        return sum(1 for frozen in queued if frozen.params)
