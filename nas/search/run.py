"""`search(config)`: a budgeted multi-objective search, what `nas search` runs.

The Optuna sampler proposes, Ray Tune runs, the Optuna study records: the study (SQLite in the run
directory by default, any SQLAlchemy URL otherwise) is the single record of every trial. Each check that
can fail (space and budget, resources, data, storage, run directory, cluster) runs before anything is
written; then backbones are seeded, the trials run under an ASHA (or FIFO) scheduler fed by per-epoch
accuracy, and the run directory gets its files (`nas.search.results`).
"""
from __future__ import annotations

import json
import os
import signal
import socket
import threading
from pathlib import Path
from typing import Any, Callable, Sequence

import optuna
import ray
from ray import tune

from nas.files import check_directory, writable_directory
from nas.search import oneshot, trial
from nas.search.config import SearchConfig, SearchError, parse_fix, resolve, to_dict
from nas.search.heartbeat import Heartbeat
from nas.search.records import OBJECTIVES, pareto_front, records
from nas.search.results import SearchResult, write_run
from nas.search.searcher import Progress, StudySearcher
from nas.search.study import (
    _first_line,
    _recordable,
    check_storage,
    mask_url,
    open_study,
    requeue_interrupted,
    seed_backbones,
    versions,
)
from nas.training.device import cuda_devices
from nas.training.stream import Batches, open_data
from search_spaces import cells, spaces
from search_spaces.spaces.base import Space


def _start_ray(config: SearchConfig) -> bool:
    """Join the cluster at --address, or start a local Ray bound to localhost; True if we started one."""
    if ray.is_initialized():
        return False
    quiet = {"include_dashboard": False, "log_to_driver": False, "configure_logging": False}
    try:
        if config.address:
            _check_reachable(config.address)
            # a cluster bound to localhost (`ray start --node-ip-address 127.0.0.1`): join it as 127.0.0.1 too
            local = config.address.rpartition(":")[0] in ("127.0.0.1", "localhost")
            ray.init(address=config.address, **({"_node_ip_address": "127.0.0.1"} if local else {}), **quiet)
        else:
            # address="local": always a new Ray of our own, never a `ray start` cluster that happens to run here
            ray.init(address="local", num_cpus=os.cpu_count(), num_gpus=cuda_devices(),
                     _node_ip_address="127.0.0.1", **quiet)
    except Exception as err:  # ConnectionError, RuntimeError, ValueError: all mean no cluster to run on
        where = f"the Ray cluster at {config.address}" if config.address else "a local Ray"
        raise SearchError(f"cannot start or reach {where}: {_first_line(err)}") from None
    return True


def _check_reachable(address: str, timeout: float = 5.0) -> None:
    """Fail in seconds, not after Ray's minute of retries, when a HOST:PORT address does not answer."""
    host, _, port = address.rpartition(":")
    if address == "auto" or "://" in address or not port.isdigit():
        return
    try:
        socket.create_connection((host or "127.0.0.1", int(port)), timeout=timeout).close()
    except OSError as err:
        raise ConnectionError(f"nothing answers at {address} ({err.__class__.__name__}); "
                              "is `ray start --head` running there?") from None


def check_resources(config: SearchConfig) -> None:
    """A local Ray has this machine's CPUs and CUDA devices and no more: a trial asking for more would wait
    forever (Ray only warns once a minute). A cluster (`address`) may grow by autoscaling: not checked."""
    if config.address:
        return
    for kind, want, have in (("cpus", config.cpus_per_trial, os.cpu_count() or 1),
                             ("gpus", config.gpus_per_trial, cuda_devices())):
        if want > have:
            raise SearchError(f"{kind} per trial is {want:g}, more than the local Ray has ({have} {kind} on this "
                              f"machine); ask for at most {have}, or give the address of a Ray cluster with more")


def _run_trials(study: optuna.Study, config: SearchConfig, space: Space, fixed: dict[str, Any], data: Any,
                progress: Callable[[Progress], None] | None) -> int | None:
    """Run the trials under Ray Tune. None when the search finished; after an interrupt (Ray Tune stops at
    Ctrl-C and returns), the number of trials it left running, now recorded as interrupted and re-queued."""
    scheduler = None
    if config.scheduler == "asha" and config.train.epochs > 1:
        scheduler = tune.schedulers.ASHAScheduler(time_attr="epoch", metric="accuracy", mode="max",
                                                  max_t=config.train.epochs, grace_period=1, reduction_factor=2)
    # the data is loaded once (a streamed folder: listed) and shared by every trial; cells a user registered go
    # to every worker
    shared = tune.with_parameters(trial.trial_fn, data=data, cells=cells.CELLS.added())
    trainable = tune.with_resources(shared, {"cpu": config.cpus_per_trial, "gpu": config.gpus_per_trial})
    searcher = StudySearcher(study, config, space, progress, fixed)
    tuner = tune.Tuner(
        trainable,
        tune_config=tune.TuneConfig(search_alg=searcher, scheduler=scheduler, num_samples=-1,
                                    max_concurrent_trials=config.max_concurrent, reuse_actors=True,
                                    trial_dirname_creator=trial_dirname),
        run_config=tune.RunConfig(storage_path=str(Path(config.run_dir).resolve() / "ray"), name="trials", verbose=0,
                                  failure_config=tune.FailureConfig(max_failures=0)),
    )
    main = threading.current_thread() is threading.main_thread()
    previous = signal.getsignal(signal.SIGTERM)
    if main:  # SIGTERM (a scheduler's kill, preemption) stops the search like Ctrl-C does
        signal.signal(signal.SIGTERM, _as_interrupt)
    try:
        with Heartbeat(study, searcher.worker):
            tuner.fit()
    finally:
        if main:
            signal.signal(signal.SIGTERM, previous)
        requeued = searcher.release()  # an interrupted fit leaves trials running: queue them again
    return None if searcher.done else requeued


def trial_dirname(trial: Any) -> str:
    """A trial's folder under RUN/ray/trials (its TensorBoard run): `trial_N`, N its number in the study and
    in trials.csv (Ray's own name is a truncated dump of the config)."""
    return f"trial_{trial.config.get('number', trial.trial_id)}"


def _as_interrupt(signum: int, frame: Any) -> None:
    """SIGTERM handler: do what SIGINT does now (Ray Tune's graceful stop during fit, else KeyboardInterrupt)."""
    handler = signal.getsignal(signal.SIGINT)
    if callable(handler):
        handler(signal.SIGINT, frame)
    else:
        raise KeyboardInterrupt


class SearchInterrupted(KeyboardInterrupt):
    """Ctrl-C or SIGTERM stopped the search; the study is consistent and `--resume` continues it."""


def check_space(config: SearchConfig, space: Space | None = None) -> tuple[Space, dict[str, Any]]:
    """The search's space (a SpaceError naming the known ones if unknown) and the parameters its
    distribution holds fixed (the space's defaults with `fix` and `free` applied; a SpaceError for a name or
    value the space does not have); a BudgetError giving the minimum when the budget is below the space's
    smallest network, or when no random point fits it within the search's `max_proposals` draws: the
    search, whose proposals start random, would stop there with nothing trained (the dense space at 20M:
    one draw in about 10,000 fits)."""
    space = space or spaces.get(config.space)
    fixed = space.distribution(parse_fix(config.fix), config.free)
    next(space.samples(config.seed, config.budget, max_draws=config.max_proposals, fixed=fixed))
    return space, fixed


def _configured(config: SearchConfig | None, space: Space | str | None, settings: dict[str, Any]
                ) -> tuple[SearchConfig, Space | None]:
    """The search's config (settings by the command line's flat names over `config`) and its Space object
    when one was given instead of a registered name."""
    if isinstance(space, str):  # search(space="mobile", ...): a registered name, not a Space object
        settings["space"], space = space, None
    if isinstance(settings.get("space"), Space):
        space = settings.pop("space")
    if space is not None:
        settings["space"] = space.name
    return resolve(config, **settings), space


def _start(config: SearchConfig, space: Space, fixed: dict[str, Any], enqueue: Sequence[dict[str, Any]],
           data: Batches) -> tuple[optuna.Study, dict]:
    """Open (or resume) the study, queue what it starts from, and write the run directory's run.json and
    config.json (the resolved settings: `nas search --config RUN/config.json` repeats the run)."""
    study = open_study(config, fixed, data.num_classes)
    started = {"requeued": requeue_interrupted(study) if config.resume else 0, "seeded": [], "fixed": fixed}
    if not config.resume:
        if config.seed_backbones:
            started["seeded"] = seed_backbones(study, space, config.budget, config.trials // 2)
        for params in enqueue:
            study.enqueue_trial(dict(params))
    run_dir = writable_directory(config.run_dir)  # checked before; created now that the study is open
    (run_dir / "run.json").write_text(json.dumps(  # what `nas report RUN` needs to find the study
        {"storage": _recordable(config.storage_url), "study_name": config.study_name,
         "space": config.space, "budget": config.budget, "objective": config.objective,
         "num_classes": data.num_classes, "supernet": config.supernet}, indent=1))
    resolved = to_dict(config) | {"storage": _recordable(config.storage_url) if config.storage else None}
    (run_dir / "config.json").write_text(json.dumps(resolved, indent=1) + "\n")
    return study, started


def search(config: SearchConfig | None = None, progress: Callable[[Progress], None] | None = None, *,
           space: Space | str | None = None, enqueue: Sequence[dict[str, Any]] = (), **settings: Any) -> SearchResult:
    """Run a search (`nas search` in Python): `search(space="mobile", budget="300MFLOPs", epochs=2)`.

    Settings take the command line's names (`nas search --help`): SearchConfig fields, the training
    recipe's (`epochs`, `lr`, ...) and the data's (`data="cifar10:DIR"`, `data_holdout`); text is parsed
    as the command line parses it. Returns the Pareto front and the summary and writes the run directory's
    files. `space` may be a Space object instead of a registered name (compound-scaling sweeps use this),
    and `enqueue` lists parameter points to try first (in a new study)."""
    config, space = _configured(config, space, settings)
    trained = None
    if config.supernet:  # candidates scored on a trained supernet: its space, data and weights
        config, space, trained = oneshot.prepare(config, space)
    space, fixed = check_space(config, space)
    check_resources(config)  # a trial the local Ray can never place fails here, not after an endless wait
    data = open_data(config.data)  # a missing or corrupt dataset fails before anything is written (a streamed
    # folder: its file list and statistics, no images; each trial decodes its own batches),
    check_storage(config)  # so does a bad storage URL,
    check_directory(config.run_dir)  # a run directory that cannot be written,
    started = _start_ray(config) if trained is None or oneshot.uses_ray(config, os.cpu_count() or 1) else False
    try:  # (and an unreachable cluster)
        study, info = _start(config, space, fixed, enqueue, data)
        if trained is None:
            interrupted = _run_trials(study, config, space, fixed, data, progress)
        else:
            interrupted, scored = oneshot.search_supernet(study, config, space, fixed, trained, data, progress)
            info |= scored
    finally:
        if started:
            ray.shutdown()
    key = OBJECTIVES[config.objective]
    summary = write_run(Path(config.run_dir), study, config.budget, key, info | {
        "space": config.space, "strategy": config.strategy, "scheduler": config.scheduler, "seed": config.seed,
        "storage": mask_url(config.storage_url), "study_name": config.study_name,
        "train": to_dict(config)["train"], "data": to_dict(config)["data"], "versions": versions()})
    if interrupted is not None:
        raise SearchInterrupted(f"{interrupted} running trial(s) recorded as interrupted and queued again; "
                                f"continue with --resume (run directory {config.run_dir})")
    return SearchResult(Path(config.run_dir), pareto_front(records(study), key), summary)
