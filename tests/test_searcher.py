"""The searcher's bookkeeping without Ray: a result it cannot record ends its trial as failed, so the search
goes on instead of waiting for ever on a trial it believes is running."""
import optuna

from nas.search.config import SearchConfig
from nas.search.searcher import StudySearcher
from nas.training.data import DataSource
from tests.spaces.test_base import Plain


def test_a_result_that_cannot_be_recorded_ends_the_trial_as_failed(tmp_path):
    study = optuna.create_study(directions=["maximize", "minimize"])
    config = SearchConfig(space="plain", budget=10**9, trials=2, strategy="random", run_dir=str(tmp_path),
                          data=DataSource("synthetic", resolution=16, channels=3, num_classes=4, size=64))
    searcher = StudySearcher(study, config, Plain())
    assert searcher.suggest("t1") is not None and searcher.in_flight() == 1
    searcher.on_trial_complete("t1", {"accuracy": "not a number", "macs": 1, "epoch": 1})
    (trial,) = study.get_trials()
    assert trial.state == optuna.trial.TrialState.FAIL and searcher.in_flight() == 0
    assert trial.user_attrs["failure"].startswith("recording the trial's result failed: ValueError")
