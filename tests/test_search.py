"""`nas search` end to end on a tiny literal space and synthetic data, with the real Optuna and Ray."""
import dataclasses
import json
import re

import optuna
import pytest

from nas.search.config import SearchConfig, SearchError
from nas.search.results import report
from nas.search.run import search
from nas.training.data import DataSource, load
from nas.training.train import TrainConfig
from search_spaces import spaces
from search_spaces.cells.conv import ConvArgs
from search_spaces.cells.head import ClassifierArgs
from search_spaces.errors import BudgetError
from search_spaces.spec import Block, NetSpec, Stage
from tests.helpers import only_spaces
from tests.spaces.test_base import Plain

DATA = DataSource("synthetic", resolution=16, channels=3, num_classes=4, size=64)
TRAIN = TrainConfig(epochs=2, batch_size=32, threads=1)


def config(tmp_path, **kw):
    settings = dict(space="plain", budget=3_000_000, trials=3, strategy="random", scheduler="fifo", data=DATA,
                    train=TRAIN, run_dir=str(tmp_path / "run"), max_concurrent=2)
    return SearchConfig(**(settings | kw))


def test_search_records_every_trial_once_and_trains_only_in_budget(tmp_path, ray_local, plain_space):
    result = search(config(tmp_path))
    study = optuna.load_study(study_name="nas", storage=f"sqlite:///{tmp_path / 'run' / 'study.db'}")
    trials = study.get_trials()
    assert [t.number for t in trials] == list(range(len(trials)))
    trained = [t for t in trials if t.user_attrs["status"] == "trained"]
    assert len(trained) == 3
    for t in trials:
        assert t.user_attrs["macs"] > 0 and len(t.user_attrs["digest"]) == 64  # every proposal keeps its cost
        if t.user_attrs["status"] == "over_budget":
            assert t.user_attrs["macs"] > 3_000_000 and "epochs" not in t.user_attrs  # never trained
            assert t.state == optuna.trial.TrialState.PRUNED  # discarded by the budget, not a failure
        else:
            assert t.user_attrs["macs"] <= 3_000_000
    assert all(r.macs <= 3_000_000 for r in result.front) and result.front
    for name in ("trials.csv", "trials.json", "pareto.json", "pareto.png", "curves.png", "summary.json", "run.json"):
        assert (tmp_path / "run" / name).is_file()
    assert study.metric_names == ["accuracy", "FLOPs"]  # what Optuna's dashboard calls the objectives
    rows = json.loads((tmp_path / "run" / "trials.json").read_text())
    for row in (r for r in rows if r["status"] == "trained"):  # each epoch's curve, in the study and the file
        assert [e["epoch"] for e in row["history"]] == [1, 2] and row["history"] == trials[row["number"]].user_attrs[
            "history"]
        assert set(row["history"][0]) == {"epoch", "val_accuracy", "train_loss", "train_accuracy", "seconds"}
        assert (tmp_path / "run" / "ray" / "trials" / f"trial_{row['number']}").is_dir()  # its TensorBoard run
    summary = json.loads((tmp_path / "run" / "summary.json").read_text())
    assert summary["by_status"]["trained"] == 3 and 0 <= summary["hypervolume"] <= 1

    # the same run directory again: refused without --resume, nothing lost
    with pytest.raises(SearchError, match="already exists .* pass --resume"):
        search(config(tmp_path))
    # --resume continues the same study up to the new trial count
    search(config(tmp_path, trials=5, resume=True))
    again = optuna.load_study(study_name="nas", storage=f"sqlite:///{tmp_path / 'run' / 'study.db'}").get_trials()
    assert again[: len(trials)] == trials
    assert sum(t.user_attrs["status"] == "trained" for t in again) == 5
    assert report(tmp_path / "run").summary["by_status"]["trained"] == 5


def test_under_asha_every_trained_trial_reports_its_test_accuracy(tmp_path, ray_local, plain_space):
    # ASHA ends a trial at an epoch report (at its rung, or at max_t = the last epoch) before the trial's
    # final report: the test accuracy must travel with the epoch reports, or no trial of a search has one
    search(config(tmp_path, scheduler="asha", trials=4))
    rows = json.loads((tmp_path / "run" / "trials.json").read_text())
    trained = [r for r in rows if r["status"] == "trained"]
    assert len(trained) == 4
    n = len(load(DATA).test_y)
    for row in trained:  # a share of the test images
        assert row["test_accuracy"] is not None and abs(row["test_accuracy"] * n - round(row["test_accuracy"] * n)) < 1e-6
    front = json.loads((tmp_path / "run" / "pareto.json").read_text())
    assert all(r["test_accuracy"] is not None for r in front)


class Narrow(Plain):
    def suggest(self, trial):  # only two networks exist, so a search of 2 trials proposes duplicates
        width = 8 * (1 + trial.suggest_int("only", 0, 1))
        stages = (Stage((Block("conv", ConvArgs(8, 1, 2)),)), Stage((Block("conv", ConvArgs(width, 1, 2)),)))
        return NetSpec(stem=(), stages=stages, head=(Block("classifier", ClassifierArgs()),), resolution=32,
                       num_classes=10)

    def encode(self, spec):
        return {"only": spec.stages[1].blocks[0].args.out_channels // 8 - 1}


def test_duplicates_are_not_trained_twice(tmp_path, ray_local, monkeypatch):
    monkeypatch.setattr(spaces, "SPACES", only_spaces(Narrow()))
    search(config(tmp_path, trials=2, max_concurrent=1, strategy="random", seed=3, budget=10**9))
    trials = optuna.load_study(study_name="nas", storage=f"sqlite:///{tmp_path / 'run' / 'study.db'}").get_trials()
    trained = [t for t in trials if t.user_attrs["status"] == "trained"]
    duplicates = [t for t in trials if t.user_attrs["status"] == "duplicate"]
    assert len({t.user_attrs["digest"] for t in trained}) == len(trained) == 2
    assert duplicates  # random proposals over two networks repeat (seed 3 proposes at least one)
    for dup in duplicates:
        if "duplicate_of" in dup.user_attrs:
            original = trials[dup.user_attrs["duplicate_of"]]
            assert dup.values == original.values and original.user_attrs["digest"] == dup.user_attrs["digest"]


def test_a_network_that_fails_is_trained_once_and_the_search_ends(tmp_path, ray_local, monkeypatch):
    # Every training diverges (a loss limit no loss meets). Failures count as spent training runs, and a
    # re-proposed failed network is a duplicate of its failure: the search ends instead of retrying for ever.
    monkeypatch.setattr(spaces, "SPACES", only_spaces(Narrow()))
    failing = dataclasses.replace(TRAIN, max_loss=1e-6, check_every=1, diverge_patience=1)
    search(config(tmp_path, trials=3, max_concurrent=1, seed=3, budget=10**9, train=failing, max_proposals=40))
    trials = optuna.load_study(study_name="nas", storage=f"sqlite:///{tmp_path / 'run' / 'study.db'}").get_trials()
    failed = [t for t in trials if t.user_attrs["status"] == "failed"]
    assert 1 <= len(failed) <= 2 and len({t.user_attrs["digest"] for t in failed}) == len(failed)
    assert all("diverged" in t.user_attrs["failure"] for t in failed)
    assert len(failed) + sum(t.user_attrs["status"] == "duplicate" for t in trials) >= 3
    # two networks exist and three training runs were asked: the search ends on its proposal cap
    assert sum(t.user_attrs["status"] == "duplicate" for t in trials) <= 40


def test_the_searcher_has_nothing_to_checkpoint(tmp_path, plain_space):
    # Ray Tune checkpoints its searcher as a search runs; Searcher.save raises NotImplementedError, which Ray
    # Tune printed as "save not implemented for Searcher. Skipping save." in every search
    from nas.search.searcher import StudySearcher

    searcher = StudySearcher(optuna.create_study(directions=["maximize", "minimize"]), config(tmp_path),
                             spaces.get("plain"))
    searcher.save(str(tmp_path / "searcher.pkl"))
    searcher.save_to_dir(str(tmp_path))
    searcher.restore(str(tmp_path / "searcher.pkl"))
    assert list(tmp_path.iterdir()) == []  # the study is the record; nothing else is written


def test_seeding_queues_the_backbones_that_fit_and_leaves_half_the_runs_to_search():
    from nas.search.study import seed_backbones

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    # multiply-adds measured (fvcore 0.1.5 conv + linear, random weights) on torchvision 0.28.0: mobilenet_v3_large
    # 0.2166 G, mobilenet_v3_small 0.0565 G; mobilenet_v2 0.3008 G, mnasnet_a1 and the rest of the mobile space
    # over 300 M
    study = optuna.create_study(directions=["maximize", "minimize"])
    assert seed_backbones(study, spaces.get("mobile"), 300_000_000, 6) == ["mobilenet_v3_large", "mobilenet_v3_small"]
    assert [t.user_attrs["named"] for t in study.get_trials()] == ["mobilenet_v3_large", "mobilenet_v3_small"]
    # 14 resnet backbones fit 8 G; two runs of four may be seeded: the cheapest, regnetx_600mf (0.6009 G; regnety
    # 0.6012 G), and the costliest, resnet101 (7.8014 G; resnet152 and res2net101 are over 8 G), in the space's order
    resnet = spaces.get("resnet")
    assert seed_backbones(optuna.create_study(directions=["maximize", "minimize"]), resnet, 8 * 10**9, 2) == [
        "resnet101", "regnetx_600mf"]
    assert seed_backbones(optuna.create_study(directions=["maximize", "minimize"]), resnet, 8 * 10**9, 0) == []


def test_budget_below_the_smallest_network(tmp_path, plain_space):
    with pytest.raises(BudgetError, match="below the smallest network of space 'plain'"):
        search(config(tmp_path, budget=1000))
    with pytest.raises(BudgetError, match="below the smallest network of space 'plain'"):
        search(space="plain", budget="1K", run_dir=str(tmp_path / "run"))  # the Python API as documented
    assert not (tmp_path / "run").exists()  # nothing written


def test_bad_settings_are_one_line_errors(tmp_path, plain_space):
    with pytest.raises(SearchError, match="unknown strategy 'annealing'; expected one of evolution, tpe, nsga2, random"):
        config(tmp_path, strategy="annealing")
    with pytest.raises(SearchError, match="nothing to resume"):
        search(config(tmp_path, resume=True))


def test_report_on_a_broken_run_directory_is_one_line(tmp_path):
    run = tmp_path / "run"
    run.mkdir()
    cases = [(None, "is not a search run directory (no run.json)"),
             ("{", "run.json is corrupt (not JSON)"),
             ("[1]", "run.json is corrupt (not a JSON object)"),
             ("{}", "run.json is corrupt (missing budget, objective, study_name)"),
             (json.dumps({"storage": None, "study_name": "nas", "budget": 1, "objective": "flops"}),
              "keeps its study at a URL with a password, which is never written to disk; pass --storage URL"),
             (json.dumps({"storage": f"sqlite:///{run / 'study.db'}", "study_name": "nas", "budget": 1,
                          "objective": "flops"}), "cannot load study 'nas' from sqlite:///")]
    (run / "study.db").write_text("not a database")
    for text, message in cases:
        if text is not None:
            (run / "run.json").write_text(text)
        with pytest.raises(SearchError, match=re.escape(message)) as caught:
            report(run)
        assert "\n" not in str(caught.value)  # the driver's SQL and help lines are dropped


def test_run_json_keeps_a_storage_url_a_report_can_use_elsewhere(tmp_path, monkeypatch):
    from nas.search.study import _recordable

    monkeypatch.chdir(tmp_path)
    # a relative SQLite path is relative to where the search ran: made absolute, `nas report` works anywhere
    assert _recordable("sqlite:///runs/study.db") == f"sqlite:///{tmp_path / 'runs' / 'study.db'}"
    assert _recordable(f"sqlite:///{tmp_path}/a.db") == f"sqlite:///{tmp_path}/a.db"
    assert _recordable("postgresql://nas@db.lab:5432/studies") == "postgresql://nas@db.lab:5432/studies"
    assert _recordable("postgresql://nas:hunter2@db.lab:5432/studies") is None  # a password never reaches disk
    assert _recordable("not a url") is None


def test_resuming_needs_the_same_proxy_but_not_the_same_machine(tmp_path):
    # Accuracies of one study must be comparable: a resume (or a second worker) with another recipe or data
    # is refused. Only space, budget and objective were compared: --epochs 2 on a 1-epoch study went on.
    from nas.search.study import check_storage, open_study

    new = config(tmp_path)
    open_study(new)
    resume = dataclasses.replace(new, resume=True)
    check_storage(dataclasses.replace(resume, train=dataclasses.replace(TRAIN, threads=2, device="auto")))
    check_storage(dataclasses.replace(resume, data=dataclasses.replace(DATA, path="/data/elsewhere")))
    with pytest.raises(SearchError, match=re.escape(
            "the study was recorded with epochs 2 (given 3); resuming (or adding a worker) needs the same space, "
            "budget, objective and proxy (training recipe and data)")):
        check_storage(dataclasses.replace(resume, train=dataclasses.replace(TRAIN, epochs=3)))
    with pytest.raises(SearchError, match=re.escape(
            "recorded with budget 3,000,000 (given 4,000,000); lr 0.05 (given 0.1); data.resolution 16 (given 32)")):
        check_storage(dataclasses.replace(resume, budget=4_000_000, data=dataclasses.replace(DATA, resolution=32),
                                          train=dataclasses.replace(TRAIN, lr=0.1)))
