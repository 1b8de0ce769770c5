"""Interrupts: Ctrl-C (SIGINT to the whole process group, as a terminal sends it) or SIGTERM (to the search
process, as a scheduler or `kill` sends it) during a search leaves the study consistent: finished trials
kept, running ones recorded as interrupted and queued again, exit code 130 with a one-line message. A
SIGKILL of the whole process group (no handler runs: a crash, the OOM killer) leaves its trials running in
the study; --resume sees that their search process is gone and re-queues them. In every case `--resume`
then finishes the search without losing or retraining any finished trial."""
import os
import signal
import subprocess
import time

import optuna
import pytest
from optuna.trial import TrialState

from nas.search.heartbeat import live_workers
from nas.search.study import requeue_interrupted
from tests.reliability.helpers import (
    assert_recorded_once,
    load,
    nas,
    search_argv,
    wait_for,
)


def _trained(study):
    return [t for t in study.get_trials(deepcopy=False) if t.user_attrs.get("status") == "trained"]


def _stop(child, how):
    if how == "ctrl-c":
        os.killpg(child.pid, signal.SIGINT)
    elif how == "sigterm":
        child.send_signal(signal.SIGTERM)
    else:
        os.killpg(child.pid, signal.SIGKILL)  # the driver and the local Ray it started
    return child.communicate(timeout=90)


@pytest.mark.parametrize("how", ["ctrl-c", "sigterm", "sigkill"])
def test_interrupt_then_resume(tmp_path, how):
    run = tmp_path / "run"
    url = f"sqlite:///{run / 'study.db'}"
    # trial 0 trains at once, later trials sleep in their worker: the interrupt finds 1 trained, some running
    child = nas(*search_argv(run, "--max-concurrent", "2"), env={"NAS_TEST_SLEEP": "1:120"}, start_new_session=True)
    # run.json appears once the child has created the study: polling earlier would race it creating the tables
    wait_for(lambda: (run / "run.json").is_file() and _trained(load(url))
             and load(url).get_trials(states=(TrialState.RUNNING,)), 120, "a trained and a running trial", child)
    out, err = _stop(child, how)
    study = load(url)
    before = {t.number: (t.params, t.values) for t in _trained(study)}
    assert len(before) == 1
    if how == "sigkill":
        assert child.returncode == -signal.SIGKILL
        stopped = study.get_trials(states=(TrialState.RUNNING,))  # nobody could record them
    else:
        assert child.returncode == 130, err[-3000:]
        message = err.strip().splitlines()[-1]
        assert message.startswith("nas search: interrupted: ") and "continue with --resume" in message
        stopped = [t for t in study.get_trials() if t.user_attrs.get("status") == "interrupted"]
        waiting = [t.system_attrs["fixed_params"] for t in study.get_trials(states=(TrialState.WAITING,))]
        seen = [(t.number, t.state.name, t.user_attrs.get("status"), t.user_attrs.get("failure")) for t in study.trials]
        assert stopped and not study.get_trials(states=(TrialState.RUNNING,)), seen
        assert sorted(map(str, waiting)) == sorted(str(t.params) for t in stopped), seen  # queued again
        assert f"{len(stopped)} running trial(s) recorded as interrupted" in message
        if how == "sigterm":
            return  # resuming from this state is what the ctrl-c case tests

    resumed = nas(*search_argv(run, "--resume"))
    out, err = resumed.communicate(timeout=180)
    assert resumed.returncode == 0, err[-3000:]
    study = load(url)
    after = {t.number: (t.params, t.values) for t in _trained(study)}
    assert len(after) == 3 and all(after[n] == before[n] for n in before)  # nothing lost, nothing retrained
    assert all(study.trials[t.number].user_attrs["status"] == "interrupted" for t in stopped)
    retried = [t.params for t in study.get_trials() if t.number > max(s.number for s in stopped)]
    assert all(t.params in retried for t in stopped)  # the stopped networks were trained on resume
    assert_recorded_once(study)


def test_resume_requeues_only_trials_of_gone_workers(tmp_path):
    """A running trial belongs to a worker: re-queued on resume when that process is gone (same host, pid
    dead), its heartbeat is stale (any host), or it has none; left alone while its worker is alive."""
    study = optuna.create_study(storage=f"sqlite:///{tmp_path / 'study.db'}", directions=["maximize", "minimize"])
    host = os.uname().nodename
    dead = subprocess.Popen(["true"])
    dead.wait()
    now = time.time()
    workers = {f"{host}:{dead.pid}": now, f"{host}:{os.getpid()}": now, "elsewhere:1": now - 3600, "elsewhere:2": now}
    for worker, beat in workers.items():
        study.set_user_attr(f"heartbeat:{worker}", beat)
    for worker in [*workers, None]:
        trial = study.ask({"x": optuna.distributions.IntDistribution(0, 9)})
        if worker:
            trial.set_user_attr("worker", worker)
    assert live_workers(study) == {f"{host}:{os.getpid()}", "elsewhere:2"}
    assert requeue_interrupted(study) == 3
    states = [(t.user_attrs.get("worker"), t.state.name, t.user_attrs.get("status")) for t in study.trials[:5]]
    assert states == [(f"{host}:{dead.pid}", "FAIL", "interrupted"), (f"{host}:{os.getpid()}", "RUNNING", None),
                      ("elsewhere:1", "FAIL", "interrupted"), ("elsewhere:2", "RUNNING", None),
                      (None, "FAIL", "interrupted")]
    assert [t.state.name for t in study.trials[5:]] == ["WAITING"] * 3
