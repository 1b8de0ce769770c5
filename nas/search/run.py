"""Budgeted multi-objective search: the Optuna sampler proposes, Ray Tune runs, the Optuna study records.

The study (SQLite in the run directory by default, any SQLAlchemy URL otherwise) is the single record of
every trial. A Ray Tune `Searcher` adapter asks the study for each candidate, builds its spec through the
space's `suggest` (define-by-run), and answers in the driver what needs no training: an over-budget
candidate is recorded with its cost and never trained, and a spec already trained (same digest) is
recorded as a duplicate of it. Everything else is trained by `nas.evaluate.evaluate` in a Ray worker, under
an ASHA (or FIFO) scheduler fed by per-epoch accuracy, and told to the study when it ends.
"""
from __future__ import annotations

import dataclasses
import json
import os
import platform
import signal
import socket
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Sequence

import optuna
import sqlalchemy.exc
import torch
from optuna.trial import TrialState

from nas.data import DataSource
from nas.evaluate import TrainConfig
from nas.evolution import AgingEvolution
from nas.files import check_directory, writable_directory
from nas.records import (MACS, NAMED, PARAMS, STATUS, TrialRecord,
                         pareto_front, records, write_run)
from search_spaces import backbones, spaces
from search_spaces.errors import NasError
from search_spaces.network import count
from search_spaces.spaces.base import Space

STRATEGIES = ("evolution", "tpe", "nsga2", "random")
OBJECTIVES = {"flops": MACS, "params": PARAMS, "latency": "latency_ms"}
SCHEDULERS = ("asha", "fifo")
VERSION = "0.1.0"
# The default proxy recipe of a search trial: the trainer's defaults (batch 32, peak lr 0.05, one thread),
# for 2 epochs. (lr 0.2 at batch 64 left about a third of sampled MobileNets at chance or diverged.)
PROXY = TrainConfig(epochs=2)


class SearchError(NasError):
    """A search setting is wrong, or the run directory / study does not allow what was asked."""


@dataclass(frozen=True)
class SearchConfig:
    """Every setting of a search. The defaults finish in about 10 minutes on 2 CPU cores."""

    space: str = "mobile"
    budget: int = 300_000_000  # multiply-adds of the deployed network; over-budget candidates are never trained
    trials: int = 12  # training runs: trained or failed (over-budget and duplicate proposals do not count)
    strategy: str = "evolution"  # evolution, tpe, nsga2 or random
    objective: str = "flops"  # the second objective, minimised: flops, params or latency
    scheduler: str = "asha"  # early stopping on per-epoch accuracy: asha or fifo (none)
    seed: int = 0
    run_dir: str = "runs/search"
    storage: str | None = None  # SQLAlchemy URL of the study; None: sqlite:///<run_dir>/study.db
    study_name: str = "nas"
    address: str | None = None  # Ray cluster address; None: a local Ray embedded in this process
    cpus_per_trial: float = 1.0
    gpus_per_trial: float = 0.0
    max_concurrent: int = 2
    population: int = 6  # evolution: the aging population of most recent trained trials
    sample_size: int = 3  # evolution: tournament size
    resume: bool = False  # continue the study in run_dir (or storage) instead of starting one
    seed_backbones: bool = True  # first train named backbones that fit the budget (at most half the training runs)
    max_proposals: int = 2000  # stop after this many proposals that train nothing (over budget, invalid, duplicate)
    # Each candidate trains at the data's side times its resolution / reference_resolution (a 256 px network
    # trains at 32 * 256 / 224 = 37 px on 32 px data), so resolution choices still matter in the proxy;
    # None trains every candidate at the data's own side. A network whose feature map would vanish at that
    # side (AlexNet) trains at the smallest larger side it accepts (`evaluate.adapt`).
    reference_resolution: int | None = 224
    train: TrainConfig = PROXY
    data: DataSource = field(default_factory=DataSource)

    def __post_init__(self) -> None:
        for name, value, allowed in (("strategy", self.strategy, STRATEGIES), ("objective", self.objective, OBJECTIVES),
                                     ("scheduler", self.scheduler, SCHEDULERS)):
            if value not in allowed:
                raise SearchError(f"unknown {name} {value!r}; expected one of {', '.join(allowed)}")
        checks = ((self.trials >= 1, "trials must be at least 1"), (self.budget >= 1, "budget must be positive"),
                  (self.cpus_per_trial > 0, "cpus per trial must be positive"),
                  (self.gpus_per_trial >= 0, "gpus per trial must be zero or more"),
                  (self.max_concurrent >= 1, "max concurrent trials must be at least 1"))
        for ok, message in checks:
            if not ok:
                raise SearchError(message)
        if self.objective == "latency" and not self.train.latency:
            object.__setattr__(self, "train", dataclasses.replace(self.train, latency=True))

    @property
    def storage_url(self) -> str:
        """The study's storage: the given URL, or a SQLite file in the run directory."""
        return self.storage or f"sqlite:///{Path(self.run_dir).resolve() / 'study.db'}"


@dataclass(frozen=True)
class SearchResult:
    """What a search returns (and `nas search` prints): the front, the summary, where the files are."""

    run_dir: Path
    front: list[TrialRecord]
    summary: dict[str, Any]


@dataclass(frozen=True)
class Progress:
    """Sent to the progress callback after every recorded trial."""

    training_runs: int  # trained trials and failed trainings (both spend a run; see SearchConfig.trials)
    total: int
    best_accuracy: float | None
    pareto_size: int
    last: TrialRecord


def mask_url(url: str) -> str:
    """The storage URL with any password replaced by ***, for every log and message."""
    try:
        from sqlalchemy.engine import make_url

        return make_url(url).render_as_string(hide_password=True)
    except Exception:
        return url.split("@")[-1] if "@" in url else url


def _scrub(text: str, url: str) -> str:
    """`text` with the URL's password (if any) replaced by ***: driver errors may quote the URL."""
    try:
        from sqlalchemy.engine import make_url

        password = make_url(url).password
    except Exception:
        password = url.split("@")[0].rpartition(":")[2] if "@" in url else None
    return text.replace(str(password), "***") if password else text


def _first_line(err: Exception) -> str:
    """An error's first line, shortened: database drivers append their SQL and help links."""
    return str(err).splitlines()[0][:160] if str(err) else ""


def _sampler(config: SearchConfig) -> optuna.samplers.BaseSampler:
    if config.strategy == "evolution":
        return AgingEvolution(config.population, config.sample_size, seed=config.seed)
    if config.strategy == "tpe":
        return optuna.samplers.TPESampler(seed=config.seed, n_startup_trials=max(4, config.trials // 4))
    if config.strategy == "nsga2":
        return optuna.samplers.NSGAIISampler(population_size=max(4, config.population), seed=config.seed)
    return optuna.samplers.RandomSampler(seed=config.seed)


def _recordable(url: str) -> str | None:
    """The storage URL as run.json keeps it for `nas report`: a relative SQLite path made absolute (a
    report may run from another directory); None for a URL with a password, never written to disk."""
    from sqlalchemy.engine import make_url

    try:
        parsed = make_url(url)
    except Exception:
        return None
    if parsed.password is not None:
        return None
    if parsed.drivername.startswith("sqlite") and parsed.database not in (None, "", ":memory:"):
        parsed = parsed.set(database=str(Path(parsed.database).resolve()))
    return parsed.render_as_string(hide_password=False)


def check_storage(config: SearchConfig) -> None:
    """Before anything starts or is written: the storage answers, and the study exists exactly when resuming."""
    if config.storage is None and not (Path(config.run_dir) / "study.db").is_file():
        if config.resume:
            raise SearchError(f"nothing to resume: no study {config.study_name!r} in {mask_url(config.storage_url)}")
        return  # a new run directory: nothing to check, nothing to create yet
    _connect(config)


def check_resources(config: SearchConfig) -> None:
    """A local Ray has this machine's CPUs and CUDA devices and no more: a trial asking for more would wait
    forever (Ray only warns once a minute). A cluster (`address`) may grow by autoscaling: not checked."""
    if config.address:
        return
    for kind, want, have in (("cpus", config.cpus_per_trial, os.cpu_count() or 1),
                             ("gpus", config.gpus_per_trial, torch.cuda.device_count())):
        if want > have:
            raise SearchError(f"{kind} per trial is {want:g}, more than the local Ray has ({have} {kind} on this "
                              f"machine); ask for at most {have}, or give the address of a Ray cluster with more")


def _connect(config: SearchConfig) -> optuna.storages.RDBStorage:
    """The study storage, checked: reachable, and holding the study exactly when resuming."""
    url = config.storage_url
    if config.storage is None:
        writable_directory(config.run_dir)  # the default SQLite file lives there
    # two workers on one SQLite file wait for each other's writes instead of failing with "database is locked"
    engine = {"connect_args": {"timeout": 120}} if url.startswith("sqlite") else {}
    try:
        for attempt in range(3):
            try:
                storage = optuna.storages.RDBStorage(url, engine_kwargs=engine, heartbeat_interval=None)
                break
            except sqlalchemy.exc.IntegrityError:  # another process created the tables at the same moment
                if attempt == 2:
                    raise
                time.sleep(1.0)
        names = [s.study_name for s in storage.get_all_studies()]
    except Exception as err:
        raise SearchError(_scrub(f"cannot open study storage {mask_url(url)}: {err.__class__.__name__}: "
                                 f"{_first_line(err)}", url)) from None
    exists = config.study_name in names
    if exists and not config.resume:
        raise SearchError(f"study {config.study_name!r} already exists in {mask_url(url)}; pass --resume to continue "
                          "it (or to add a worker to it), or choose another --run-dir / --study-name")
    if config.resume and not exists:
        raise SearchError(f"nothing to resume: no study {config.study_name!r} in {mask_url(url)}")
    recorded = storage.get_study_user_attrs(storage.get_study_id_from_name(config.study_name)).get("settings") \
        if exists else None
    differences = _differences(recorded or {}, study_settings(config))
    if differences:
        raise SearchError(f"the study was recorded with {'; '.join(differences)}; resuming (or adding a worker) "
                          "needs the same space, budget, objective and proxy (training recipe and data)")
    return storage


# TrainConfig fields that say where and how a trial runs or is measured, not what its accuracy means: workers
# on one study may differ in them (a GPU worker beside CPU ones)
RUN_ONLY = ("threads", "device", "eval_batch_size", "check_every", "latency", "latency_batch", "latency_repeats")


def study_settings(config: SearchConfig) -> dict[str, Any]:
    """What every run on one study must share, so that its trials are comparable: the space, budget and
    objective, and the proxy (the training recipe, the data, the proxy side). A dataset's directory is not
    among them: each machine of a cluster may keep the same data elsewhere."""
    recipe = {k: v for k, v in dataclasses.asdict(config.train).items() if k not in RUN_ONLY}
    data = {k: v for k, v in dataclasses.asdict(config.data).items() if k != "path"}
    return {"space": config.space, "budget": config.budget, "objective": config.objective,
            "proxy": recipe | {f"data.{k}": v for k, v in data.items()}
            | {"reference_resolution": config.reference_resolution}}


def _differences(recorded: dict[str, Any], given: dict[str, Any]) -> list[str]:
    """'name recorded (given now)' for each setting that differs; a setting the study did not record (a
    study made by an earlier version has no proxy) is not compared."""
    out = []
    for key, value in recorded.items():
        if key == "proxy" and isinstance(value, dict):
            out += _differences(value, given.get("proxy", {}))
        elif key in given and value != given[key]:
            out.append(f"{key} {_shown(value)} (given {_shown(given[key])})")
    return out


def _shown(value: Any) -> str:
    """A setting as an error message shows it: counts with thousands separators, strings quoted."""
    return f"{value:,}" if type(value) is int else repr(value)


def open_study(config: SearchConfig) -> optuna.Study:
    """Create the study, or load it on --resume; never silently start over a recorded one."""
    storage = _connect(config)
    study = optuna.create_study(storage=storage, study_name=config.study_name, sampler=_sampler(config),
                                directions=["maximize", "minimize"], load_if_exists=True)
    study.set_user_attr("settings", study_settings(config))
    return study


def requeue_interrupted(study: optuna.Study) -> int:
    """Trials left running by a search that is gone (killed, crashed): record them as interrupted and queue
    them again. Trials of a live worker on the same study (its heartbeat is fresh) are left alone."""
    from nas.runner import WORKER, live_workers

    requeued, live = 0, live_workers(study)
    for trial in study.get_trials(deepcopy=False, states=(TrialState.RUNNING,)):
        if trial.user_attrs.get(WORKER) in live:
            continue
        requeued += requeue(study, trial)
    return requeued


def requeue(study: optuna.Study, trial: optuna.trial.FrozenTrial | optuna.trial.Trial) -> int:
    """Record one running trial as interrupted and queue its parameters again; 1 if queued, else 0."""
    frozen = study._storage.get_trial(trial._trial_id)
    if frozen.state != TrialState.RUNNING:
        return 0
    study._storage.set_trial_user_attr(frozen._trial_id, STATUS, "interrupted")
    study._storage.set_trial_state_values(frozen._trial_id, TrialState.FAIL)
    if not frozen.params:
        return 0
    study.enqueue_trial(frozen.params, user_attrs={k: v for k, v in frozen.user_attrs.items() if k == NAMED})
    return 1


def seed_backbones(study: optuna.Study, space: Space, budget: int, limit: int) -> list[str]:
    """Queue the space's named backbones that fit the budget, in the space's order, so the search starts
    from the fixed points: at most `limit` of them (a search queues half its training runs, so the rest
    still search), then chosen evenly from the cheapest to the costliest."""
    costs = ((count(backbones.get(name)).macs, i, name) for i, name in enumerate(space.fixed_points))
    fitting = sorted(row for row in costs if row[0] <= budget)
    if len(fitting) > limit:
        fitting = [fitting[round(k * (len(fitting) - 1) / max(limit - 1, 1))] for k in range(limit)]
    seeded = []
    for _, _, name in sorted(fitting, key=lambda row: row[1]):
        study.enqueue_trial(space.encode(backbones.get(name)), user_attrs={NAMED: name})
        seeded.append(name)
    return seeded


def versions() -> dict[str, str]:
    """Versions stored with every trial, so a result can be rebuilt without the search code."""
    return {"nas": VERSION, "torch": torch.__version__, "optuna": optuna.__version__, "python": platform.python_version()}


def _start_ray(config: SearchConfig) -> bool:
    """Join the cluster at --address, or start a local Ray bound to localhost; True if we started one."""
    import ray

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
            ray.init(address="local", num_cpus=os.cpu_count(), num_gpus=torch.cuda.device_count(),
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


def _run_trials(study: optuna.Study, config: SearchConfig, space: Space, data: Any,
                progress: Callable[[Progress], None] | None) -> int | None:
    """Run the trials under Ray Tune. None when the search finished; after an interrupt (Ray Tune stops at
    Ctrl-C and returns), the number of trials it left running, now recorded as interrupted and re-queued."""
    from ray import tune

    from nas.runner import Heartbeat, StudySearcher, trial_fn

    scheduler = None
    if config.scheduler == "asha" and config.train.epochs > 1:
        scheduler = tune.schedulers.ASHAScheduler(time_attr="epoch", metric="accuracy", mode="max",
                                                  max_t=config.train.epochs, grace_period=1, reduction_factor=2)
    shared = tune.with_parameters(trial_fn, data=data)  # loaded once, shared by every trial
    trainable = tune.with_resources(shared, {"cpu": config.cpus_per_trial, "gpu": config.gpus_per_trial})
    searcher = StudySearcher(study, config, space, progress)
    tuner = tune.Tuner(
        trainable,
        tune_config=tune.TuneConfig(search_alg=searcher, scheduler=scheduler, num_samples=-1,
                                    max_concurrent_trials=config.max_concurrent, reuse_actors=True),
        run_config=tune.RunConfig(storage_path=str(Path(config.run_dir).resolve() / "ray"), name="trials", verbose=0,
                                  failure_config=tune.FailureConfig(max_failures=0)),
    )
    previous = signal.getsignal(signal.SIGTERM)
    if _main_thread():  # SIGTERM (a scheduler's kill, preemption) stops the search like Ctrl-C does
        signal.signal(signal.SIGTERM, _as_interrupt)
    try:
        with Heartbeat(study, searcher.worker):
            tuner.fit()
    finally:
        if _main_thread():
            signal.signal(signal.SIGTERM, previous)
        requeued = searcher.release()  # an interrupted fit leaves trials running: queue them again
    return None if searcher.done else requeued


def _main_thread() -> bool:
    import threading

    return threading.current_thread() is threading.main_thread()


def _as_interrupt(signum: int, frame: Any) -> None:
    """SIGTERM handler: do what SIGINT does now (Ray Tune's graceful stop during fit, else KeyboardInterrupt)."""
    handler = signal.getsignal(signal.SIGINT)
    if callable(handler):
        handler(signal.SIGINT, frame)
    else:
        raise KeyboardInterrupt


class SearchInterrupted(KeyboardInterrupt):
    """Ctrl-C or SIGTERM stopped the search; the study is consistent and `--resume` continues it."""


def check_space(config: SearchConfig, space: Space | None = None) -> Space:
    """The search's space (a SpaceError naming the known ones if unknown); a BudgetError giving the minimum
    when the budget is below the space's smallest network, or when no random point fits it within the
    search's `max_proposals` draws: the search, whose proposals start random, would stop there with
    nothing trained (the dense space at 20M: one draw in about 10,000 fits)."""
    space = space or spaces.get(config.space)
    next(space.samples(config.seed, config.budget, max_draws=config.max_proposals))
    return space


def search(config: SearchConfig | None = None, progress: Callable[[Progress], None] | None = None, *,
           space: Space | None = None, enqueue: Sequence[dict[str, Any]] = (), **settings: Any) -> SearchResult:
    """Run a search (`nas search` in Python): `search(space="mobile", budget="300MFLOPs", trials=12)`.

    Returns the Pareto front and the summary; writes trials.csv/json, pareto.json/png and summary.json
    to the run directory. Settings are SearchConfig fields; `budget` may be a string like '300MFLOPs'.
    `space` may be a Space object instead of a registered name (compound-scaling sweeps use this), and
    `enqueue` lists parameter points to try first (in a new study)."""
    from nas.budget import parse_budget

    if isinstance(settings.get("budget"), str):
        settings["budget"] = parse_budget(settings["budget"])
    if isinstance(space, str):  # search(space="mobile", ...): a registered name, not a Space object
        settings["space"], space = space, None
    if isinstance(settings.get("space"), Space):
        space = settings.pop("space")
    if space is not None:
        settings["space"] = space.name
    config = dataclasses.replace(config, **settings) if config else SearchConfig(**settings)
    space = check_space(config, space)
    check_resources(config)  # a trial the local Ray can never place fails here, not after an endless wait
    from nas.data import load

    data = load(config.data)  # a missing or corrupt dataset fails before anything is written,
    check_storage(config)  # so does a bad storage URL,
    check_directory(config.run_dir)  # a run directory that cannot be written,
    started = _start_ray(config)  # and an unreachable cluster
    try:
        study = open_study(config)
        requeued = requeue_interrupted(study) if config.resume else 0
        seeded = []
        if not config.resume:
            seeded = seed_backbones(study, space, config.budget, config.trials // 2) if config.seed_backbones else []
            for params in enqueue:
                study.enqueue_trial(dict(params))
        writable_directory(config.run_dir)  # checked above; created now that the study is open
        (Path(config.run_dir) / "run.json").write_text(json.dumps(  # what `nas report RUN` needs to find the study
            {"storage": _recordable(config.storage_url), "study_name": config.study_name,
             "space": config.space, "budget": config.budget, "objective": config.objective}, indent=1))
        interrupted = _run_trials(study, config, space, data, progress)
    finally:
        if started:
            import ray

            ray.shutdown()
    key = OBJECTIVES[config.objective]
    summary = write_run(Path(config.run_dir), study, config.budget, key, {
        "space": config.space, "strategy": config.strategy, "scheduler": config.scheduler, "seed": config.seed,
        "storage": mask_url(config.storage_url), "study_name": config.study_name, "seeded": seeded,
        "requeued": requeued, "train": dataclasses.asdict(config.train), "data": dataclasses.asdict(config.data),
        "versions": versions(),
    })
    if interrupted is not None:
        raise SearchInterrupted(f"{interrupted} running trial(s) recorded as interrupted and queued again; "
                                f"continue with --resume (run directory {config.run_dir})")
    return SearchResult(Path(config.run_dir), pareto_front(records(study), key), summary)


def load_run(run_dir: str | Path, storage: str | None = None) -> tuple[optuna.Study, dict[str, Any]]:
    """The study of a run directory (its SQLite file, or `storage` for a run recorded elsewhere)."""
    info_path = Path(run_dir) / "run.json"
    if not info_path.is_file():
        raise SearchError(f"{run_dir} is not a search run directory (no run.json); give the --run-dir of a search")
    try:
        info = json.loads(info_path.read_text())
    except json.JSONDecodeError:
        raise SearchError(f"{info_path} is corrupt (not JSON)") from None
    if not isinstance(info, dict):
        raise SearchError(f"{info_path} is corrupt (not a JSON object); a search writes it when it starts")
    missing = sorted({"study_name", "budget", "objective"} - set(info))
    if missing:
        raise SearchError(f"{info_path} is corrupt (missing {', '.join(missing)}); a search writes it when it starts")
    url = storage or info.get("storage")
    if not url:
        raise SearchError(f"the run in {run_dir} keeps its study at a URL with a password, which is never written "
                          "to disk; pass --storage URL")
    try:
        study = optuna.load_study(study_name=info["study_name"], storage=url)
    except Exception as err:
        raise SearchError(_scrub(f"cannot load study {info.get('study_name')!r} from {mask_url(url)}: "
                                 f"{err.__class__.__name__}: {_first_line(err)}", url)) from None
    return study, info


def report(run_dir: str | Path, storage: str | None = None) -> SearchResult:
    """Rewrite a run's files (CSV, JSON, plot, summary) from its study and return its front."""
    study, info = load_run(run_dir, storage)
    key = OBJECTIVES[info["objective"]]
    previous = Path(run_dir) / "summary.json"
    extra = json.loads(previous.read_text()) if previous.is_file() else {}
    summary = write_run(Path(run_dir), study, info["budget"], key, extra)
    return SearchResult(Path(run_dir), pareto_front(records(study), key), summary)
