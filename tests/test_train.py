"""Proxy training: schedule, decay groups, learning, reproducibility, early stop and failures as data."""
import math

import pytest
import torch

from nas.training.data import DataSource, load
from nas.training.evaluate import adapt
from nas.training.train import TrainConfig, fit, lr_at, param_groups
from search_spaces.cells.conv import ConvArgs
from search_spaces.cells.head import ClassifierArgs
from search_spaces.network import build
from search_spaces.spec import Block, NetSpec, Stage

FAST = TrainConfig(epochs=3, batch_size=32, lr=0.2, threads=1)


def tiny_spec(width: int = 8, activation: str = "relu") -> NetSpec:
    """Three small convs (16 -> 8 -> 4 at 16x16) and a linear classifier."""
    act = activation
    return NetSpec(
        stem=(Block("conv", ConvArgs(width, 3, 1, activation=act)),),
        stages=(Stage((Block("conv", ConvArgs(2 * width, 3, 2, activation=act)),)),
                Stage((Block("conv", ConvArgs(2 * width, 3, 2, activation=act)),))),
        head=(Block("classifier", ClassifierArgs(dropout=0.0)),),
        resolution=224,
    )


@pytest.fixture(scope="module")
def digits():
    return load(DataSource("digits", resolution=16))


def _model(data, seed=0):
    torch.manual_seed(seed)
    return build(adapt(tiny_spec(), data))


def test_lr_warms_up_then_decays_to_zero():
    assert lr_at(0, 100, 10, 1.0, "onecycle") == pytest.approx(0.1)
    assert lr_at(9, 100, 10, 1.0, "onecycle") == pytest.approx(1.0)
    assert lr_at(99, 100, 10, 1.0, "onecycle") == pytest.approx(0.0)
    assert lr_at(54, 100, 10, 1.0, "onecycle") == pytest.approx(0.5)
    assert lr_at(54, 100, 10, 1.0, "cosine") == pytest.approx(0.5)
    assert lr_at(34, 110, 10, 1.0, "cosine") == pytest.approx(0.5 * (1 + math.cos(math.pi * 0.25)))
    assert lr_at(0, 10, 0, 1.0, "cosine") < 1.0  # no warm-up: decay from the first step


def test_norms_and_biases_are_not_decayed(digits):
    model = _model(digits)
    decay, no_decay = param_groups(model, 5e-4)
    assert decay["weight_decay"] == 5e-4 and no_decay["weight_decay"] == 0.0
    assert all(p.ndim > 1 for p in decay["params"])  # conv and linear weights
    bn = [m for m in model.modules() if isinstance(m, torch.nn.BatchNorm2d)]
    ids = {id(p) for p in no_decay["params"]}
    assert all(id(m.weight) in ids and id(m.bias) in ids for m in bn)
    assert sum(p.numel() for g in (decay, no_decay) for p in g["params"]) == sum(p.numel() for p in model.parameters())


def test_learns_well_above_chance_and_reports_each_epoch(digits):
    seen = []
    result = fit(_model(digits), digits, FAST, seen.append)
    assert result.failure is None and result.epochs_run == 3 and [r.epoch for r in seen] == [1, 2, 3]
    assert result.accuracy == seen[-1].val_accuracy and result.accuracy > 0.5  # chance is 0.1
    assert result.images_per_second > 0 and result.train_seconds == pytest.approx(sum(r.seconds for r in seen))


def test_seeded_cpu_runs_are_identical(digits):
    torch.set_num_threads(1)
    one, two = _model(digits), _model(digits)
    first, second = fit(one, digits, FAST), fit(two, digits, FAST)
    assert [(r.train_loss, r.val_accuracy) for r in first.history] == [(r.train_loss, r.val_accuracy) for r in second.history]
    assert all(torch.equal(a, b) for a, b in zip(one.state_dict().values(), two.state_dict().values()))


def test_callback_stops_early(digits):
    config = TrainConfig(epochs=5, batch_size=64, threads=1)
    result = fit(_model(digits), digits, config, lambda report: report.epoch == 1)
    assert result.stopped_early and result.epochs_run == 1 and len(result.history) == 1


def test_diverging_loss_is_a_failure_reason_not_an_exception(digits):
    config = TrainConfig(epochs=2, lr=1e6, warmup_epochs=0, threads=1, check_every=2)
    result = fit(_model(digits), digits, config)
    assert result.accuracy is None and result.epochs_run == 1
    assert result.failure.startswith(("loss became nan", "loss became inf", "loss diverged"))


def test_a_network_whose_output_died_is_a_failure_not_a_result(digits):
    # SqueezeNet's head: a 1x1 conv to the classes, then ReLU, then the pool. With every pre-activation
    # negative the ReLU outputs zeros for every image, no gradient passes it, and the accuracy would be one
    # class's share of the test split.
    from search_spaces.cells.head import ConvClassifierArgs

    spec = NetSpec(stem=tiny_spec().stem, stages=tiny_spec().stages,
                   head=(Block("conv_classifier", ConvClassifierArgs(dropout=0.0)),), resolution=224)
    torch.manual_seed(0)
    model = build(adapt(spec, digits))
    torch.nn.init.constant_(model.head.b1.conv.bias, -100.0)
    result = fit(model, digits, FAST)
    assert result.accuracy is None and result.epochs_run == 1 and len(result.history) == 1
    assert result.failure.startswith("the network gives every validation image the same output after epoch 1")
    # a network that learns is never flagged
    assert fit(_model(digits), digits, FAST).failure is None
