"""Two `nas search` processes on one study (a shared SQLite file, and a real PostgreSQL server) finish with
every trial recorded once: the second joins with --resume and leaves the first one's running trials alone,
both count each other's trained and running trials, and no network is trained twice.

PostgreSQL: NAS_TEST_POSTGRES=postgresql://USER:PASSWORD@127.0.0.1:PORT/DB names the server (.ci/run starts
one). Without it the PostgreSQL case is skipped; with it set, an unusable server is a failure."""
import os
import uuid

import pytest

from tests.reliability.helpers import (
    assert_recorded_once,
    load,
    nas,
    search_argv,
    wait_for,
)

TRIALS = 6


def _storage(backend, tmp_path):
    if backend == "sqlite":
        return f"sqlite:///{tmp_path / 'shared.db'}"
    url = os.environ.get("NAS_TEST_POSTGRES")
    if not url:
        pytest.skip("no PostgreSQL server: set NAS_TEST_POSTGRES=postgresql://user:password@127.0.0.1:port/db "
                    "(.ci/run installs and starts one)")
    return url


@pytest.mark.parametrize("backend", ["sqlite", "postgresql"])
def test_two_workers_record_every_trial_once(tmp_path, backend):
    url = _storage(backend, tmp_path)
    name = f"two-workers-{uuid.uuid4().hex[:8]}"
    common = ("--storage", url, "--study-name", name, "--max-concurrent", "1")
    slow = {"NAS_TEST_SLEEP": "0:4"}  # every trial takes 4 s more, so the two workers overlap
    first = nas(*search_argv(tmp_path / "a", *common, trials=TRIALS), env=slow)
    # run.json appears once the first worker has created the study (and the tables, in a new SQLite file)
    wait_for(lambda: (tmp_path / "a" / "run.json").is_file(), 120, "the first worker's study", first)
    second = nas(*search_argv(tmp_path / "b", *common, "--resume", trials=TRIALS), env=slow)
    outputs = [first.communicate(timeout=240), second.communicate(timeout=240)]
    assert first.returncode == 0 and second.returncode == 0, "\n".join(err[-2000:] for _, err in outputs)

    study = load(url, name)
    assert_recorded_once(study)
    trials = study.get_trials()
    trained = [t for t in trials if t.user_attrs.get("status") == "trained"]
    assert len(trained) == TRIALS  # together: the count asked for, not one per worker
    workers = {t.user_attrs["worker"].rpartition(":")[2] for t in trials}
    assert workers == {str(first.pid), str(second.pid)}  # both workers took trials of the one study
    assert not [t for t in trials if t.user_attrs.get("status") == "interrupted"]  # the join re-queued nothing
    if "@" in url:  # the password is in no output and no file of either run
        password = url.split("@")[0].rpartition(":")[2]
        assert all(password not in out + err for out, err in outputs)
        for path in [*(tmp_path / "a").rglob("*"), *(tmp_path / "b").rglob("*")]:
            assert not path.is_file() or password.encode() not in path.read_bytes(), path
