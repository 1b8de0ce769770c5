"""`nas export` and `nas report` of a run on disk, and the output paths users name: a front written as spec
JSON, TorchScript and ONNX; a path that cannot be written is one line before anything is built or trained."""
import json

import optuna
import pytest
import torch

from nas.cli import main
from nas.files import OutputError, check_directory, writable_directory, writable_file
from nas.search.config import SearchError
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
    path = export(run, 2).path
    assert path.parent == run and path.name.startswith("rank2_") and path.suffix == ".json"
    assert from_json(path.read_text()) == backbones.get("squeezenet1_1")
    done = export(run, 2, "torchscript", tmp_path / "nested" / "net.pt")  # missing folders are created
    assert not done.trained and done.max_diff <= 1e-5 and done.input_shape == ("N", 3, 224, 224)
    module = torch.jit.load(str(done.path))
    assert module(torch.zeros(3, 3, 224, 224)).shape == (3, 1000)  # the batch size is free
    assert sum(p.numel() for p in module.parameters()) == 1_235_496  # squeezenet1_1, torchvision's count


def test_export_onnx(run, tmp_path):
    pytest.importorskip("onnx")
    import onnx

    done = export(run, 2, "onnx", tmp_path / "net.onnx")
    assert done.max_diff <= 1e-4 and "reference evaluator" in done.checked_by  # run and compared on export
    model = onnx.load(str(done.path))
    onnx.checker.check_model(model)
    graph = model.graph
    dims = [[d.dim_param or d.dim_value for d in v.type.tensor_type.shape.dim] for v in (*graph.input, *graph.output)]
    assert [v.name for v in (*graph.input, *graph.output)] == ["images", "logits"]
    assert dims == [["N", 3, 224, 224], ["N", 1000]]  # a free batch axis; run.json records no class count here
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


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    """A one-epoch training run of the tiny network on 1-channel, 4-class synthetic data, checkpointed."""
    from nas.training.checkpoint import train
    from nas.training.data import DataSource
    from nas.training.evaluate import TrainJob
    from nas.training.train import TrainConfig
    from tests.test_train import tiny_spec

    run_dir = tmp_path_factory.mktemp("trained")
    data = DataSource("synthetic", resolution=16, channels=1, num_classes=4, size=128)
    train(tiny_spec(), TrainJob(TrainConfig(epochs=1, batch_size=16, threads=1), data, str(run_dir)), "tiny")
    return run_dir


def test_a_checkpoint_exports_with_its_weights_for_its_data(trained, tmp_path):
    pytest.importorskip("onnx")
    import numpy as np
    import onnx
    from onnx.reference import ReferenceEvaluator

    from nas.training.checkpoint import read_checkpoint
    from nas.training.data import load

    found = read_checkpoint(trained)
    done = export(trained, fmt="onnx")
    assert done.path == trained / "model.onnx" and done.trained and done.input_shape == ("N", 1, 16, 16)
    assert done.max_diff <= 1e-4
    model = onnx.load(str(done.path))
    graph = model.graph
    dims = [[d.dim_param or d.dim_value for d in v.type.tensor_type.shape.dim] for v in (*graph.input, *graph.output)]
    assert dims == [["N", 1, 16, 16], ["N", 4]]  # the data's channels, side and classes; any batch size
    meta = {p.key: p.value for p in model.metadata_props}
    assert from_json(meta["nas.spec"]) == found.spec and "pixel / 255" in meta["nas.input"]
    # the file alone, on the test images as they come (0..255 scaled to 0..1), gives the reported test accuracy
    data = load(found.data)
    logits = ReferenceEvaluator(model).run(None, {"images": data.test_x.float().numpy() / 255})[0]
    correct = int(np.sum(logits.argmax(1) == data.test_y.numpy()))
    assert abs(correct - found.result["test_accuracy"] * len(data.test_y)) <= 1  # numpy may break a near-tie apart

    script = export(trained / "checkpoint.pt", fmt="torchscript")
    assert script.path == trained / "model.pt" and script.max_diff <= 1e-5
    assert from_json(export(trained).path.read_text()) == found.spec  # the spec as trained
    with pytest.raises(SearchError, match="is the checkpoint being exported"):
        export(trained, fmt="torchscript", output=trained / "checkpoint.pt")
    with pytest.raises(SearchError, match="is a training checkpoint: --rank and --trial choose among a search's"):
        export(trained, rank=1)


def test_any_trial_of_a_run_exports_with_the_class_count_of_its_data(run, tmp_path, capsys):
    info = json.loads((run / "run.json").read_text())
    (run / "run.json").write_text(json.dumps(info | {"num_classes": 10}))
    done = export(run, trial=0, fmt="torchscript", output=tmp_path / "t0.pt")  # squeezenet: not rank 1
    assert done.source.spec.num_classes == 10 and torch.jit.load(str(done.path))(torch.zeros(2, 3, 224, 224)).shape \
        == (2, 10)
    assert export(run, trial=1).path.name == f"trial1_{backbones.get('alexnet').digest()[:12]}.json"
    assert main(["export", f"{run}#0", "--format", "torchscript", "-o", str(tmp_path / "t.pt")]) == 0
    out = capsys.readouterr().out.splitlines()
    assert out[0] == f"wrote {tmp_path / 't.pt'}: trial 0 of {run}"
    assert out[1] == "  input 'images' N x 3 x 224 x 224 (N free), output 'logits' N x 10"
    assert out[2] == (f"  untrained: freshly initialised weights, what you want to train it elsewhere or to time it; "
                      f"nas train {run}#0 --run-dir DIR, then nas export DIR, writes it trained")
    assert out[3].startswith("  checked: max |difference| ") and out[3].endswith(
        "from the module on a batch of 2 (TorchScript reloaded with torch.jit.load)")
    for argv, message in ((["export", str(run), "--rank", "1", "--trial", "0"], "give --rank (a member of the front) "
                                                                                 "or --trial (any trial), not both"),
                          (["export", str(run), "--trial", "7"], "has trials 0 to 1; there is no trial 7"),
                          (["export", "alexnet", "--rank", "2"], "not a search run directory (no run.json)"),
                          (["export", str(tmp_path)], "holds neither a search (run.json) nor a training checkpoint")):
        assert main(argv) == 2
        err = capsys.readouterr().err
        assert err.count("\n") == 1 and message in err, err


def test_an_export_that_computes_otherwise_is_refused(trained, monkeypatch):
    load = torch.jit.load
    monkeypatch.setattr(torch.jit, "load", lambda path: (lambda x: load(path)(x) + 1e-3))
    with pytest.raises(SearchError, match="computes other outputs than the module .*max \\|difference\\| 0.001"):
        export(trained, fmt="torchscript")
