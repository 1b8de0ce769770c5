"""A search on a trained supernet (`nas search --supernet DIR`): the strategies of a multi-trial search, each
candidate's accuracy scored on the supernet (the weights it inherits, BN recalibrated on a fixed sample of
training images shared by every candidate, accuracy on the validation images) instead of trained.

The study and its files are a multi-trial search's: the strategy's sampler proposes, an over-budget or
already scored network is answered without scoring, every candidate is a trial with the same user
attributes (and `scored_on` = supernet), the values are [validation accuracy, FLOPs or params]. What
differs is the loop (`nas.search.loop.OneShot`): candidates are asked for in batches, each batch scored
in this process or by a Ray task (`nas.search.scoring`), and told as they come back; no Ray Tune trial
wraps a candidate. Optuna's SQLite storage commits each write (a few dozen per trial, up to a second on a
shared disk), so the loop asks and tells an in-memory copy of the study, and the persistent study receives
each finished trial whole, in order, with its number (`nas.search.recorder`). With `--predictor N` only
the first N candidates and a few chosen by an accuracy predictor are scored, the rest predicted
(`nas.search.predicted`). Afterwards the front's members are scored on the test images and `--retrain K`
trains the K best stand-alone with the proxy; both are recorded beside the trials (`records.LATER`:
Optuna keeps a finished trial read-only).
"""
from __future__ import annotations

import dataclasses
import os
import signal
import threading
import time
import uuid
from pathlib import Path
from typing import Any, Callable

import optuna

from nas.search.config import SearchConfig, SearchError
from nas.search.loop import OneShot
from nas.search.predicted import predicted_rounds
from nas.search.scoring import Pool, finish, shared
from nas.search.searcher import Progress
from nas.training.data import DataSource
from nas.training.oneshot import REFERENCE_RESOLUTION, calibration_images
from nas.training.stream import DATA_RUNTIME, Batches
from nas.training.supernet import Trained, load_supernet, read_run
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


def _pool(config: SearchConfig, trained: Trained, data: Batches) -> Pool:
    """The scoring pool: Ray tasks over every worker of the Ray this search started or joined, or this
    process (see `uses_ray`)."""
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
    """Run the search on the supernet (see the module's notes; with `config.predictor`, the first candidates
    scored, the rest predicted and the predicted front's best scored): (None, or the candidates an interrupt
    left in flight, now queued again; what the summary records of it)."""
    _check_epochs(study, trained)
    pool = _pool(config, trained, data)
    first = dataclasses.replace(config, trials=min(config.trials, config.predictor or config.trials))
    loops = [OneShot(study, first, space, fixed, pool, progress, data.num_classes)]
    main = threading.current_thread() is threading.main_thread()
    previous = signal.getsignal(signal.SIGTERM)
    if main:  # SIGTERM (a scheduler's kill) stops the search like Ctrl-C
        signal.signal(signal.SIGTERM, _interrupt)
    start, predicted = time.perf_counter(), None
    try:
        interrupted = loops[0].run()
        if interrupted is None and first.trials < config.trials:
            interrupted, predicted = predicted_rounds(study, config, space, fixed, pool, progress, data.num_classes,
                                                      loops)
        seconds, retrained = time.perf_counter() - start, []
        if interrupted is None:
            retrained = finish(study, config, pool, data)
    except KeyboardInterrupt:  # while predicting, scoring the front or retraining: what is done is recorded
        pool.cancel()
        interrupted, seconds, retrained = 0, time.perf_counter() - start, []
    finally:
        for loop in loops:
            loop.recorder.close()  # whatever happened, the trials told are written
        if main:
            signal.signal(signal.SIGTERM, previous)
    scored, cpu = sum(loop.scored for loop in loops), sum(loop.cpu_seconds for loop in loops)
    info = {"run_dir": str(trained.run_dir), "space": trained.space.name, "epochs": trained.epochs_done,
            "calibration_images": trained.job.calibration_images, "workers": pool.slots, "ray": pool.use_ray,
            "scored": scored, "seconds": seconds, "seconds_per_candidate": seconds / max(scored, 1),
            "cpu_seconds_per_candidate": cpu / max(scored, 1)}
    return interrupted, {"supernet": info, "retrained": retrained} | ({"predictor": predicted} if predicted else {})


def _interrupt(signum: int, frame: Any) -> None:
    raise KeyboardInterrupt
