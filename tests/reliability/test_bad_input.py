"""Bad input to `nas`: each case is one line on stderr, exit code 2, no traceback, and nothing written
(no run directory appears) or lost (an existing study is unchanged)."""
import json
import re
import socket

import optuna
import pytest

from nas.cli import main
from tests.reliability.helpers import DATA_ARG, nas

SEARCH = ("search", "--space", "mobile", "--budget", "300M", "--data", DATA_ARG, "--trials", "1")


def one_line_error(capsys, argv, pattern):
    """Run `nas ARGV` in this process: exit 2, stderr one line matching `pattern`, stdout at most the
    search's three-line header (what it was about to do), never a result."""
    code = main(list(argv))
    out, err = capsys.readouterr()
    assert code == 2 and (out == "" or out.startswith("search: ") and out.count("\n") == 3), (code, out, err)
    assert err.count("\n") == 1 and "Traceback" not in err, err
    assert re.search(pattern, err), err
    return err


@pytest.mark.parametrize("budget", ["300", "-5M", "3XFLOPs"])
def test_malformed_budgets(tmp_path, capsys, budget):
    run = tmp_path / "run"
    one_line_error(capsys, [*SEARCH, f"--budget={budget}", "--run-dir", str(run)],
                   rf"^nas search: error: budget '{re.escape(budget)}' is not understood; give a positive number")
    assert not run.exists()


def test_budget_below_the_smallest_network_gives_the_minimum(tmp_path, capsys):
    run = tmp_path / "run"
    one_line_error(capsys, [*SEARCH, "--budget", "1K", "--run-dir", str(run)],
                   r"budget 1,000 multiply-adds is below the smallest network of space 'mobile' "
                   r"\([\d,]+ multiply-adds\); raise the budget to at least that")
    assert not run.exists()


def test_a_budget_that_random_draws_almost_never_fit(tmp_path, capsys, monkeypatch):
    # The dense space at 20M (5x its smallest network): seed 0 first fits at draw 6,589. Before, the search
    # started, recorded 2,000 over-budget proposals (its max_proposals) and ended with nothing trained.
    import nas.search.run

    monkeypatch.setattr(nas.search.run, "_start_ray", lambda config: pytest.fail("Ray started"))
    run = tmp_path / "run"
    one_line_error(capsys, [*SEARCH, "--space", "dense", "--budget", "20M", "--run-dir", str(run)],
                   r"^nas search: error: no point of space 'dense' within 20,000,000 multiply-adds in 2,000 random "
                   r"draws \(its smallest network has 3,990,576\); raise the budget$")
    assert not run.exists()


@pytest.mark.parametrize("argv,pattern", [
    (["--space", "nope"], r"unknown space 'nope'; known spaces: mobile, resnet, .*randwire"),
    (["--strategy", "annealing"], r"unknown strategy 'annealing'; expected one of evolution, tpe, nsga2, random"),
    (["--objective", "joy"], r"unknown objective 'joy'; expected one of flops, params, latency"),
])
def test_unknown_names_list_the_known_ones(tmp_path, capsys, argv, pattern):
    run = tmp_path / "run"
    one_line_error(capsys, [*SEARCH, *argv, "--run-dir", str(run)], pattern)
    assert not run.exists()


def test_more_cpus_or_gpus_per_trial_than_the_local_ray_has(tmp_path, capsys, monkeypatch):
    # Ray would queue such a trial forever, warning once a minute; the search refuses it before Ray starts
    import os

    import torch

    import nas.search.run

    monkeypatch.setattr(nas.search.run, "_start_ray", lambda config: pytest.fail("Ray started"))
    monkeypatch.setattr(torch.cuda, "device_count", lambda: 0)  # a GPU machine runs this test as a CPU one
    run = tmp_path / "run"
    cpus = os.cpu_count()
    one_line_error(capsys, [*SEARCH, "--cpus-per-trial", str(cpus + 1), "--run-dir", str(run)],
                   rf"^nas search: error: cpus per trial is {cpus + 1}, more than the local Ray has \({cpus} cpus "
                   rf"on this machine\); ask for at most {cpus}, or give the address of a Ray cluster with more$")
    one_line_error(capsys, [*SEARCH, "--gpus-per-trial", "0.5", "--run-dir", str(run)],
                   r"gpus per trial is 0.5, more than the local Ray has \(0 gpus on this machine\); ask for at most 0")
    assert not run.exists()


def test_a_run_directory_that_cannot_be_written(tmp_path, capsys, monkeypatch):
    import nas.search.run

    a_file = tmp_path / "a_file"
    a_file.write_text("")
    monkeypatch.setattr(nas.search.run, "_start_ray", lambda config: pytest.fail("Ray started before the run dir was checked"))
    for run in (a_file, a_file / "run"):  # a file where the directory, or its parent, would be
        one_line_error(capsys, [*SEARCH, "--run-dir", str(run)],
                       rf"^nas search: error: cannot (create|use) directory {re.escape(str(run))}: .*a_file is a file; "
                       "give a directory you can write to$")
    assert a_file.read_text() == ""


def test_zero_epochs_is_refused_not_read_as_the_default(tmp_path, capsys):
    run = tmp_path / "run"
    one_line_error(capsys, [*SEARCH, "--epochs", "0", "--run-dir", str(run)],
                   r"^nas search: error: train config epochs must be a positive integer, got 0$")
    assert not run.exists()


def test_unknown_backbone(capsys):
    one_line_error(capsys, ["backbones", "resnet5O"], r"unknown backbone 'resnet5O'; known: alexnet, .*resnet50, ")
    one_line_error(capsys, ["count", "resnet5O"], r"'resnet5O' is neither a spec JSON file nor a backbone name "
                                                  r"\(see `nas backbones`\)")


def _spec(stem):
    return json.dumps({"stem": stem, "stages": [], "head": [{"cell": "classifier"}]})


@pytest.mark.parametrize("text,pattern", [
    (_spec([{"cell": "evil", "args": {}}]), r"unknown cell 'evil'; known cells: adaptive_avgpool, ant, "),
    (_spec([{"cell": "conv", "args": {"out_channels": -8}}]), r"conv out_channels must be in \[1, 65536\], got -8"),
    (_spec([{"cell": "conv", "args": {"out_channels": 10**9}}]), r"out_channels must be in \[1, 65536\], got 1000000000"),
    ("[" * 100_000 + "]" * 100_000, r"spec JSON is nested too deeply"),
    ('{"stem": ' + "[" * 50_000 + "]" * 50_000 + "}", r"spec JSON is nested too deeply"),
    ("not json {", r"spec is not valid JSON"),
    (_spec([])[:-1] + ', "__class__": "os.system"}', r"unknown spec key\(s\) \['__class__'\]"),
    ("!!python/object/apply:os.system ['touch pwned']", r"spec is not valid JSON"),  # YAML tags are not data here
])
def test_malformed_or_hostile_spec_json(tmp_path, capsys, text, pattern):
    path = tmp_path / "spec.json"
    path.write_text(text)
    one_line_error(capsys, ["count", str(path)], rf"^nas count: error: {re.escape(str(path))}: .*{pattern}")
    assert not (tmp_path / "pwned").exists()


def test_pickle_bytes_as_spec(tmp_path, capsys):
    path = tmp_path / "spec.json"
    path.write_bytes(b"\x80\x04\x95\x1e\x00\x00\x00\x00\x00\x00\x00\x8c\x05posix\x94\x8c\x06system\x94\x93\x94.")
    one_line_error(capsys, ["count", str(path)], r"cannot read spec file \(UnicodeDecodeError\)")


def _absent(d):
    return d / "absent"


def _one_garbage_file(d):
    (d / "data_batch_1").write_bytes(b"garbage")
    return d


def _garbage_batches(d):
    for name in ("data_batch_1", "test_batch"):
        (d / name).write_bytes(b"\x00garbage")
    return d


@pytest.mark.parametrize("make,pattern", [
    (_absent, r"absent: expected a cifar10 python-format directory with data_batch_1..5 and test_batch"),
    (_one_garbage_file, r"cifar: expected a cifar10 python-format directory"),
    (_garbage_batches, r"data_batch_1: .*UnpicklingError"),
])
def test_missing_or_corrupt_dataset(tmp_path, capsys, make, pattern):
    data = tmp_path / "cifar"
    data.mkdir()
    run = tmp_path / "run"
    one_line_error(capsys, [*SEARCH, "--data", f"cifar10:{make(data)}", "--run-dir", str(run)], pattern)
    assert not run.exists()


def _closed_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_bad_storage_urls_are_masked(tmp_path, capsys):
    run = tmp_path / "run"
    one_line_error(capsys, [*SEARCH, "--storage", "nonsense://x", "--run-dir", str(run)],
                   r"cannot open study storage nonsense://x: NoSuchModuleError")
    url = f"postgresql+psycopg2://nas:hunter2@127.0.0.1:{_closed_port()}/nas"
    err = one_line_error(capsys, [*SEARCH, "--storage", url, "--run-dir", str(run)],
                         r"cannot open study storage postgresql\+psycopg2://nas:\*\*\*@127.0.0.1:\d+/nas: OperationalError")
    assert "hunter2" not in err
    assert not run.exists()


def test_bad_input_on_resume_loses_nothing(tmp_path, capsys):
    run = tmp_path / "run"
    run.mkdir()
    url = f"sqlite:///{run / 'study.db'}"
    study = optuna.create_study(storage=url, study_name="nas", directions=["maximize", "minimize"])
    study.set_user_attr("settings", {"space": "mobile", "budget": 300_000_000, "objective": "flops"})
    study.add_trial(optuna.trial.create_trial(values=[0.5, 1e6], user_attrs={"status": "trained"}))
    study.add_trial(optuna.trial.create_trial(state=optuna.trial.TrialState.RUNNING))
    before = (run / "study.db").read_bytes()
    resume = [*SEARCH, "--run-dir", str(run), "--resume"]
    one_line_error(capsys, [*resume, "--budget", "200M"], r"the study was recorded with .*needs the same space, budget")
    one_line_error(capsys, [*resume, "--data", "cifar10:/nonexistent"], r"expected a cifar10 python-format directory")
    one_line_error(capsys, [*SEARCH, "--run-dir", str(run)], r"study 'nas' already exists .* pass --resume")
    assert (run / "study.db").read_bytes() == before  # the running trial is not even re-queued


def test_unreachable_ray_address(tmp_path):
    run = tmp_path / "run"
    child = nas(*SEARCH, "--run-dir", str(run), "--address", f"127.0.0.1:{_closed_port()}")
    out, err = child.communicate(timeout=120)
    assert child.returncode == 2 and "Traceback" not in err, err
    assert err.count("\n") == 1 and "cannot start or reach the Ray cluster at 127.0.0.1:" in err
    assert "is `ray start --head` running there?" in err
    assert not run.exists()
