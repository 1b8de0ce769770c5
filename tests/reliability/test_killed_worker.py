"""A killed worker: SIGKILL of the process running a Ray trial ends in a recorded failure (Ray reports the
actor dead; the search does not retry it) and the search goes on and finishes."""
import nas.search.trial
from nas.search.run import search
from tests.reliability.helpers import assert_recorded_once, config, faulty, load


def test_sigkill_of_a_trial_process_is_a_recorded_failure(tmp_path, ray_local, plain_space, monkeypatch):
    monkeypatch.setattr(nas.search.trial, "trial_fn", faulty({0: "kill"}))
    result = search(config(tmp_path / "run", trials=3))
    study = load(f"sqlite:///{tmp_path / 'run' / 'study.db'}")
    killed = study.trials[0]
    assert killed.user_attrs["status"] == "failed" and killed.state.name == "FAIL"
    assert "worker died" in killed.user_attrs["failure"]
    later = [t.user_attrs["status"] for t in study.trials[1:]]
    assert len(later) >= 2 and set(later) == {"trained"}
    assert_recorded_once(study)
    assert result.summary["by_status"] == {"failed": 1, "trained": len(later)}
