"""Interrupts: Ctrl-C (SIGINT to the whole process group, as a terminal sends it) or SIGTERM (to the search
process, as a scheduler or `kill` sends it) during a search leaves the study consistent: finished trials
kept, running ones recorded as interrupted and queued again, exit code 130 with a one-line message. Then
`--resume` finishes the search without losing or retraining any finished trial."""
import os
import signal

import pytest
from optuna.trial import TrialState

from tests.reliability.helpers import assert_recorded_once, load, nas, search_argv, wait_for


def _trained(study):
    return [t for t in study.get_trials(deepcopy=False) if t.user_attrs.get("status") == "trained"]


@pytest.mark.parametrize("how", ["ctrl-c", "sigterm"])
def test_interrupt_then_resume(tmp_path, how):
    run = tmp_path / "run"
    url = f"sqlite:///{run / 'study.db'}"
    # trial 0 trains at once, later trials sleep in their worker: the interrupt finds 1 trained, some running
    child = nas(*search_argv(run, "--max-concurrent", "2"), env={"NAS_TEST_SLEEP": "1:120"}, start_new_session=True)
    wait_for(lambda: _trained(load(url)) and load(url).get_trials(states=(TrialState.RUNNING,)), 120,
             "a trained and a running trial", child)
    if how == "ctrl-c":
        os.killpg(child.pid, signal.SIGINT)
    else:
        child.send_signal(signal.SIGTERM)
    out, err = child.communicate(timeout=90)
    assert child.returncode == 130, err[-3000:]
    message = err.strip().splitlines()[-1]
    assert message.startswith("nas search: interrupted: ") and "continue with --resume" in message

    study = load(url)
    before = {t.number: (t.params, t.values) for t in _trained(study)}
    interrupted = [t for t in study.get_trials() if t.user_attrs.get("status") == "interrupted"]
    waiting = study.get_trials(states=(TrialState.WAITING,))
    assert len(before) == 1 and interrupted and not study.get_trials(states=(TrialState.RUNNING,))
    queued = sorted(str(t.system_attrs["fixed_params"]) for t in waiting)
    assert queued == sorted(str(t.params) for t in interrupted)  # queued again
    assert f"{len(interrupted)} running trial(s) recorded as interrupted" in message

    resumed = nas(*search_argv(run, "--resume"))
    out, err = resumed.communicate(timeout=180)
    assert resumed.returncode == 0, err[-3000:]
    study = load(url)
    after = {t.number: (t.params, t.values) for t in _trained(study)}
    assert len(after) == 3 and all(after[n] == before[n] for n in before)  # nothing lost, nothing retrained
    retried = [t.params for t in study.get_trials() if t.number > max(i.number for i in interrupted)]
    assert all(t.params in retried for t in interrupted)  # the interrupted networks were trained on resume
    assert_recorded_once(study)
