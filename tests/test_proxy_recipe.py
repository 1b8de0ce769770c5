"""The proxy recipe's rules: residual branches start at zero, norm-free networks take a lower learning rate,
an early loss spike is tolerated while a lasting divergence still ends the run; and what they read off a
network (its residual blocks, its longest norm-free run of weight layers)."""
from __future__ import annotations

import dataclasses
import math

import pytest
import torch
from torch import nn

from nas.training.train import PROXY, ConfigError, TrainConfig, _check_loss, _Plan, peak_lr
from search_spaces import backbones
from search_spaces.cells.fire import Fire, FireArgs
from search_spaces.cells.head import ConvClassifierArgs
from search_spaces.network import build, unnormed_run, zero_init_last


def small(name: str):
    """A named backbone at 32 px and 10 classes (cheap to build and run)."""
    return dataclasses.replace(backbones.get(name), resolution=64, num_classes=10)


@pytest.mark.parametrize("name, blocks", [("resnet18", 8), ("resnet50", 16), ("mobilenet_v2", 17), ("vgg16", 0)])
def test_zero_init_last_finds_every_residual_block(name, blocks):
    # resnet18: 2+2+2+2 basic blocks; resnet50: 3+4+6+3 bottlenecks; mobilenet_v2: its 17 inverted
    # residual blocks (those without an identity shortcut have the method and leave themselves alone)
    assert zero_init_last(build(small(name))) == blocks


def test_zero_init_last_starts_each_residual_block_as_its_shortcut():
    model = build(small("resnet50"))
    zero_init_last(model)
    block = model.s1[1]  # a stride-1 bottleneck with an identity shortcut
    x = torch.randn(2, 256, 8, 8)
    assert torch.equal(block.eval()(x), torch.relu(x))
    mb = build(small("mobilenet_v2"))
    zero_init_last(mb)
    inverted = next(m for m in mb.modules() if getattr(m, "shortcut", False) is True)
    y = torch.randn(2, inverted.project.conv.out_channels, 4, 4)
    assert torch.equal(inverted.eval()(y), y)


def test_fire_bypass_adds_the_input_where_widths_agree_and_starts_as_identity():
    fire = Fire(128, FireArgs(16, 64, 64, norm=True, bypass=True))
    zero_init_last(fire)
    x = torch.randn(2, 128, 5, 5)
    assert torch.equal(fire.train()(x), x)
    assert not Fire(96, FireArgs(16, 64, 64, norm=True, bypass=True)).bypass  # 96 in, 128 out: no bypass


def test_new_optional_arguments_leave_recorded_specs_as_they_were():
    # SqueezeNet's JSON (and so its digest) does not mention the fire norm, bypass or head activation
    text = backbones.get("squeezenet1_1").to_json()
    assert "bypass" not in text and '"norm"' not in text.split('"fire"', 1)[1] and "activation" not in text.split(
        "conv_classifier")[1]
    assert ConvClassifierArgs().activation == "relu"


def test_conv_classifier_without_relu_and_its_small_init():
    spec = small("squeezenet1_1")
    relu = build(spec)
    plain = build(dataclasses.replace(spec, head=(dataclasses.replace(
        spec.head[0], args=ConvClassifierArgs(0.5, "none")),)))
    assert isinstance(relu.head[0].act, nn.ReLU) and not hasattr(plain.head[0], "act")
    conv = plain.head[0].conv  # torchvision's SqueezeNet: normal(0, 0.01), zero bias
    assert conv.weight.std().item() < 0.015 and torch.count_nonzero(conv.bias) == 0


@pytest.mark.parametrize("name, run", [
    ("vgg16", 16),  # 13 convs and 3 linear layers, no norm anywhere
    ("vgg16_bn", 3),  # a BN after each conv: the three linear layers of the head are the longest run
    ("alexnet", 8),  # 5 convs, 3 linear layers
    ("mobilenet_v2", 1),  # a BN after every conv; the classifier alone
    ("squeezenet1_0", 26),  # stem conv, 8 fire modules of three convs (side by side expands count as two), head conv
])
def test_unnormed_run(name, run):
    assert unnormed_run(build(small(name))) == run


def test_peak_lr_reads_the_network_not_its_name():
    assert peak_lr(build(small("vgg16")), PROXY) == pytest.approx(PROXY.lr * PROXY.unnormed_lr_scale)
    assert peak_lr(build(small("vgg16_bn")), PROXY) == PROXY.lr
    assert peak_lr(build(small("vgg16")), dataclasses.replace(PROXY, max_unnormed_run=16)) == PROXY.lr
    with pytest.raises(ConfigError, match="unnormed_lr_scale"):
        TrainConfig(unnormed_lr_scale=0.0)


def test_divergence_check_tolerates_a_spike_but_ends_a_lasting_divergence():
    plan = _Plan(32, 100, 200, 30, limit=9.2, patience=3, lr=0.05)
    assert _check_loss(12.0, 0, plan, 1, 10) is None  # first check past the limit: a spike
    assert _check_loss(12.0, 1, plan, 1, 20) is None
    assert "diverged to 12 (limit 9.2) at epoch 1 step 30" in _check_loss(12.0, 2, plan, 1, 30)
    assert "loss became nan" in _check_loss(math.nan, 0, plan, 1, 10)  # NaN ends a run at once
    strict = dataclasses.replace(plan, patience=1)
    assert _check_loss(12.0, 0, strict, 1, 10) is not None
