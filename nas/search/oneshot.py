"""A search on a trained supernet (`nas search --supernet DIR`): the strategies of a multi-trial search, each
candidate's accuracy scored on the supernet (the weights it inherits, BN recalibrated on a fixed sample of
training images shared by every candidate, accuracy on the validation images) instead of trained.

The study and its files are a multi-trial search's: the strategy's sampler proposes, an over-budget or
already scored network is answered without scoring, every candidate is a trial with the same user
attributes (and `scored_on` = supernet), the values are [validation accuracy, FLOPs or params]. What
differs is the loop: candidates are asked for in batches, each batch scored in this process or by a Ray
task (`nas.search.scoring`), and told as they come back; no Ray Tune trial wraps a candidate. Optuna's
SQLite storage commits each write (a few dozen per trial, up to a second on a shared disk), so the loop
asks and tells an in-memory copy of the study, and the persistent study receives each finished trial
whole, in order, with its number (`Recorder`). Afterwards the front's members are scored on the test
images and `--retrain K` trains the K best stand-alone with the proxy; both are recorded beside the
trials (`records.LATER`: Optuna keeps a finished trial read-only).
"""
from __future__ import annotations

import dataclasses
import json
import queue
import signal
import threading
import time
import uuid
from pathlib import Path
from typing import Any, Callable

import optuna
from optuna.trial import FrozenTrial, TrialState

from nas.search.config import SearchConfig, SearchError
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
from nas.search.scoring import BATCH, Pool, finish, shared
from nas.search.searcher import Progress
from nas.search.strategies import sampler
from nas.search.study import versions
from nas.training.data import DataSource
from nas.training.oneshot import REFERENCE_RESOLUTION, calibration_images
from nas.training.stream import DATA_RUNTIME, Batches
from nas.training.supernet import Trained, load_supernet, read_run
from search_spaces.counting import count
from search_spaces.errors import SpaceError, SpecError
from search_spaces.spaces.base import Space

SUPERNET_EPOCHS = "supernet_epochs"  # study attribute: the epochs the supernet had when the study began


def configure(config: SearchConfig, space: Space | None = None) -> tuple[SearchConfig, Space, Any]:
    """The config of a search on `config.supernet` (its data and proxy side are the supernet's, its path
    absolute), the supernet's space and job, read from its settings; a one-line error for a run directory
    without a supernet, another space, or other data."""
    run = Path(config.supernet or "")
    job, own, _ = read_run(run)
    if config.space != own.name or (space is not None and space != own):
        raise SearchError(f"{run} is a supernet of space {own.name!r}, not {config.space!r}: a search on it "
                          f"searches its space; give --space {own.name}")
    default = {name: getattr(DataSource(), name) for name in DATA_RUNTIME}  # how many decode: this call's
    if dataclasses.replace(config.data, **default) not in (DataSource(), dataclasses.replace(job.data, **default)):
        raise SearchError(f"the supernet in {run} was trained on {job.data.kind}, and a search on it scores on "
                          "that data: drop --data (or give the supernet's)")
    if config.reference_resolution not in (REFERENCE_RESOLUTION, job.reference_resolution):
        raise SearchError(f"the supernet in {run} trains sub-networks at reference resolution "
                          f"{job.reference_resolution}: drop --reference-resolution")
    data = dataclasses.replace(job.data, **{name: getattr(config.data, name) for name in DATA_RUNTIME})
    config = dataclasses.replace(config, supernet=str(run.resolve()), data=data,
                                 reference_resolution=job.reference_resolution)
    return config, own, job


def prepare(config: SearchConfig, space: Space | None) -> tuple[SearchConfig, Space, Trained]:
    """`configure`, and the trained supernet (a one-line error when it has no checkpoint yet)."""
    config, _, _ = configure(config, space)
    trained = load_supernet(config.supernet or "")
    return config, trained.space, trained


def uses_ray(config: SearchConfig, cpus: int) -> bool:
    """Whether the scoring goes to Ray tasks: on a cluster, or where this machine's CPUs make two workers."""
    return bool(config.address) or cpus // max(config.cpus_per_trial, 1e-9) >= 2 or config.gpus_per_trial > 0


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


class OneShot:
    """The scoring loop of a search on a supernet (see the module's notes)."""

    def __init__(self, study: optuna.Study, config: SearchConfig, space: Space, fixed: dict[str, Any],
                 pool: Pool, progress: Callable[[Progress], None] | None, num_classes: int | None = None):
        self.config, self.space, self.pool, self.progress, self.fixed = config, space, pool, progress, fixed
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
                           (PARAMS, cost.params), ("versions", self.versions), (SCORED_ON, "supernet")):
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


def _pool(config: SearchConfig, trained: Trained, data: Batches) -> Pool:
    """The scoring pool: Ray tasks over every worker of the Ray this search started or joined, or this
    process (see `uses_ray`)."""
    import os

    job = shared(trained.supernet, data, calibration_images(data, trained.job.calibration_images),
                 config.train.eval_batch_size, trained.job.reference_resolution, config.train.device)
    if not uses_ray(config, os.cpu_count() or 1):
        return Pool(uuid.uuid4().hex, trained.supernet, job, 1, threads=config.train.threads or os.cpu_count() or 1)
    import ray

    have = ray.cluster_resources()
    slots = int(have.get("CPU", 1) // config.cpus_per_trial)
    if config.gpus_per_trial:
        slots = min(slots, int(have.get("GPU", 0) // config.gpus_per_trial))
    return Pool(uuid.uuid4().hex, trained.supernet, job, slots, config.cpus_per_trial, config.gpus_per_trial,
                max(1, int(config.cpus_per_trial)), use_ray=True)


def _check_epochs(study: optuna.Study, trained: Trained) -> None:
    """A study's accuracies are of one supernet: refuse one trained further since the study began."""
    recorded = study.user_attrs.get(SUPERNET_EPOCHS)
    if recorded is None:
        study.set_user_attr(SUPERNET_EPOCHS, trained.epochs_done)
    elif recorded != trained.epochs_done:
        raise SearchError(f"the supernet in {trained.run_dir} has {trained.epochs_done} epoch(s) now and had "
                          f"{recorded} when the study began: its accuracies would not compare; give another --run-dir")


def search_supernet(study: optuna.Study, config: SearchConfig, space: Space, fixed: dict[str, Any],
                    trained: Trained, data: Batches, progress: Callable[[Progress], None] | None
                    ) -> tuple[int | None, dict[str, Any]]:
    """Run the search on the supernet (see the module's notes): (None, or the candidates an interrupt left
    in flight, now queued again; what the summary records of it)."""
    _check_epochs(study, trained)
    pool = _pool(config, trained, data)
    loop = OneShot(study, config, space, fixed, pool, progress, data.num_classes)
    main = threading.current_thread() is threading.main_thread()
    previous = signal.getsignal(signal.SIGTERM)
    if main:  # SIGTERM (a scheduler's kill) stops the search like Ctrl-C
        signal.signal(signal.SIGTERM, _interrupt)
    start = time.perf_counter()
    try:
        interrupted = loop.run()
        seconds, retrained = time.perf_counter() - start, []
        if interrupted is None:
            retrained = finish(study, config, pool, data)
    except KeyboardInterrupt:  # while scoring the front or retraining: what is done is recorded
        pool.cancel()
        interrupted = 0
    finally:
        loop.recorder.close()  # whatever happened, the trials told are written
        if main:
            signal.signal(signal.SIGTERM, previous)
    info = {"run_dir": str(trained.run_dir), "space": trained.space.name, "epochs": trained.epochs_done,
            "calibration_images": trained.job.calibration_images, "workers": pool.slots, "ray": pool.use_ray,
            "scored": loop.scored, "seconds": seconds, "seconds_per_candidate": seconds / max(loop.scored, 1),
            "cpu_seconds_per_candidate": loop.cpu_seconds / max(loop.scored, 1)}
    return interrupted, {"supernet": info, "retrained": retrained}


def _interrupt(signum: int, frame: Any) -> None:
    raise KeyboardInterrupt
