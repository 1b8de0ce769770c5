"""Faults inside a trial (an exception, a NaN loss, running out of memory) are recorded as failed trials
with their reason; the search goes on past them, trains the networks after them, and the summary counts
the failures."""
import json

import nas.search.trial
from nas.search.run import search
from tests.reliability.helpers import assert_recorded_once, config, faulty, load


def test_exception_nan_and_oom_are_recorded_failures(tmp_path, ray_local, plain_space, monkeypatch):
    monkeypatch.setattr(nas.search.trial, "trial_fn", faulty({0: "raise", 1: "nan", 2: "oom"}))
    result = search(config(tmp_path / "run", trials=5))
    study = load(f"sqlite:///{tmp_path / 'run' / 'study.db'}")
    trials = study.get_trials()
    failures = {t.number: t.user_attrs.get("failure") for t in trials if t.user_attrs["status"] == "failed"}
    assert set(failures) == {0, 1, 2}
    assert failures[0] == "RuntimeError: injected fault in the forward pass"
    assert failures[1].startswith("loss became nan at epoch 1 step")  # the training loop's own NaN check
    assert failures[2].startswith("OutOfMemoryError: CUDA out of memory")
    later = [t.user_attrs["status"] for t in trials if t.number not in failures]
    assert len(later) >= 2 and set(later) == {"trained"}  # the search went on past the failures
    assert_recorded_once(study)
    summary = json.loads((tmp_path / "run" / "summary.json").read_text())
    assert summary["by_status"] == {"failed": 3, "trained": len(later)} == result.summary["by_status"]
    assert all(r.status == "trained" for r in result.front)
