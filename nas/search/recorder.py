"""The study of a search on a supernet: an in-memory copy that the scoring loop asks and tells, and the
writing of its finished trials into the persistent study (`Recorder`); the front kept as trials come
(`Front`)."""
from __future__ import annotations

import queue
import threading
from typing import Any

import optuna
from optuna.trial import FrozenTrial, TrialState

from nas.search.config import SearchConfig, SearchError
from nas.search.strategies import sampler


class Recorder:
    """The in-memory copy of a study that a search on a supernet asks and tells, and the writing of its
    finished trials into the persistent study, each whole and in order, so that the numbers agree. A thread
    writes them, so the loop does not wait on the database's commits; `close` waits for it."""

    def __init__(self, study: optuna.Study, config: SearchConfig, fixed: dict[str, Any], num_classes: int | None):
        self.study = study
        self.memory = optuna.create_study(directions=["maximize", "minimize"],
                                          sampler=sampler(config, fixed, num_classes))
        self.waiting: dict[int, int] = {}  # numbers of queued trials -> their persistent trial ids
        trials = study.get_trials(deepcopy=False)
        if any(t.state == TrialState.RUNNING for t in trials):
            raise SearchError("another search is running on this study (it has trials running); a search on a "
                              "supernet runs alone on its study")
        for t in trials:
            if t.state == TrialState.WAITING:
                self.memory.enqueue_trial(t.system_attrs.get("fixed_params", t.params), user_attrs=t.user_attrs)
                self.waiting[t.number] = t._trial_id
            else:
                self.memory.add_trial(t)
        self.next = len(trials)  # the number of the next new trial to write
        self.done: dict[int, FrozenTrial] = {}
        self.queue: queue.Queue = queue.Queue()
        self.error: Exception | None = None
        self.writer = threading.Thread(target=self._write, name="study-writer", daemon=True)
        self.writer.start()

    def trials(self) -> list[FrozenTrial]:
        return self.memory.get_trials(deepcopy=False)

    def frozen(self, trial: optuna.trial.Trial) -> FrozenTrial:
        return self.memory._storage.get_trial(trial._trial_id)

    def finished(self, trial: optuna.trial.Trial) -> FrozenTrial:
        """Note a trial told in memory; returns it frozen."""
        frozen = self.frozen(trial)
        self.done[frozen.number] = frozen
        return frozen

    def flush(self) -> None:
        """Hand the writer every finished trial whose predecessors are all handed (and queued ones finished)."""
        ready = [(self.waiting.pop(n), self.done.pop(n)) for n in [n for n in self.done if n in self.waiting]]
        while self.next in self.done:
            ready.append((None, self.done.pop(self.next)))
            self.next += 1
        if self.error is not None:
            raise self.error
        if ready:
            self.queue.put(ready)

    def close(self) -> None:
        """Wait until every trial handed over is written (a writing error is raised here)."""
        if self.writer.is_alive():
            self.queue.put(None)
            self.writer.join()
        if self.error is not None:
            raise self.error

    def _write(self) -> None:
        storage, study_id = self.study._storage, self.study._study_id
        while (items := self.queue.get()) is not None:
            try:
                for trial_id, frozen in items:
                    if trial_id is not None:
                        _finish_waiting(storage, trial_id, frozen)
                    elif storage.get_trial_number_from_id(storage.create_new_trial(
                            study_id, template_trial=frozen)) != frozen.number:
                        raise SearchError(f"another process added trials to study {self.study.study_name!r} while "
                                          "this search on a supernet ran; a search on a supernet runs alone on it")
            except Exception as err:  # raised in the loop by the next flush, or by close
                self.error = err
                return


def _finish_waiting(storage: Any, trial_id: int, frozen: FrozenTrial) -> None:
    """Record a finished trial in the persistent study's queued trial it came from."""
    storage.set_trial_state_values(trial_id, TrialState.RUNNING)
    for name, value in frozen.params.items():
        dist = frozen.distributions[name]
        storage.set_trial_param(trial_id, name, dist.to_internal_repr(value), dist)
    for key, value in frozen.user_attrs.items():
        storage.set_trial_user_attr(trial_id, key, value)
    storage.set_trial_state_values(trial_id, frozen.state, frozen.values)


class Front:
    """The best accuracy and the Pareto front of (accuracy, cost), kept as trials are scored."""

    def __init__(self) -> None:
        self.points: list[tuple[float, float]] = []
        self.best: float | None = None

    def add(self, accuracy: float, cost: float) -> None:
        self.best = accuracy if self.best is None else max(self.best, accuracy)
        if any(a >= accuracy and c <= cost for a, c in self.points):
            return
        self.points = [(a, c) for a, c in self.points if not (accuracy >= a and cost <= c)] + [(accuracy, cost)]
