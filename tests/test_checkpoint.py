"""`nas train --run-dir`: a checkpoint every epoch (plain data, loaded with weights_only), never written over
without --resume, and a run interrupted or killed after an epoch resumed to the weights of an uninterrupted
run, bit for bit on the CPU."""
import dataclasses
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from nas.cli import main
from nas.training.checkpoint import CHECKPOINT, SUMMARY, CheckpointError, read_checkpoint, train
from nas.training.data import DataSource, load
from nas.training.evaluate import TrainJob
from nas.training.train import TrainConfig
from search_spaces.cells.head import ClassifierArgs
from search_spaces.spec import Block
from tests.test_train import tiny_spec

ROOT = Path(__file__).resolve().parents[1]
DATA = DataSource("synthetic", resolution=16, channels=1, num_classes=4, size=128)
DATA_ARG = "synthetic:1,16,4,128"
RECIPE = TrainConfig(epochs=3, batch_size=16, threads=1)
TIMING = ("seconds", "images_per_second")


def spec():
    """The tiny network with dropout before its classifier: a resumed run must restore torch's global
    generator too, not only the batch order's."""
    return dataclasses.replace(tiny_spec(), head=(Block("classifier", ClassifierArgs(dropout=0.5)),))


def job(run_dir, **recipe):
    return TrainJob(dataclasses.replace(RECIPE, **recipe), DATA, str(run_dir))


def same_run(a, b):
    """Equal weights, bit for bit, and equal histories but for the timings."""
    ma, mb = a.state["model"], b.state["model"]
    assert ma.keys() == mb.keys() and all(torch.equal(ma[k], mb[k]) for k in ma)
    strip = [{k: v for k, v in dataclasses.asdict(e).items() if k not in TIMING} for e in a.history]
    assert strip == [{k: v for k, v in dataclasses.asdict(e).items() if k not in TIMING} for e in b.history]
    assert a.result == b.result


@pytest.fixture(scope="module")
def whole(tmp_path_factory):
    """An uninterrupted three-epoch run."""
    run_dir = tmp_path_factory.mktemp("whole")
    trained = train(spec(), job(run_dir), "tiny")
    return trained, read_checkpoint(run_dir)


def test_the_checkpoint_holds_the_network_as_trained_in_plain_data(whole):
    trained, found = whole
    assert trained.checkpoint == found.path and found.path.name == CHECKPOINT
    state = torch.load(found.path, weights_only=True)  # tensors and plain data only
    assert state["epoch"] == 3 == len(state["history"]) and state["ref"] == "tiny"
    assert set(state) >= {"model", "optimizer", "generator", "rng", "source", "spec", "train", "data", "dataset"}
    # built for the data: its channels and classes, at its side; the spec as given kept beside it
    assert (found.spec.in_channels, found.spec.num_classes, found.spec.resolution) == (1, 4, 16)
    assert found.source == spec() and found.train == RECIPE and found.data == DATA
    data = load(DATA)
    assert found.dataset["mean"] == list(data.mean) and found.dataset["images"]["train"] == len(data.train_y)
    metrics = trained.metrics
    assert found.result["accuracy"] == metrics.accuracy == found.history[-1].val_accuracy
    assert found.result["test_accuracy"] == metrics.test_accuracy is not None
    assert found.describe() == (f"trained 3 of 3 epochs on synthetic: validation {metrics.accuracy:.2%}, "
                                f"test {metrics.test_accuracy:.2%}")
    summary = json.loads((found.path.parent / SUMMARY).read_text())  # the same for people, without tensors
    assert summary["epoch"] == 3 and summary["spec"]["num_classes"] == 4 and summary["result"] == found.result
    # the weights load into the network as trained and give its test accuracy
    from nas.training.train import evaluate_accuracy

    model = found.model()
    assert not model.training
    assert evaluate_accuracy(model, data, 256, torch.device("cpu"), "test")[0] == metrics.test_accuracy


def test_an_interrupted_run_resumes_to_the_uninterrupted_result(whole, tmp_path):
    def stop(report):
        if report.epoch == 1:
            raise KeyboardInterrupt  # after epoch 1's checkpoint
    with pytest.raises(KeyboardInterrupt):
        train(spec(), job(tmp_path), "tiny", report=stop)
    assert read_checkpoint(tmp_path).epochs_done == 1 and read_checkpoint(tmp_path).result is None
    before = (tmp_path / CHECKPOINT).read_bytes()
    with pytest.raises(CheckpointError, match=r"holds a checkpoint of tiny \(trained 1 of 3 epochs on synthetic "
                                              r"\(unfinished: .*\)\): --resume continues it, or give another "
                                              r"--run-dir"):
        train(spec(), job(tmp_path), "tiny")
    assert (tmp_path / CHECKPOINT).read_bytes() == before  # nothing lost
    resumed = train(None, job(tmp_path), resume=True)  # the network comes from the checkpoint
    assert resumed.resumed == 1
    same_run(read_checkpoint(tmp_path), whole[1])
    assert resumed.metrics.test_accuracy == whole[0].metrics.test_accuracy
    again = train(spec(), job(tmp_path), resume=True)  # a finished run: its result, no training
    assert again.resumed == 3 and again.metrics.accuracy == whole[0].metrics.accuracy
    assert (again.metrics.test_accuracy, again.metrics.epochs_run) == (whole[0].metrics.test_accuracy, 3)


def test_a_killed_process_resumes_to_the_uninterrupted_result(whole, tmp_path, capsys):
    argv = ["train", "tiny.json", "--data", DATA_ARG, "--epochs", "3", "--batch-size", "16", "--threads", "1",
            "--run-dir", str(tmp_path / "run")]
    (tmp_path / "tiny.json").write_text(spec().to_json())
    child = subprocess.run([sys.executable, "-m", "tests.checkpoint_child", *argv], cwd=tmp_path,
                           env=os.environ | {"PYTHONPATH": str(ROOT)}, capture_output=True, timeout=300)
    assert child.returncode == -9  # SIGKILL, right after epoch 1's checkpoint was written
    assert torch.load(tmp_path / "run" / CHECKPOINT, weights_only=True)["epoch"] == 1
    assert main(["train", "--run-dir", str(tmp_path / "run"), "--resume"]) == 0
    out = capsys.readouterr().out
    assert "tiny.json  trained 3 epoch(s) at 16x16 on cpu" in out
    assert f"checkpoint   {tmp_path / 'run' / CHECKPOINT}  (resumed after epoch 1)" in out
    same_run(read_checkpoint(tmp_path / "run"), whole[1])


def test_refusals_are_one_line_and_keep_the_checkpoint(whole, tmp_path, capsys):
    run_dir = whole[1].path.parent
    before = whole[1].path.read_bytes()
    (tmp_path / "search").mkdir()
    (tmp_path / "search" / "run.json").write_text("{}")
    (tmp_path / "tiny.json").write_text(spec().to_json())
    other = tiny_spec(width=4)
    (tmp_path / "other.json").write_text(other.to_json())
    cases = [
        (["train", str(tmp_path / "tiny.json"), "--run-dir", str(run_dir)], "holds a checkpoint of tiny"),
        (["train", "--run-dir", str(run_dir), "--resume", "--epochs", "5"],
         "started with other settings: epochs (the run has 3). A resumed run keeps its own"),
        (["train", str(tmp_path / "other.json"), "--run-dir", str(run_dir), "--resume"],
         "holds a run of another network (tiny, digest"),
        (["train", "--resume"], "--resume continues the run in --run-dir DIR: give it"),
        (["train", "--run-dir", str(tmp_path / "empty")], "give the network to train"),
        (["train", str(tmp_path / "tiny.json"), "--run-dir", str(tmp_path / "search")],
         "holds a search (run.json); give the training a directory of its own"),
    ]
    for argv, message in cases:
        assert main(argv) == 2, argv
        err = capsys.readouterr().err
        assert err.count("\n") == 1 and message in err and "Traceback" not in err, err
    assert whole[1].path.read_bytes() == before
    # a resume may change where it runs: threads, device, evaluation batch
    assert main(["train", "--run-dir", str(run_dir), "--resume", "--threads", "1", "--eval-batch-size", "64"]) == 0
    assert "(resumed after epoch 3)" in capsys.readouterr().out


def test_a_damaged_checkpoint_is_one_line(tmp_path):
    (tmp_path / CHECKPOINT).write_bytes(b"not a checkpoint")
    with pytest.raises(CheckpointError, match="not a readable training checkpoint"):
        read_checkpoint(tmp_path)
    torch.save({"format": 1, "kind": "supernet"}, tmp_path / "other.pt")
    with pytest.raises(CheckpointError, match="not a nas train checkpoint"):
        read_checkpoint(tmp_path / "other.pt")
    with pytest.raises(CheckpointError, match="no training checkpoint there"):
        read_checkpoint(tmp_path / "missing")


def test_sigterm_stops_like_ctrl_c_and_says_how_to_resume(tmp_path, capsys, monkeypatch):
    import signal

    import nas.cli.training

    def bar(total, done=0):  # a scheduler's kill after the first epoch
        return (lambda report: os.kill(os.getpid(), signal.SIGTERM)), (lambda: None)

    monkeypatch.setattr(nas.cli.training, "epoch_bar", bar)
    before = signal.getsignal(signal.SIGTERM)  # SIG_DFL, or Ray's handler where an earlier test started Ray
    (tmp_path / "tiny.json").write_text(spec().to_json())
    argv = ["train", str(tmp_path / "tiny.json"), "--data", DATA_ARG, "--epochs", "3", "--run-dir", str(tmp_path / "r")]
    before = signal.getsignal(signal.SIGTERM)  # SIG_DFL, or Ray's once an earlier test in this process started Ray
    assert main(argv) == 130
    assert capsys.readouterr().err == (f"nas train: interrupted: the checkpoint in {tmp_path / 'r'} holds every "
                                       "finished epoch; the same command with --resume continues\n")
    assert read_checkpoint(tmp_path / "r").epochs_done == 1
    assert signal.getsignal(signal.SIGTERM) is before  # put back


def test_a_run_that_diverges_keeps_its_last_good_epoch_and_says_why(tmp_path, monkeypatch):
    import nas.training.train

    check = nas.training.train._check_loss
    monkeypatch.setattr(nas.training.train, "_check_loss", lambda window, over, plan, epoch, step: (
        f"loss became nan at epoch {epoch} step {step}" if epoch == 2 else check(window, over, plan, epoch, step)))
    failed = train(spec(), job(tmp_path), "tiny")  # 7 steps an epoch: checked at the last
    assert failed.metrics.failure == "loss became nan at epoch 2 step 7" and failed.metrics.epochs_run == 2
    found = read_checkpoint(tmp_path)
    assert found.epochs_done == 1 and found.result["failure"] == failed.metrics.failure
    assert found.describe() == "trained 1 of 3 epochs on synthetic (failed: loss became nan at epoch 2 step 7)"
    import nas.training.checkpoint

    before = (tmp_path / CHECKPOINT).read_bytes()
    monkeypatch.setattr(nas.training.checkpoint, "fit", None)  # a resumed run that had ended trains nothing
    again = train(None, job(tmp_path), resume=True)
    assert (again.metrics.failure, again.metrics.epochs_run, again.resumed) == (failed.metrics.failure, 2, 1)
    assert (tmp_path / CHECKPOINT).read_bytes() == before
