"""Normalisation settings and regularisers: every backbone against figures typed from its reference's source,
spec JSON (old specs read and digest as before), multiply, the built module, and cost (never changed)."""
import dataclasses
import json

import pytest
import torch
from torch import nn

from search_spaces import backbones
from search_spaces.cells.drop_path import drop_path
from search_spaces.counting import count
from search_spaces.errors import SpecError
from search_spaces.network import build
from search_spaces.scale import multiply
from search_spaces.settings import DropPath, Norm, without_settings
from search_spaces.spec import from_json

TV, TIMM = "torchvision 0.29.1 torchvision/models/", "timm 1.0.31 timm/models/"
# name: (BN eps, BN momentum, stochastic depth rate, head dropout, source of the figures)
REFERENCE = {
    "alexnet": (1e-5, 0.1, 0.0, 0.5, TV + "alexnet.py: dropout: float = 0.5; no BN"),
    "vgg16": (1e-5, 0.1, 0.0, 0.5, TV + "vgg.py: dropout: float = 0.5"),
    "vgg16_bn": (1e-5, 0.1, 0.0, 0.5, TV + "vgg.py: dropout 0.5; nn.BatchNorm2d(v) (defaults)"),
    "squeezenet1_0": (1e-5, 0.1, 0.0, 0.5, TV + "squeezenet.py: dropout: float = 0.5"),
    "squeezenet1_1": (1e-5, 0.1, 0.0, 0.5, TV + "squeezenet.py: dropout: float = 0.5"),
    "googlenet": (1e-3, 0.1, 0.0, 0.2, TV + "googlenet.py: nn.BatchNorm2d(out_channels, eps=0.001); dropout 0.2"),
    "googlenet_5x5": (1e-3, 0.1, 0.0, 0.2, TV + "googlenet.py, 5x5 branches (the same BasicConv2d)"),
    "inception_v3": (1e-3, 0.1, 0.0, 0.5, TV + "inception.py: nn.BatchNorm2d(out_channels, eps=0.001); dropout 0.5"),
    "inception_v4": (1e-3, 0.1, 0.0, 0.0, TIMM + "inception_v4.py: norm_eps: float = 1e-3, drop_rate: float = 0."),
    "inception_resnet_v2": (1e-3, 0.1, 0.0, 0.0, TIMM + "inception_resnet_v2.py: norm_eps: float = 1e-3, drop_rate 0."),
    "mobilenet_v2": (1e-5, 0.1, 0.0, 0.2, TV + "mobilenetv2.py: dropout: float = 0.2; norm_layer nn.BatchNorm2d"),
    "mobilenet_v3_large": (1e-3, 0.01, 0.0, 0.2,
                           TV + "mobilenetv3.py: norm_layer = partial(nn.BatchNorm2d, eps=0.001, momentum=0.01); "
                                "dropout: float = 0.2"),
    "mobilenet_v3_small": (1e-3, 0.01, 0.0, 0.2, TV + "mobilenetv3.py (as large)"),
    "mobilenet_v1": (1e-5, 0.1, 0.0, 0.0, TIMM + "efficientnet.py _gen_mobilenet_v1: resolve_bn_args (none given)"),
    "mnasnet_a1": (1e-5, 0.1, 0.0, 0.0, TIMM + "efficientnet.py _gen_mnasnet_a1: resolve_bn_args (none given)"),
    "proxylessnas_mobile": (1e-3, 0.1, 0.0, 0.0, "pytorchcv proxylessnas.py: self.set_bn_param(bn_momentum=0.1, "
                                                 "bn_eps=1e-3)"),
    "densenet121": (1e-5, 0.1, 0.0, 0.0, TV + "densenet.py: nn.BatchNorm2d defaults, classifier nn.Linear only"),
    "resnet50": (1e-5, 0.1, 0.0, 0.0, TV + "resnet.py: norm_layer = nn.BatchNorm2d; fc only"),
    "seresnet50": (1e-5, 0.1, 0.0, 0.0, TIMM + "resnet.py: drop_rate 0., drop_path_rate 0."),
    "regnetx_600mf": (1e-5, 0.1, 0.0, 0.0, TIMM + "regnet.py: drop_path_rate: float = 0."),
    "shufflenet_v2_x1_0": (1e-5, 0.1, 0.0, 0.0, TV + "shufflenetv2.py: nn.BatchNorm2d defaults, fc only"),
}
# torchvision efficientnet.py: stochastic_depth_prob: float = 0.2 (every builder), dropout 0.2 0.2 0.3 0.3 0.4 0.4
# 0.5 0.5 (kwargs.pop("dropout", ...)); B5, B6, B7: norm_layer=partial(nn.BatchNorm2d, eps=0.001, momentum=0.01)
for _i, _p in enumerate((0.2, 0.2, 0.3, 0.3, 0.4, 0.4, 0.5, 0.5)):
    REFERENCE[f"efficientnet_b{_i}"] = (1e-3 if _i >= 5 else 1e-5, 0.01 if _i >= 5 else 0.1, 0.2, _p,
                                         TV + "efficientnet.py")


def _bn_layers(module: nn.Module) -> list[nn.BatchNorm2d]:
    return [m for m in module.modules() if isinstance(m, nn.BatchNorm2d)]


@pytest.mark.parametrize("name", sorted(REFERENCE))
def test_backbone_settings_are_the_references(name):
    eps, momentum, rate, dropout, _source = REFERENCE[name]
    spec = backbones.get(name)
    assert (spec.norm.eps, spec.norm.momentum, spec.drop_path.rate) == (eps, momentum, rate)
    head = [b.args for b in spec.head if hasattr(b.args, "dropout")]
    assert head[0].dropout == dropout
    net = build(spec)
    assert {(m.eps, m.momentum) for m in _bn_layers(net)} <= {(eps, momentum)}
    drops = [m.p for m in net.modules() if isinstance(m, nn.Dropout)]
    assert drops == ([dropout] * len(drops) if dropout else [])  # no Dropout(0.0) module


def test_every_other_backbone_keeps_the_defaults():
    for name in set(backbones.names()) - set(REFERENCE):
        spec = backbones.get(name)
        assert spec.norm == Norm() and spec.drop_path == DropPath(), name


def test_efficientnet_stochastic_depth_follows_torchvision_per_block_rule():
    # torchvision efficientnet.py: sd_prob = stochastic_depth_prob * float(stage_block_id) / total_stage_blocks,
    # B0 has 16 MBConv blocks (1 + 2 + 2 + 3 + 3 + 4 + 1); only blocks with a residual connection apply it
    net = build(backbones.get("efficientnet_b0"))
    blocks = [b for s in range(1, 8) for b in getattr(net, f"s{s}").children()]
    assert len(blocks) == 16
    assert [b.drop_path for b in blocks] == [0.2 * i / 16 for i in range(16)]
    assert blocks[-1].drop_path == 0.1875 and blocks[0].drop_path == 0.0
    b7 = backbones.get("efficientnet_b7")  # the scaled network keeps the rule: 55 blocks, the last 0.2 * 54 / 55
    assert b7.drop_path == DropPath(0.2, "linear")
    last = [b for s in range(1, 8) for b in getattr(build(b7), f"s{s}").children()][-1]
    assert sum(r.repeats for st in b7.stages for r in st.blocks) == 55
    assert last.drop_path == pytest.approx(0.2 * 54 / 55)


def test_drop_path_drops_whole_samples_in_training_only():
    torch.manual_seed(0)
    x = torch.ones(4000, 3, 2, 2)
    y = drop_path(x, 0.25, training=True)
    per_sample = y.flatten(1)
    assert per_sample.unique().tolist() == [0.0, pytest.approx(1 / 0.75)]
    assert (per_sample.std(1) == 0).all()  # a sample is dropped whole
    assert abs((per_sample[:, 0] == 0).float().mean().item() - 0.25) < 0.03
    assert drop_path(x, 0.25, training=False) is x and drop_path(x, 0.0, training=True) is x


def test_stochastic_depth_changes_training_but_not_eval():
    spec = backbones.get("resnet18")
    torch.manual_seed(0)
    plain = build(dataclasses.replace(spec, resolution=32))
    deep = build(dataclasses.replace(spec, resolution=32, drop_path=DropPath(0.5, "constant")))
    deep.load_state_dict(plain.state_dict())
    x = torch.randn(8, 3, 32, 32)
    plain.eval(), deep.eval()
    assert torch.equal(plain(x), deep(x))
    plain.train(), deep.train()
    torch.manual_seed(1)
    assert not torch.allclose(plain(x), deep(x))


def test_efficientnet_trains_with_its_stochastic_depth():
    spec = dataclasses.replace(backbones.get("efficientnet_b0"), resolution=64)
    net, plain = build(spec), build(dataclasses.replace(spec, drop_path=DropPath()))
    plain.load_state_dict(net.state_dict())
    x = torch.randn(4, 3, 64, 64)
    outs = []
    for model in (net, plain):
        model.train()
        model.head.eval()  # the head's dropout aside: only the residual branches differ
        torch.manual_seed(3)
        outs.append(model(x))
    assert not torch.allclose(outs[0], outs[1])
    plain.load_state_dict(net.state_dict())  # the same running statistics again
    net.eval(), plain.eval()
    assert torch.equal(net(x), plain(x))


def test_drop_path_without_a_residual_block_is_an_error():
    with pytest.raises(SpecError, match="residual branch"):
        build(dataclasses.replace(backbones.get("vgg16"), drop_path=DropPath(0.1)))


def test_settings_never_change_the_cost():
    for name in REFERENCE:
        spec = backbones.get(name)
        assert count(spec) == count(without_settings(spec))


def test_json_round_trip_and_old_specs_read_as_defaults():
    b7 = backbones.get("efficientnet_b7")
    data = json.loads(b7.to_json())
    assert data["norm"] == {"eps": 0.001, "momentum": 0.01} and data["drop_path"] == {"rate": 0.2, "rule": "linear"}
    assert from_json(b7.to_json()) == b7 and from_json(b7.to_json()).digest() == b7.digest()
    old = json.loads(b7.to_json())
    del old["norm"], old["drop_path"]  # a spec written before the settings existed
    assert from_json(json.dumps(old)) == without_settings(b7)
    resnet = backbones.get("resnet50")  # default settings write no key: its JSON and digest are as before
    assert "norm" not in resnet.to_dict() and "drop_path" not in resnet.to_dict()
    assert without_settings(b7).digest() != b7.digest()


@pytest.mark.parametrize("key,value,message", [
    ("norm", {"eps": 0}, "norm eps must be in"),
    ("norm", {"eps": "big"}, "norm eps must be a number"),
    ("norm", {"momentum": 2}, "norm momentum must be in"),
    ("norm", {"decay": 0.9}, "spec 'norm' must be an object with keys"),
    ("norm", [0.001], "spec 'norm' must be an object"),
    ("drop_path", {"rate": 1.5}, "drop_path rate must be in"),
    ("drop_path", {"rule": "quadratic"}, "drop_path rule must be one of"),
    ("drop_path", {"rule": 3}, "drop_path rule must be a string"),
])
def test_bad_settings_are_one_line_errors(key, value, message):
    data = backbones.get("resnet18").to_dict() | {key: value}
    with pytest.raises(SpecError, match=message) as err:
        from_json(json.dumps(data))
    assert "\n" not in str(err.value)


def test_multiply_keeps_the_settings():
    b0 = backbones.get("efficientnet_b0")
    scaled = multiply(dataclasses.replace(b0, norm=Norm(1e-3, 0.01)), 1.2, 1.4, 300)
    assert scaled.norm == Norm(1e-3, 0.01) and scaled.drop_path == DropPath(0.2)
    assert multiply(backbones.get("inception_v3"), 0.5).norm == Norm(1e-3)


def test_build_sets_every_bn_layer():
    for name in ("mobilenet_v3_small", "googlenet", "efficientnet_b5"):
        eps, momentum = REFERENCE[name][:2]
        layers = _bn_layers(build(backbones.get(name)))
        assert layers and all((m.eps, m.momentum) == (eps, momentum) for m in layers)


def test_nas_backbones_shows_settings_that_differ_from_the_defaults(capsys):
    from nas.cli import main

    assert main(["backbones", "efficientnet_b7", "resnet50", "googlenet"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[1].endswith("; BN eps 0.001, BN momentum 0.01, drop path 0.2 (linear)")
    assert lines[2].endswith("torchvision 0.28 resnet50 (v1.5)")  # defaults: nothing added
    assert lines[3].endswith("; BN eps 0.001")
