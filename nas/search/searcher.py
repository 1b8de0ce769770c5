"""Ray Tune side of a search: the Searcher adapter over the Optuna study, and the trial function.

The adapter runs in the driver: it asks the study, answers over-budget and duplicate candidates there,
and hands the rest to Ray Tune; `trial_fn` runs in a Ray worker (local or on a cluster) and reports each
epoch's accuracy to the scheduler. The study is told each trial's outcome exactly once.
"""
from __future__ import annotations

import dataclasses
import json
import os
import socket
import threading
import time
from typing import Any, Callable

import optuna
import torch
from optuna.trial import TrialState

from nas.data import DataSource, load
from nas.evaluate import TrainConfig, evaluate
from nas.records import (DIGEST, DUPLICATE_OF, FAILURE, MACS, PARAMS, SPEC, STATUS, pareto_front, records)
from search_spaces.errors import SpaceError, SpecError
from search_spaces.network import count
from search_spaces.spec import from_json

os.environ.setdefault("RAY_AIR_NEW_OUTPUT", "0")  # Ray Tune's console reporter off: we report progress ourselves
from ray import tune  # noqa: E402
from ray.tune.search import Searcher  # noqa: E402


def trial_fn(config: dict[str, Any], data: Any = None) -> None:
    """One trial in a Ray worker: train the spec, report each epoch, then the final metrics.

    `data` is the dataset loaded once by the driver and shared through Ray's object store (None: load it
    here from the config's DataSource). Any exception of the candidate (out of memory included) becomes a
    recorded failure, not a crash."""
    spec = from_json(config["spec"])
    train = TrainConfig(**config["train"])
    data = data if data is not None else load(DataSource(**config["data"]))
    if config.get("reference_resolution"):
        data = data.resized(proxy_side(data.resolution, spec.resolution, config["reference_resolution"]))
    cost = count(spec)
    base = {"macs": cost.macs, "params": cost.params, "final": False, "failure": ""}

    def report(epoch: Any) -> None:
        tune.report(base | {"accuracy": epoch.test_accuracy, "epoch": epoch.epoch})

    try:
        metrics = evaluate(spec, train, data, report)
    except Exception as err:  # whatever the candidate does, the search records it and goes on
        if isinstance(err, torch.OutOfMemoryError) and torch.cuda.is_available():
            torch.cuda.empty_cache()  # give the memory back before this worker takes its next trial
        tune.report(base | {"accuracy": -1.0, "epoch": train.epochs, "final": True,
                            "failure": f"{err.__class__.__name__}: {str(err).splitlines()[0][:200] if str(err) else ''}"})
        return
    tune.report(base | {"accuracy": -1.0 if metrics.accuracy is None else metrics.accuracy,
                        "epoch": max(metrics.epochs_run, 1), "final": True, "failure": metrics.failure or "",
                        "latency_ms": metrics.latency_ms or 0.0, "train_seconds": metrics.train_seconds,
                        "stopped_early": metrics.stopped_early})


WORKER = "worker"  # trial user attribute: the search process (host:pid) that runs the trial
HEARTBEAT_S = 10.0  # how often a search process marks itself alive in the study
STALE_S = 60.0  # a search process silent this long is gone: its running trials can be re-queued


def worker_id() -> str:
    """This search process, as recorded with its trials: host:pid."""
    return f"{socket.gethostname()}:{os.getpid()}"


def live_workers(study: optuna.Study) -> set[str]:
    """Search processes on this study with a fresh heartbeat (and, on this host, a live process)."""
    now, host, live = time.time(), socket.gethostname(), set()
    for key, beat in study.user_attrs.items():
        if not key.startswith("heartbeat:") or now - float(beat) > STALE_S:
            continue
        worker = key[len("heartbeat:"):]
        where, _, pid = worker.rpartition(":")
        if where != host or _pid_alive(int(pid)):
            live.add(worker)
    return live


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


class Heartbeat:
    """Context manager: while a search runs, a thread records its worker as alive in the study every
    HEARTBEAT_S seconds; on exit the record is cleared, so another worker may re-queue what it left."""

    def __init__(self, study: optuna.Study, worker: str):
        self.study, self.key = study, f"heartbeat:{worker}"
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self._beat, name="nas-heartbeat", daemon=True)

    def _beat(self) -> None:
        while not self.stop.wait(HEARTBEAT_S):
            try:
                self.study.set_user_attr(self.key, time.time())
            except Exception:  # a busy database: the next beat tries again
                pass

    def __enter__(self) -> "Heartbeat":
        self.study.set_user_attr(self.key, time.time())
        self.thread.start()
        return self

    def __exit__(self, *exc: Any) -> None:
        self.stop.set()
        self.thread.join()
        self.study.set_user_attr(self.key, 0.0)


def proxy_side(data_side: int, resolution: int, reference: int) -> int:
    """The side a candidate trains at: the data's side scaled by its resolution over the reference."""
    return max(8, round(data_side * resolution / reference))


class StudySearcher(Searcher):
    """Ray Tune Searcher asking an Optuna study for candidates and telling it the outcomes."""

    def __init__(self, study: optuna.Study, config: Any, space: Any, progress: Callable[[Any], None] | None = None):
        super().__init__(metric="accuracy", mode="max")
        self.study, self.config, self.space, self.progress = study, config, space, progress
        self.key = {"flops": MACS, "params": PARAMS, "latency": "latency_ms"}[config.objective]
        self.running: dict[str, optuna.trial.Trial] = {}
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

    def trained(self) -> int:
        """Training runs spent in the study (this run's, earlier runs' and other workers'): trained trials
        and trials whose training failed. A failure counts, or a network that always fails (say, it diverges)
        would be proposed again for ever by a sweep over a fixed list."""
        return sum(1 for t in self.study.get_trials(deepcopy=False, states=(TrialState.COMPLETE, TrialState.FAIL))
                   if t.user_attrs.get(STATUS) in ("trained", "failed"))

    def in_flight(self) -> int:
        """Trials being trained now, by this search process or another live one on the same study."""
        live = live_workers(self.study) | {self.worker}
        return sum(1 for t in self.study.get_trials(deepcopy=False, states=(TrialState.RUNNING,))
                   if t.user_attrs.get(WORKER) in live)

    def suggest(self, trial_id: str) -> dict[str, Any] | None:
        while True:
            trained = self.trained()
            if trained >= self.config.trials or self.rejected >= self.config.max_proposals:
                self.done = True
                return Searcher.FINISHED
            if trained + self.in_flight() >= self.config.trials:
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
            return self._close(trial, "invalid", TrialState.FAIL, failure=str(err))
        cost = count(spec)
        digest = spec.digest()
        for key, value in ((SPEC, spec.to_json(indent=None)), (DIGEST, digest), (MACS, cost.macs),
                           (PARAMS, cost.params), ("versions", _versions())):
            trial.set_user_attr(key, value)
        if cost.macs > self.config.budget:
            return self._close(trial, "over_budget", TrialState.FAIL,
                               failure=f"{cost.macs:,} multiply-adds over the budget of {self.config.budget:,}")
        earlier = self._same_digest(digest, trial.number)
        if earlier is not None:
            if earlier.state == TrialState.COMPLETE:
                trial.set_user_attr(DUPLICATE_OF, earlier.number)
                return self._close(trial, "duplicate", TrialState.COMPLETE, values=earlier.values)
            state = "failed" if earlier.state == TrialState.FAIL else "running"
            return self._close(trial, "duplicate", TrialState.FAIL, failure=f"same network as {state} trial {earlier.number}")
        return self.base | {"spec": spec.to_json(indent=None), "number": trial.number}

    def _same_digest(self, digest: str, number: int) -> optuna.trial.FrozenTrial | None:
        """An earlier trial that trained (or is training, or failed training) the same network."""
        states = (TrialState.COMPLETE, TrialState.RUNNING, TrialState.FAIL)
        for t in self.study.get_trials(deepcopy=False, states=states):
            status = t.user_attrs.get(STATUS)
            if t.number != number and t.user_attrs.get(DIGEST) == digest and (
                    status in ("trained", "failed") or (status is None and t.state == TrialState.RUNNING)):
                return t
        return None

    def _close(self, trial: optuna.trial.Trial, status: str, state: TrialState, values: Any = None,
               failure: str | None = None) -> None:
        if self.study._storage.get_trial(trial._trial_id).state != TrialState.RUNNING:
            return None  # already re-queued by another worker that took this process for dead: told once
        trial.set_user_attr(STATUS, status)
        if failure:
            trial.set_user_attr(FAILURE, failure)
        if status in ("over_budget", "invalid", "duplicate"):
            self.rejected += 1  # proposals that train nothing: capped by max_proposals, so a search ends
        self.study.tell(trial, values, state=state)
        self._notify(trial.number)
        return None

    def release(self) -> int:
        """Record the trials still running (an interrupt stopped them) as interrupted and queue them again."""
        from nas.search import requeue

        trials, self.running = list(self.running.values()), {}
        return sum(requeue(self.study, trial) for trial in trials)

    def on_trial_complete(self, trial_id: str, result: dict | None = None, error: bool = False) -> None:
        trial = self.running.pop(trial_id, None)
        if trial is None:
            return
        if error or not result:
            self._close(trial, "failed", TrialState.FAIL, failure="the trial's worker died or raised (see Ray logs)")
        elif result.get("failure"):
            self._close(trial, "failed", TrialState.FAIL, failure=result["failure"])
        else:
            trial.set_user_attr("epochs", int(result.get("epoch", 0)))
            # ASHA stops even a trial that reached max_t before its final report: compare the epochs run
            trial.set_user_attr("stopped_early", int(result.get("epoch", 0)) < self.config.train.epochs)
            if result.get("latency_ms"):
                trial.set_user_attr("latency_ms", float(result["latency_ms"]))
            second = result.get(self.key) if self.key != "latency_ms" else result.get("latency_ms")
            self._close(trial, "trained", TrialState.COMPLETE, values=[float(result["accuracy"]), float(second)])

    def _notify(self, number: int) -> None:
        if self.progress is None:
            return
        rows = records(self.study)
        front = pareto_front(rows, self.key)
        best = max((r.accuracy for r in rows if r.status == "trained" and r.accuracy is not None), default=None)
        from nas.search import Progress

        self.progress(Progress(self.trained(), self.config.trials, best, len(front), rows[number]))


def _versions() -> str:
    from nas.search import versions

    return json.dumps(versions())
