"""Supernet training: the sandwich rule with in-place distillation, checkpoints that resume after an
interrupt or a kill with the result of an uninterrupted run, BN recalibration, scoring, loading."""
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch
import torch.nn.functional as F
from torch import nn

from nas.training.data import load
from nas.training.oneshot import calibration_images, proxy_side, recalibrate_bn, score
from nas.training.supernet import CHECKPOINT, SupernetError, _step, load_supernet, train_supernet
from search_spaces.supernet import Supernet
from tests.supernet.helpers import DATA, DATA_ARG, TINY, tiny_job

ROOT = Path(__file__).resolve().parents[2]
TIMING = ("seconds", "images_per_second")


def same_run(a, b):
    """Equal weights, bit for bit, and equal histories but for the timings."""
    sa, sb = a.supernet.state_dict(), b.supernet.state_dict()
    assert sa.keys() == sb.keys() and all(torch.equal(sa[k], sb[k]) for k in sa)
    strip = [{k: v for k, v in e.items() if k not in TIMING} for e in a.history]
    assert strip == [{k: v for k, v in e.items() if k not in TIMING} for e in b.history]


@pytest.fixture(scope="module")
def whole(tmp_path_factory):
    """An uninterrupted two-epoch run of the tiny supernet."""
    return train_supernet(tiny_job(tmp_path_factory.mktemp("whole")), space=TINY)


def test_an_interrupted_run_resumes_to_the_uninterrupted_result(whole, tmp_path):
    def stop(p):
        if p.epoch == 2 and p.step == 2:
            raise KeyboardInterrupt  # mid-epoch 2, after epoch 1's checkpoint
    with pytest.raises(KeyboardInterrupt):
        train_supernet(tiny_job(tmp_path), progress=stop, space=TINY)
    state = torch.load(tmp_path / CHECKPOINT, weights_only=True)  # plain tensors and data only
    assert state["epoch"] == 1 and len(state["history"]) == 1
    with pytest.raises(SupernetError, match="holds a supernet run already: --resume continues it"):
        train_supernet(tiny_job(tmp_path), space=TINY)
    same_run(train_supernet(tiny_job(tmp_path), resume=True), whole)  # the space comes from the run directory


def test_a_killed_process_resumes_to_the_uninterrupted_result(whole, tmp_path):
    argv = ["supernet", "train", "--space", "tiny_elastic", "--data", DATA_ARG, "--epochs", "2", "--batch-size", "16",
            "--check-every", "1", "--calibration-images", "32", "--run-dir", str(tmp_path)]
    child = subprocess.Popen([sys.executable, "-m", "tests.supernet.child", *argv], cwd=ROOT,
                             env=os.environ | {"PYTHONPATH": str(ROOT)}, stderr=subprocess.DEVNULL)
    deadline = time.time() + 120
    while not (tmp_path / CHECKPOINT).exists() and child.poll() is None and time.time() < deadline:
        time.sleep(0.02)
    child.send_signal(signal.SIGKILL)  # somewhere in epoch 2
    assert child.wait() == -signal.SIGKILL
    assert torch.load(tmp_path / CHECKPOINT, weights_only=True)["epoch"] >= 1
    same_run(train_supernet(tiny_job(tmp_path), resume=True), whole)


def test_each_step_sums_the_gradients_of_the_sandwich_with_distillation(tmp_path):
    data = load(DATA)
    x, y = data.train_x[:8], data.train_y[:8]
    specs = [TINY.largest(), TINY.smallest(), TINY.sample(1), TINY.sample(2)]
    torch.manual_seed(0)
    net = Supernet(TINY, 1, 4).train()
    sides = []
    net.stem.register_forward_pre_hook(lambda m, args: sides.append(args[0].shape[-1]))
    torch.manual_seed(1)  # dropout
    _step(net, specs, x, y, data, tiny_job(tmp_path))
    got = {k: p.grad.clone() for k, p in net.named_parameters() if p.grad is not None}
    assert sides == [proxy_side(s, data) for s in specs] and sides[:2] == [16, 9]
    # the same by hand: cross-entropy for the largest, soft cross-entropy on its softmax for the others
    net.zero_grad(set_to_none=True)
    torch.manual_seed(1)
    from nas.training.oneshot import batch
    teacher = None
    for spec in specs:
        net.select(spec)
        out = net(batch(x, proxy_side(spec, data), data))
        if teacher is None:
            loss, teacher = F.cross_entropy(out, y, label_smoothing=0.1), out.detach().softmax(1)
        else:
            loss = -(teacher * out.log_softmax(1)).sum(1).mean()
        loss.backward()
    expected = {k: p.grad for k, p in net.named_parameters() if p.grad is not None}
    assert got.keys() == expected.keys()
    assert all(torch.allclose(got[k], expected[k], atol=1e-6) for k in got)


def test_recalibration_averages_the_batch_statistics():
    model = nn.Sequential(nn.Conv2d(1, 3, 1), nn.BatchNorm2d(3, momentum=0.3))
    batches = [torch.randn(4, 1, 5, 5) * s + s for s in (1.0, 2.0, 3.0)]
    model.eval()
    recalibrate_bn(model, batches)
    with torch.no_grad():
        outs = [model[0](b) for b in batches]
    expected = torch.stack([o.mean(dim=(0, 2, 3)) for o in outs]).mean(0)
    assert torch.allclose(model[1].running_mean, expected, atol=1e-5)
    assert not model.training and model[1].momentum == 0.3


def test_the_run_directory_loads_and_scores_as_trained(whole):
    trained = load_supernet(whole.run_dir)
    assert trained.epochs_done == 2 and trained.space == TINY and trained.job.train.epochs == 2
    data = load(DATA)
    sample = calibration_images(data, 32)
    assert score(trained.supernet, TINY.largest(), data, True, sample) == whole.history[-1]["largest"]
    assert 0 <= score(trained.supernet, TINY.smallest(), data, recalibrate=False) <= 1
    assert not trained.supernet.training


def test_bad_runs_are_one_line_errors(tmp_path, whole):
    with pytest.raises(SupernetError, match="space 'mobile' is not elastic, so it has no supernet; elastic spaces: "
                                            "elastic_mbv3"):
        train_supernet(tiny_job(tmp_path, space="mobile"))
    with pytest.raises(SupernetError, match="no readable supernet run"):
        load_supernet(tmp_path)
    (tmp_path / "supernet.json").write_text((whole.run_dir / "supernet.json").read_text())
    (tmp_path / CHECKPOINT).write_bytes(b"not a checkpoint")
    with pytest.raises(SupernetError, match="not a readable supernet checkpoint"):
        load_supernet(tmp_path)
