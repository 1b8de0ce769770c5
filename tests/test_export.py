"""`nas export` and `nas report` of a run on disk, and the output paths users name: a front written as spec
JSON, TorchScript and ONNX; a path that cannot be written is one line before anything is built or trained."""
import json

import optuna
import pytest
import torch

from nas.cli import main
from nas.files import OutputError, check_directory, writable_directory, writable_file
from nas.search.export import export, front_spec
from nas.search.records import DIGEST, MACS, PARAMS, SPEC, STATUS
from search_spaces import backbones
from search_spaces.counting import count
from search_spaces.spec import from_json


def make_run(run_dir, nets):
    """A finished run on disk as a search leaves it: run.json and a SQLite study of trained trials
    (accuracy, name) with their specs and costs, no training needed."""
    run_dir.mkdir()
    url = f"sqlite:///{run_dir / 'study.db'}"
    study = optuna.create_study(study_name="nas", storage=url, directions=["maximize", "minimize"])
    for accuracy, name in nets:
        spec = backbones.get(name)
        cost = count(spec)
        study.add_trial(optuna.trial.create_trial(
            values=[accuracy, cost.macs], params={}, distributions={},
            user_attrs={SPEC: spec.to_json(None), DIGEST: spec.digest(), MACS: cost.macs, PARAMS: cost.params,
                        STATUS: "trained"}))
    (run_dir / "run.json").write_text(json.dumps(
        {"storage": url, "study_name": "nas", "space": "classic", "budget": 10**12, "objective": "flops"}))
    return run_dir


@pytest.fixture
def run(tmp_path):
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    # squeezenet1_1 (349M multiply-adds) is cheaper and less accurate than alexnet (714M): both on the front
    return make_run(tmp_path / "run", [(0.6, "squeezenet1_1"), (0.7, "alexnet")])


def test_front_spec_ranks_by_accuracy(run):
    assert front_spec(run, 1) == backbones.get("alexnet")
    assert front_spec(run, 2) == backbones.get("squeezenet1_1")
    with pytest.raises(Exception, match="rank must be between 1 and 2"):
        front_spec(run, 3)


def test_export_spec_and_torchscript(run, tmp_path):
    path = export(run, 2)
    assert path.parent == run and path.name.startswith("rank2_") and path.suffix == ".json"
    assert from_json(path.read_text()) == backbones.get("squeezenet1_1")
    script = export(run, 2, "torchscript", tmp_path / "nested" / "net.pt")  # missing folders are created
    module = torch.jit.load(str(script))
    assert module(torch.zeros(1, 3, 224, 224)).shape == (1, 1000)
    assert sum(p.numel() for p in module.parameters()) == 1_235_496  # squeezenet1_1, torchvision's count


def test_export_onnx(run, tmp_path):
    pytest.importorskip("onnx")
    import onnx

    path = export(run, 2, "onnx", tmp_path / "net.onnx")
    model = onnx.load(str(path))
    onnx.checker.check_model(model)
    graph = model.graph
    dims = [[d.dim_value for d in v.type.tensor_type.shape.dim] for v in (*graph.input, *graph.output)]
    assert [v.name for v in (*graph.input, *graph.output)] == ["images", "logits"]
    assert dims == [[1, 3, 224, 224], [1, 1000]]
    # squeezenet1_1's 26 convs: the stem, 8 fire modules of squeeze + two expands, the classifier conv
    # (initializers are no check: the exporter merges identical ones, such as freshly zeroed biases)
    assert sum(node.op_type == "Conv" for node in graph.node) == 26


def test_outputs_that_cannot_be_written_are_one_line(run, tmp_path, capsys):
    a_file = tmp_path / "a_file"
    a_file.write_text("")
    with pytest.raises(OutputError, match=r"cannot use directory .*a_file: .*a_file is a file; give a directory"):
        writable_directory(a_file)
    with pytest.raises(OutputError, match=r"cannot create directory .*a_file/deeper: .*a_file is a file"):
        writable_file(a_file / "deeper" / "net.json")  # its folder would be under a file
    assert check_directory(tmp_path / "new" / "run") == tmp_path / "new" / "run"
    assert not (tmp_path / "new").exists()  # checked, not created
    with pytest.raises(OutputError, match="is a directory; give the path of a file"):
        writable_file(tmp_path)
    for argv in (["export", str(run), "--output", str(tmp_path)],
                 ["export", str(run), "--format", "torchscript", "--output", str(a_file / "net.pt")],
                 ["export-spec", "alexnet", "-o", str(a_file / "alexnet.json")]):
        assert main(argv) == 2
        out, err = capsys.readouterr()
        assert err.count("\n") == 1 and "Traceback" not in err and err.startswith(f"nas {argv[0]}: error: ")
    assert a_file.read_text() == ""  # nothing overwritten


def test_report_of_a_run_where_nothing_trained_says_where_the_reasons_are(tmp_path, capsys):
    run = make_run(tmp_path / "run", [])
    study = optuna.load_study(study_name="nas", storage=f"sqlite:///{run / 'study.db'}")
    study.add_trial(optuna.trial.create_trial(state=optuna.trial.TrialState.FAIL, user_attrs={
        STATUS: "failed", "failure": "loss became nan at epoch 1 step 10"}))
    assert main(["report", str(run)]) == 0
    out = capsys.readouterr().out.splitlines()
    assert out[0].startswith("1 trials {'failed': 1}; Pareto front of 0")
    assert out[1] == "no network trained: the reason of each failed trial is in trials.csv (column failure)"
    assert "loss became nan at epoch 1 step 10" in (run / "trials.csv").read_text()


def test_report_of_a_run_whose_proposals_were_all_rejected_says_so(tmp_path, capsys):
    # nothing failed: "the reason of each failed trial" would send the reader to failures that do not exist
    run = make_run(tmp_path / "run", [])
    study = optuna.load_study(study_name="nas", storage=f"sqlite:///{run / 'study.db'}")
    for status, failure in (("over_budget", "2,130,421,568 multiply-adds over the budget of 20,000,000"),
                            ("over_budget", "37,210,656 multiply-adds over the budget of 20,000,000"),
                            ("duplicate", "same network as failed trial 0")):
        study.add_trial(optuna.trial.create_trial(state=optuna.trial.TrialState.FAIL,
                                                  user_attrs={STATUS: status, "failure": failure}))
    assert main(["report", str(run)]) == 0
    out = capsys.readouterr().out.splitlines()
    assert out[1] == ("no network trained: every proposal was rejected before training (2 over budget, 1 duplicate); "
                      "see trials.csv (column failure)")


def test_report_of_a_latency_search_shows_the_latency_it_ranks_by(tmp_path, capsys):
    run = make_run(tmp_path / "run", [])
    study = optuna.load_study(study_name="nas", storage=f"sqlite:///{run / 'study.db'}")
    for accuracy, name, ms in ((0.7, "alexnet", 3.31), (0.6, "squeezenet1_1", 4.5)):  # squeezenet: slower, worse
        spec = backbones.get(name)
        study.add_trial(optuna.trial.create_trial(values=[accuracy, ms], user_attrs={
            SPEC: spec.to_json(None), DIGEST: spec.digest(), MACS: count(spec).macs, PARAMS: count(spec).params,
            STATUS: "trained", "latency_ms": ms}))
    info = json.loads((run / "run.json").read_text())
    (run / "run.json").write_text(json.dumps(info | {"objective": "latency"}))
    assert main(["report", str(run)]) == 0
    out = capsys.readouterr().out.splitlines()
    assert out[1].split() == ["rank", "val", "test", "FLOPs", "params", "latency", "digest", "network"]
    assert out[2].split()[:6] == ["1", "0.7000", "-", "714.2M", "61.10M", "3.3ms"] and len(out[2:-2]) == 1
