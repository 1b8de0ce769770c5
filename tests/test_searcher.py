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


def _searcher(tmp_path, **kw):
    study = optuna.create_study(directions=["maximize", "minimize"])
    config = SearchConfig(**({"space": "plain", "budget": 10**9, "trials": 3, "strategy": "random",
                              "run_dir": str(tmp_path), "max_proposals": 3} | kw))
    return study, StudySearcher(study, config, Plain())


def _epoch(epoch, accuracy, **kw):
    return {"accuracy": accuracy, "epoch": epoch, "train_loss": 2.0 / epoch, "train_accuracy": accuracy - 0.1,
            "epoch_seconds": 0.5, "final": False, "failure": "", "macs": 1, "params": 1} | kw


def test_every_trial_keeps_its_learning_curve_even_the_one_asha_stops(tmp_path):
    study, searcher = _searcher(tmp_path)
    assert searcher.suggest("t1") is not None and searcher.suggest("t2") is not None
    searcher.on_trial_result("t1", _epoch(1, 0.5))
    searcher.on_trial_result("t1", _epoch(2, 0.6))
    searcher.on_trial_complete("t1", _epoch(2, 0.6, final=True, train_seconds=1.0))  # the final report: no epoch
    # ASHA stops t2 on its first epoch: Ray Tune gives that report to on_trial_complete only
    searcher.on_trial_complete("t2", _epoch(1, 0.3))
    first, second = study.get_trials()
    assert first.user_attrs["history"] == [
        {"epoch": 1, "val_accuracy": 0.5, "train_loss": 2.0, "train_accuracy": 0.4, "seconds": 0.5},
        {"epoch": 2, "val_accuracy": 0.6, "train_loss": 1.0, "train_accuracy": 0.5, "seconds": 0.5}]
    assert [e["epoch"] for e in second.user_attrs["history"]] == [1] and second.user_attrs["stopped_early"]
    assert first.values == [0.6, 1.0] and searcher.curves == {}  # the values the final report gave


def test_a_failed_training_keeps_the_epochs_before_its_failure(tmp_path):
    study, searcher = _searcher(tmp_path)
    searcher.suggest("t1")
    searcher.on_trial_result("t1", _epoch(1, 0.5))
    searcher.on_trial_result("t1", _epoch(2, 0.1, train_loss=float("nan")))
    searcher.on_trial_complete("t1", _epoch(2, -1.0, final=True, failure="diverged: loss nan"))
    (trial,) = study.get_trials()
    assert trial.state == optuna.trial.TrialState.FAIL and trial.user_attrs["status"] == "failed"
    assert [e["train_loss"] for e in trial.user_attrs["history"]] == [2.0, None]  # JSON has no NaN


def test_over_budget_proposals_are_pruned_not_failed(tmp_path):
    # the dashboard counts FAIL as failures; a proposal the budget discards was never a failed training
    study, searcher = _searcher(tmp_path, budget=1)
    assert searcher.suggest("t1") == "FINISHED" and searcher.done  # max_proposals (3) proposals, all over budget
    trials = study.get_trials()
    assert len(trials) == 3
    assert {(t.state, t.user_attrs["status"]) for t in trials} == {(optuna.trial.TrialState.PRUNED, "over_budget")}
    assert searcher.trained() == 0 and "over the budget of 1" in trials[0].user_attrs["failure"]
