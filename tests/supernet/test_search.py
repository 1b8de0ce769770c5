"""`nas search --supernet DIR`: a search on a tiny trained supernet writes a multi-trial search's files,
keeps to the budget, ranks on validation accuracy, resumes, scores the same in Ray tasks as in this
process, retrains its best stand-alone, and exports a front member with the weights it inherits."""
import dataclasses
import json

import optuna
import pytest
import torch

from nas.cli import main
from nas.search import loop, oneshot
from nas.search.config import SearchConfig, SearchError
from nas.search.export import export, weights_file
from nas.search.records import STANDALONE_ACCURACY
from nas.search.run import SearchInterrupted, search
from nas.search.trial import proxy_side
from nas.training.data import DataSource, load
from nas.training.evaluate import evaluate
from nas.training.oneshot import calibration_images, inherited, score
from nas.training.supernet import SupernetError, load_supernet, train_supernet
from nas.training.train import TrainConfig
from search_spaces.counting import count
from search_spaces.network import build
from search_spaces.spec import from_json
from tests.supernet.helpers import TINY, tiny_job

# 128 images: 103 train, 12 validation, 32 test (test and validation differ, so a mix-up shows)
DATA = DataSource("synthetic", resolution=16, channels=1, num_classes=4, size=128)
BUDGET = sorted(count(TINY.sample(i)).macs for i in range(40))[20]  # about half the space fits
RETRAIN = TrainConfig(epochs=1, batch_size=16, threads=1, max_loss=100.0)


@pytest.fixture(scope="module")
def supernet(tmp_path_factory):
    run = tmp_path_factory.mktemp("supernet")
    train_supernet(tiny_job(run, epochs=1, data=DATA), space=TINY)
    return run


@pytest.fixture
def in_process(monkeypatch):
    """Score in this process whatever the machine's cores (the Ray path has its own test)."""
    monkeypatch.setattr(oneshot, "uses_ray", lambda config, cpus: False)


def config(supernet, run_dir, **kw):
    settings = dict(space="tiny_elastic", supernet=str(supernet), budget=BUDGET, trials=6, strategy="random",
                    run_dir=str(run_dir), train=RETRAIN)
    return SearchConfig(**(settings | kw))


def study_of(run_dir):
    return optuna.load_study(study_name="nas", storage=f"sqlite:///{run_dir / 'study.db'}")


def test_a_search_on_a_supernet_ranks_on_validation_within_budget_and_resumes(supernet, tmp_path, in_process):
    run = tmp_path / "run"
    result = search(config(supernet, run))
    for name in ("trials.csv", "trials.json", "pareto.json", "pareto.png", "summary.json", "run.json", "config.json"):
        assert (run / name).is_file()
    trials = study_of(run).get_trials()
    assert [t.number for t in trials] == list(range(len(trials)))
    scored = [t for t in trials if t.user_attrs["status"] == "trained"]
    assert len(scored) == 6 and {t.user_attrs["scored_on"] for t in scored} == {"supernet"}
    assert any(t.user_attrs["status"] == "over_budget" for t in trials)  # answered without scoring
    assert all(t.user_attrs["macs"] <= BUDGET for t in scored)
    trained, data = load_supernet(supernet), load(DATA)
    sample = calibration_images(data, trained.job.calibration_images)
    for t in scored:  # each value is the supernet's validation accuracy of the network, recalibrated
        spec = from_json(t.user_attrs["spec"])
        assert t.values == [score(trained.supernet, spec, data, True, sample), t.user_attrs["macs"]]
    for r in result.front:  # the front's members get their test accuracy, reported only
        assert r.test_accuracy == score(trained.supernet, from_json(r.spec), data, True, sample, split="test")
    summary = json.loads((run / "summary.json").read_text())
    assert summary["supernet"]["scored"] == 6 and summary["supernet"]["run_dir"] == str(supernet)
    assert json.loads((run / "run.json").read_text())["supernet"] == str(supernet.resolve())

    with pytest.raises(SearchError, match="already exists .* pass --resume"):
        search(config(supernet, run))
    search(config(supernet, run, trials=9, resume=True))
    again = study_of(run).get_trials()
    assert again[:len(trials)] == trials  # the earlier trials as they were, numbers and all
    assert sum(t.user_attrs["status"] == "trained" for t in again) == 9
    assert len({t.user_attrs["digest"] for t in again if t.user_attrs["status"] == "trained"}) == 9


def test_ray_tasks_score_as_this_process_does_and_an_interrupt_resumes(supernet, tmp_path, ray_local, monkeypatch):
    monkeypatch.setattr(oneshot, "uses_ray", lambda config, cpus: True)
    monkeypatch.setattr(loop, "BATCH", 2)
    seen = []

    def stop(progress):  # after the first recorded result: batches are in flight
        seen.append(progress)
        if progress.training_runs == 1:
            raise KeyboardInterrupt
    with pytest.raises(SearchInterrupted, match="recorded as interrupted and queued again"):
        search(config(supernet, tmp_path / "ray", trials=8), progress=stop)
    interrupted = [t for t in study_of(tmp_path / "ray").get_trials() if t.user_attrs.get("status") == "interrupted"]
    assert interrupted and all(t.state.name == "FAIL" for t in interrupted)
    search(config(supernet, tmp_path / "ray", trials=8, resume=True))
    by_ray = study_of(tmp_path / "ray").get_trials()
    assert {t.state.name for t in by_ray} <= {"COMPLETE", "FAIL"}  # the queued ones were scored
    assert json.loads((tmp_path / "ray" / "summary.json").read_text())["supernet"]["ray"] is True

    monkeypatch.setattr(oneshot, "uses_ray", lambda config, cpus: False)
    search(config(supernet, tmp_path / "here", trials=8))
    here = {t.user_attrs["digest"]: t.values for t in study_of(tmp_path / "here").get_trials()
            if t.user_attrs["status"] == "trained"}
    ray_scores = {t.user_attrs["digest"]: t.values for t in by_ray if t.user_attrs["status"] == "trained"}
    common = here.keys() & ray_scores.keys()
    assert len(ray_scores) == 8 and common and all(here[d] == ray_scores[d] for d in common)


def test_retrain_records_the_stand_alone_accuracy_beside(supernet, tmp_path, in_process):
    result = search(config(supernet, tmp_path / "run", trials=4, retrain=1))
    row = result.summary["retrained"][0]
    trials = study_of(tmp_path / "run").get_trials()
    best = max((t for t in trials if t.user_attrs["status"] == "trained"), key=lambda t: (t.values[0], -t.values[1]))
    assert row["number"] == best.number and row["supernet_accuracy"] == best.values[0]
    spec, data = from_json(best.user_attrs["spec"]), load(DATA)
    alone = evaluate(spec, RETRAIN, data.resized(proxy_side(data.resolution, spec.resolution, 224)))
    assert row["standalone_accuracy"] == alone.accuracy and row["standalone_test_accuracy"] == alone.test_accuracy
    csv = (tmp_path / "run" / "trials.csv").read_text().splitlines()
    assert "standalone_accuracy" in csv[0].split(",") and STANDALONE_ACCURACY in json.dumps(
        json.loads((tmp_path / "run" / "trials.json").read_text()))


def test_export_carries_the_inherited_weights(supernet, tmp_path, in_process):
    run = tmp_path / "run"
    search(config(supernet, run, trials=3))
    path = export(run, 1).path
    spec = from_json(path.read_text())
    state = torch.load(weights_file(path), weights_only=True)  # plain data
    trained, data = load_supernet(supernet), load(DATA)
    extracted = trained.supernet.extract(spec)
    module = build(from_json(state["spec"]), init=False)
    module.load_state_dict(state["state_dict"])
    params = dict(extracted.named_parameters())
    assert all(torch.equal(p, params[k]) for k, p in module.named_parameters())  # inherited, not trained
    expected = inherited(trained.supernet, spec, data, True, calibration_images(data, trained.job.calibration_images))
    x = torch.randn(2, 1, state["side"], state["side"])
    with torch.no_grad():
        assert torch.allclose(module.eval()(x), expected(x), atol=1e-5)  # and BN recalibrated as when scored
        script = torch.jit.load(str(export(run, 1, "torchscript", tmp_path / "net.pt").path))
        assert torch.allclose(script(x), expected(x), atol=1e-5)


def test_the_command_line_searches_on_a_supernet_and_exports(supernet, tmp_path, in_process, capsys):
    run = tmp_path / "run"
    code = main(["search", "--space", "tiny_elastic", "--supernet", str(supernet), "--budget", f"{BUDGET / 1e6:.6f}M",
                 "--trials", "3", "--strategy", "random", "--run-dir", str(run), "--epochs", "1"])
    out, err = capsys.readouterr()
    assert code == 0, err
    assert "3 candidates scored on the supernet" in out and f"supernet: {supernet.resolve()} (1 epochs" in out
    assert "scored on the supernet in" in out and "3 candidates" in out
    assert main(["export", str(run)]) == 0
    assert "with the weights it inherits from the supernet" in capsys.readouterr().out


@pytest.mark.parametrize("argv,message", [
    (["--supernet", "/nowhere"], "/nowhere: no readable supernet run"),
    (["--space", "mobile"], "is a supernet of space 'tiny_elastic', not 'mobile': a search on it searches its "
                            "space; give --space tiny_elastic"),
    (["--data", "digits"], "was trained on synthetic, and a search on it scores on that data"),
    (["--objective", "latency"], "ranks accuracy against flops or params, not latency"),
    (["--supernet", None, "--retrain", "2"], "--retrain trains the best of a search on a supernet; give --supernet"),
    (["--retrain", "-1"], "retrain must be 0 or more"),
    (["--predictor", "5"], "predictor must be 0 (score every candidate) or at least 10 scores to fit on"),
    (["--supernet", None, "--predictor", "12"], "--predictor predicts supernet scores; give --supernet DIR"),
])
def test_bad_input_is_one_line(supernet, tmp_path, capsys, argv, message):
    base = {"--space": "tiny_elastic", "--supernet": str(supernet), "--run-dir": str(tmp_path / "run")}
    given = dict(zip(argv[::2], argv[1::2]))
    merged = base | given
    args = [a for k, v in merged.items() if v is not None for a in (k, v)]
    code = main(["search", *args])
    err = capsys.readouterr().err
    assert code == 2 and err.startswith("nas search: error: ") and err.count("\n") == 1, err
    assert message in err and not (tmp_path / "run").exists()


def test_a_supernet_study_is_not_continued_without_its_supernet(supernet, tmp_path, in_process):
    search(config(supernet, tmp_path / "run", trials=2))
    resumed = dataclasses.replace(config(supernet, tmp_path / "run"), supernet=None, resume=True, data=DATA)
    with pytest.raises(SearchError, match="the study was recorded with supernet '.*' \\(given None\\); resuming"):
        search(resumed, space=TINY)
    with pytest.raises(SupernetError, match="no checkpoint yet"):
        (tmp_path / "empty").mkdir()
        (tmp_path / "empty" / "supernet.json").write_text((supernet / "supernet.json").read_text())
        search(config(tmp_path / "empty", tmp_path / "other"))
