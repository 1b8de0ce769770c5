"""The Optuna study of a search: its storage (SQLite in the run directory or any SQLAlchemy URL), the
settings every run on one study must share, re-queueing trials a stopped search left running, seeding
the named backbones, and loading a run directory's study again (`nas report`, `nas export`).
"""
from __future__ import annotations

import dataclasses
import json
import platform
import time
import warnings
from pathlib import Path
from typing import Any

import optuna
import sqlalchemy.event
import sqlalchemy.exc
import torch
from optuna.trial import TrialState
from sqlalchemy.engine import make_url

from nas import __version__
from nas.files import writable_directory
from nas.search.config import SearchConfig, SearchError
from nas.search.heartbeat import WORKER, live_workers
from nas.search.records import METRIC_NAMES, NAMED, STATUS, TrialStatus
from nas.search.strategies import sampler
from nas.training.stream import DATA_RUNTIME
from search_spaces import backbones
from search_spaces.counting import count
from search_spaces.spaces.base import Space


def mask_url(url: str) -> str:
    """The storage URL with any password replaced by ***, for every log and message."""
    try:
        return make_url(url).render_as_string(hide_password=True)
    except Exception:
        return url.split("@")[-1] if "@" in url else url


def _scrub(text: str, url: str) -> str:
    """`text` with the URL's password (if any) replaced by ***: driver errors may quote the URL."""
    try:
        password = make_url(url).password
    except Exception:
        password = url.split("@")[0].rpartition(":")[2] if "@" in url else None
    return text.replace(str(password), "***") if password else text


def _first_line(err: Exception) -> str:
    """An error's first line, shortened: database drivers append their SQL and help links."""
    return str(err).splitlines()[0][:160] if str(err) else ""


def _recordable(url: str) -> str | None:
    """The storage URL as run.json keeps it for `nas report`: a relative SQLite path made absolute (a
    report may run from another directory); None for a URL with a password, never written to disk."""
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


def _connect(config: SearchConfig, write_ahead: bool = False) -> optuna.storages.RDBStorage:
    """The study storage, checked: reachable, and holding the study exactly when resuming; a SQLite file
    switched to its write-ahead log with `write_ahead` (once the checks passed: a check changes no byte)."""
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
    if write_ahead and url.startswith("sqlite"):
        _write_ahead(storage)
    return storage


def _write_ahead(storage: optuna.storages.RDBStorage) -> None:
    """SQLite with a write-ahead log and `synchronous=NORMAL`: a commit appends to the log without waiting
    for the disk (a search commits about a dozen times per trial: 15 to 35 ms each with the default rollback
    journal on a shared disk, 5 ms here). A killed search loses nothing; a power cut may lose the last
    commits, never the database. (As before, the file must be on a local disk: SQLite's locking, and WAL,
    do not work over a network file system; give --storage with a database server there.)"""
    def pragmas(connection: Any, _: Any) -> None:
        cursor = connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.close()

    sqlalchemy.event.listen(storage.engine, "connect", pragmas)
    storage.engine.dispose()  # connections opened before the listener (creating the tables) go


# TrainConfig fields that say where and how a trial runs or is measured, not what its accuracy means: workers
# on one study may differ in them (a GPU worker beside CPU ones)
RUN_ONLY = ("threads", "device", "eval_batch_size", "check_every", "latency", "latency_batch", "latency_repeats")


def study_settings(config: SearchConfig) -> dict[str, Any]:
    """What every run on one study must share, so that its trials are comparable: the space, budget and
    objective, the proxy (the training recipe, the data, the proxy side), and in a latency search the kind
    of device its trials run on (cpu or cuda), and the supernet its candidates are scored on (None: trained).
    A dataset's directory is not among them: each machine of a cluster may keep the same data elsewhere, nor
    how its images are decoded (DATA_RUNTIME)."""
    recipe = {k: v for k, v in dataclasses.asdict(config.train).items() if k not in RUN_ONLY}
    data = {k: v for k, v in dataclasses.asdict(config.data).items() if k not in ("path",) + DATA_RUNTIME}
    settings = {"space": config.space, "budget": config.budget, "objective": config.objective,
                "proxy": recipe | {f"data.{k}": v for k, v in data.items()}
                | {"reference_resolution": config.reference_resolution}}
    if config.objective == "latency":  # CPU and GPU milliseconds never share a front: one kind of worker
        settings["latency_device"] = config.trial_device
    settings["supernet"] = config.supernet  # a supernet's scores and trained accuracies never share a study
    return settings


# Recipe fields added after studies were recorded, with the value every earlier study trained with: a study
# whose recorded proxy lacks one was trained with that value, and resuming it with another is refused
EARLIER = {"zero_init_last": False, "diverge_patience": 1, "unnormed_lr_scale": 1.0, "max_unnormed_run": 4}


def _differences(recorded: dict[str, Any], given: dict[str, Any]) -> list[str]:
    """'name recorded (given now)' for each setting that differs; a setting the study did not record (a
    study made by an earlier version has no proxy) is not compared, except the recipe fields of `EARLIER`."""
    out = []
    for key, value in recorded.items():
        if key == "proxy" and isinstance(value, dict):
            out += _differences(EARLIER | value, given.get("proxy", {}))
        elif key in given and value != given[key]:
            out.append(f"{key} {_shown(value)} (given {_shown(given[key])})")
    return out


def _shown(value: Any) -> str:
    """A setting as an error message shows it: counts with thousands separators, strings quoted."""
    return f"{value:,}" if type(value) is int else repr(value)


def open_study(config: SearchConfig, fixed: dict[str, Any] | None = None, num_classes: int | None = None) -> optuna.Study:
    """Create the study, or load it on --resume; never silently start over a recorded one. Its sampler
    holds the parameters in `fixed` at their values and knows chance accuracy from `num_classes`."""
    storage = _connect(config, write_ahead=True)
    study = optuna.create_study(storage=storage, study_name=config.study_name,
                                sampler=sampler(config, fixed, num_classes),
                                directions=["maximize", "minimize"], load_if_exists=True)
    study.set_user_attr("settings", study_settings(config))
    with warnings.catch_warnings():  # "experimental" since Optuna 3.2, unchanged since
        warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
        study.set_metric_names(["accuracy", METRIC_NAMES[config.objective]])  # the dashboard's axis names
    return study


def requeue_interrupted(study: optuna.Study) -> int:
    """Trials left running by a search that is gone (killed, crashed): record them as interrupted and queue
    them again. Trials of a live worker on the same study (its heartbeat is fresh) are left alone."""
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
    study._storage.set_trial_user_attr(frozen._trial_id, STATUS, TrialStatus.INTERRUPTED.value)
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
    return {"nas": __version__, "torch": torch.__version__, "optuna": optuna.__version__, "python": platform.python_version()}


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
