"""evaluate(spec, config): deployed cost, proxy accuracy, failures as data, latency, config checks, CLI."""
import dataclasses
import json

import pytest

from nas.cli import main
from nas.training.data import DataSource, load
from nas.training.evaluate import Metrics, adapt, evaluate
from nas.training.proxies import score
from nas.training.train import ConfigError, TrainConfig
from search_spaces.cells.conv import ConvArgs
from search_spaces.counting import count
from search_spaces.errors import SpecError
from search_spaces.spec import Block
from tests.test_train import tiny_spec

FAST = TrainConfig(epochs=1, batch_size=32, lr=0.1, threads=1)


@pytest.fixture(scope="module")
def digits():
    return load(DataSource("digits", resolution=16))


def test_metrics_report_the_deployed_cost_and_the_proxy_accuracy(digits):
    spec = tiny_spec()
    metrics = evaluate(spec, FAST, digits)
    deployed = count(spec)  # 224x224, 1000 classes: not the 16x16, 10-class proxy
    assert (metrics.macs, metrics.params) == (deployed.macs, deployed.params)
    assert metrics.params != count(adapt(spec, digits)).params
    assert metrics.failure is None and 0.0 <= metrics.accuracy <= 1.0 and metrics.proxy_resolution == 16
    assert metrics.train_seconds > 0 and metrics.images_per_second > 0 and metrics.device == "cpu"
    assert metrics.latency_ms is None


def test_a_network_whose_map_would_vanish_trains_at_the_smallest_side_it_accepts(digits):
    # four unpadded 3x3/2 convs: side n gives (n - 3) // 2 + 1; 31 -> 15 -> 7 -> 3 -> 1, and 30 -> 14 -> 6 -> 2 -> 0
    rows = tuple(dataclasses.replace(b, args=ConvArgs(8, 3, 2, padding=0)) for b in tiny_spec().stem * 4)
    spec = dataclasses.replace(tiny_spec(), stem=rows)  # fine at 224, vanishes at the digits' 16
    assert adapt(spec, digits).resolution == 31
    metrics = evaluate(spec, FAST, digits)
    assert metrics.failure is None and metrics.accuracy is not None and metrics.proxy_resolution == 31
    assert metrics.macs == count(spec).macs  # the deployed network's cost, whatever side it trained at
    assert set(score(spec, digits, ("naswot",))) == {"naswot"}  # zero-cost scores take the same side


def test_alexnet_trains_at_63_px_the_smallest_side_its_map_survives(digits):
    # conv 11/4 pad 2, max pool 3/2, conv 5 pad 2, max pool 3/2, three 3x3 convs, max pool 3/2:
    # 63 -> 15 -> 7 -> 7 -> 3 -> 3 -> 1, while 62 -> 14 -> 6 -> 6 -> 2 -> 2 -> 0 (the README's figure)
    from search_spaces import backbones

    assert adapt(backbones.get("alexnet"), digits).resolution == 63


def test_a_spec_that_fits_at_no_side_fails_with_a_reason(digits):
    stem = (Block("conv", ConvArgs(9, 3, 1, groups=3)),)  # three input channels in three groups; digits have one
    spec = dataclasses.replace(tiny_spec(), stem=stem)
    metrics = evaluate(spec, FAST, digits)
    assert metrics.accuracy is None and metrics.epochs_run == 0
    assert metrics.failure.startswith("the network does not fit digits at 16x16: ") and "groups" in metrics.failure
    with pytest.raises(SpecError, match="does not fit"):
        adapt(spec, digits)


def test_latency_is_measured_when_asked():
    spec = dataclasses.replace(tiny_spec(), resolution=32)
    metrics = evaluate(spec, dataclasses.replace(FAST, latency=True, latency_batch=4, latency_repeats=3),
                       DataSource("synthetic", resolution=16, size=64, num_classes=3))
    assert metrics.latency_ms > 0 and metrics.latency_batch_ms > 0
    assert isinstance(metrics, Metrics) and metrics.proxy_resolution == 16


@pytest.mark.parametrize("field,value,message", [
    ("epochs", 0, "epochs must be a positive integer"),
    ("schedule", "step", "schedule must be one of cosine, onecycle"),
    ("device", "tpu", "device must be cpu, cuda or auto"),
    ("lr", -1.0, "lr > 0"),
    ("warmup_epochs", -1.0, "warmup_epochs"),
])
def test_config_is_checked(field, value, message):
    with pytest.raises(ConfigError, match=message):
        TrainConfig(**{field: value})


def test_cli_train(tmp_path, capsys):
    path = tmp_path / "tiny.json"
    path.write_text(tiny_spec().to_json())
    assert main(["train", str(path), "--data", "synthetic:1,16,4,64", "--epochs", "2", "--json"]) == 0
    out, err = capsys.readouterr()
    assert json.loads(out)["epochs_run"] == 2 and err.count("epoch ") == 2
    assert main(["train", str(path), "--data", f"cifar10:{tmp_path}"]) == 2
    assert "expected a cifar10 python-format directory" in capsys.readouterr().err
    assert main(["train", str(path), "--data", "synthetic:1,16,4,64", "--epochs", "0"]) == 2  # not "the default"
    assert "epochs must be a positive integer, got 0" in capsys.readouterr().err


def test_cli_train_says_when_nothing_trained(tmp_path, capsys, monkeypatch):
    # a network with a neck is never trained: the header said "trained 0 epoch(s)" and the rate "0 images/s"
    assert main(["train", "fpn_resnet50", "--data", "synthetic:3,16,4,64", "--epochs", "1"]) == 0
    out = capsys.readouterr().out.splitlines()
    assert out[0] == "fpn_resnet50  not trained (16x16 on cpu)"
    assert out[1].endswith("(failed: the network has a neck (feature outputs), not a classifier head to train)")
    assert out[4].endswith("(no epoch completed)")
    # a run that fails inside its first epoch ran it, but completed none: "failed in epoch 1 of 2", no rate
    import nas.training.train

    monkeypatch.setattr(nas.training.train, "_check_loss", lambda window, over, plan, epoch, step: f"loss became nan at epoch {epoch} step {step}")
    path = tmp_path / "tiny.json"
    path.write_text(tiny_spec().to_json())
    assert main(["train", str(path), "--data", "synthetic:1,16,4,64", "--epochs", "2"]) == 0
    out = capsys.readouterr().out.splitlines()
    assert out[0] == f"{path}  failed in epoch 1 of 2 at 16x16 on cpu"
    # 64 images: 16 to test, 6 to validate, 58 to train on: one step of 32 an epoch
    assert out[1].endswith("(failed: loss became nan at epoch 1 step 1)") and out[4].endswith("(no epoch completed)")
