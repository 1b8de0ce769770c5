"""Exactness of the basic and bottleneck residual cells over a grid of their options, and their errors."""
import dataclasses

import pytest
import torch

from search_spaces import Block, NetSpec, SpecError, Stage, build
from search_spaces.cells import get
from search_spaces.cells.generalized_attention import GeneralizedAttentionArgs as GA
from search_spaces.cells.head import ClassifierArgs
from search_spaces.cells.residual import BasicArgs, BottleneckArgs
from search_spaces.cost import Shape
from tests.exact import assert_exact_cell

GRID = [
    ("basic", BasicArgs(8), Shape(8, 9, 9)),  # identity shortcut
    ("basic", BasicArgs(16, 2), Shape(8, 9, 9)),  # strided, projected, odd size
    ("basic", BasicArgs(8, projection=True), Shape(8, 6, 7)),  # forced projection at equal shapes
    ("basic", BasicArgs(12, 1), Shape(8, 5, 5)),  # width change at stride 1 projects
    ("basic", BasicArgs(16, 2, se_channels=4, spatial_attention=True), Shape(8, 11, 10)),
    ("bottleneck", BottleneckArgs(32, 8), Shape(16, 9, 9)),
    ("bottleneck", BottleneckArgs(32, 8, 2), Shape(16, 9, 9)),  # v1.5: stride on the 3x3
    ("bottleneck", BottleneckArgs(32, 8, 2, stride_in_1x1=True), Shape(16, 9, 9)),  # v1: on the 1x1
    ("bottleneck", BottleneckArgs(32, 16, 2, groups=4), Shape(16, 10, 11)),  # ResNeXt
    ("bottleneck", BottleneckArgs(32, 8, 1), Shape(32, 7, 7)),  # identity shortcut
    ("bottleneck", BottleneckArgs(32, 8, dilation=2, projection=True), Shape(32, 7, 7)),  # DetNet B
    ("bottleneck", BottleneckArgs(32, 8, dilation=2), Shape(32, 7, 7)),  # DetNet A
    ("bottleneck", BottleneckArgs(32, 8, 3, dilation=3), Shape(16, 13, 13)),  # stride 3, dilation 3
    ("bottleneck", BottleneckArgs(32, 8, 2, se_channels=2), Shape(16, 9, 9)),  # SE-ResNet
    ("bottleneck", BottleneckArgs(24, 24, 2, groups=3, se_channels=4, se_position="mid"), Shape(16, 9, 9)),
    ("bottleneck", BottleneckArgs(32, 8, 2, spatial_attention=True), Shape(16, 9, 9)),  # CBAM spatial
    ("bottleneck", BottleneckArgs(32, 8, 2, se_channels=4, spatial_attention=True), Shape(16, 8, 8)),
    ("bottleneck", BottleneckArgs(32, 8, conv="hetconv", part=4), Shape(32, 7, 7)),  # HetConv 3x3
    ("bottleneck", BottleneckArgs(32, 8, 2, conv="hetconv", part=2, stride_in_1x1=True), Shape(16, 9, 9)),
    ("bottleneck", BottleneckArgs(32, 8, 2, conv="hetconv", part=8), Shape(16, 9, 9)),  # P = mid: 1 ch 3x3
    ("bottleneck", BottleneckArgs(16, 8, conv="hetconv", part=1), Shape(16, 5, 5)),  # P=1: plain 3x3
    # Zhu et al.'s attention after the 3x3: the released '0010', all four terms with a range and a mid SE, HetConv
    ("bottleneck", BottleneckArgs(32, 16, 2, generalized_attention=GA(8, "0010")), Shape(16, 9, 9)),
    ("bottleneck", BottleneckArgs(32, 16, se_channels=4, se_position="mid", generalized_attention=GA(
        2, "1111", spatial_range=1)), Shape(32, 7, 7)),
    ("bottleneck", BottleneckArgs(32, 16, conv="hetconv", part=4, generalized_attention=GA(4, "0101", 1, 2)),
     Shape(32, 7, 7)),
]


@pytest.mark.parametrize("name,args,shape", GRID, ids=[f"{g[0]}-{i}" for i, g in enumerate(GRID)])
def test_cell_cost_is_exact(name, args, shape):
    assert_exact_cell(name, args, shape)


def test_copies_reset_stride_and_projection():
    first = BottleneckArgs(64, 16, 2, projection=True, se_channels=4)
    assert get("bottleneck").repeat(first) == BottleneckArgs(64, 16, 1, se_channels=4)
    assert get("basic").repeat(BasicArgs(8, 2, projection=True)) == BasicArgs(8, 1)


def test_repeated_row_builds_identity_shortcuts_and_runs():
    row = Block("bottleneck", BottleneckArgs(32, 8, 2, dilation=2, projection=True), 3)
    spec = NetSpec((), (Stage((row,)),), (Block("classifier", ClassifierArgs()),), resolution=16, in_channels=8)
    net = build(spec).eval()
    assert isinstance(net.s1.b2.shortcut, torch.nn.Identity)
    assert not isinstance(net.s1.b1.shortcut, torch.nn.Identity)
    with torch.no_grad():
        out = net(torch.randn(2, 8, 16, 16))
    assert out.shape == (2, 1000) and torch.isfinite(out).all()


@pytest.mark.parametrize("make,message", [
    (lambda: BottleneckArgs(32, 10, groups=4), "bottleneck groups=4 must divide mid_channels=10"),
    (lambda: BottleneckArgs(32, 8, se_position="first"), "bottleneck se_position must be one of"),
    (lambda: BottleneckArgs(32, 8, conv="hetconv", part=3), "bottleneck part=3 must divide mid_channels=8"),
    (lambda: BottleneckArgs(32, 8, part=4), "bottleneck part=4 needs conv='hetconv'"),
    (lambda: BottleneckArgs(32, 8, groups=2, conv="hetconv", part=2), "bottleneck hetconv needs groups=1"),
    (lambda: BottleneckArgs(32, 8, projection=1), "bottleneck projection must be True, False or None, got 1"),
    (lambda: BottleneckArgs(32, 8, stride_in_1x1=None), "bottleneck stride_in_1x1 must be True or False"),
    (lambda: BottleneckArgs(32, 0), "bottleneck mid_channels must be in [1, 65536], got 0"),
    (lambda: BottleneckArgs(32, 8, se_channels=-1), "bottleneck se_channels must be in [0, 65536], got -1"),
    (lambda: BottleneckArgs(32, 8, dilation=0), "bottleneck dilation must be in [1, 16], got 0"),
    (lambda: BasicArgs(8, stride=0), "basic stride must be in [1, 8], got 0"),
    (lambda: BasicArgs(8, spatial_attention="yes"), "basic spatial_attention must be True or False"),
])
def test_invalid_arguments_raise_one_line_errors(make, message):
    with pytest.raises(SpecError, match=message.replace("[", r"\[").replace("(", r"\(")):
        make()


def test_identity_shortcut_needs_equal_shapes():
    cost = get("bottleneck").cost
    with pytest.raises(SpecError, match="bottleneck without projection needs equal shapes"):
        cost(BottleneckArgs(32, 8, 2, projection=False), Shape(32, 8, 8))
    with pytest.raises(SpecError, match="basic without projection needs equal shapes"):
        get("basic").cost(BasicArgs(16, projection=False), Shape(8, 8, 8))


def test_json_round_trip_keeps_options():
    args = BottleneckArgs(64, 32, 2, groups=4, projection=True, se_channels=8, se_position="mid",
                          spatial_attention=True)
    spec = NetSpec((), (Stage((Block("bottleneck", args, 2),)),), (Block("classifier", ClassifierArgs()),),
                   resolution=16, in_channels=16)
    from search_spaces import from_json

    assert from_json(spec.to_json()) == spec
    assert dataclasses.asdict(from_json(spec.to_json()).stages[0].blocks[0].args)["projection"] is True


def test_generalized_attention_sits_after_the_3x3_and_is_json_only_when_set():
    # mmdetection ResNet Bottleneck.forward: conv2, norm2, relu, then the after_conv2 plugins, then conv3
    args = BottleneckArgs(64, 16, 2, generalized_attention=GA(8, "0010"))
    body = get("bottleneck").build(args, 32).body
    assert list(body._modules) == ["conv1", "conv2", "ga", "conv3"]
    spec = NetSpec((), (Stage((Block("bottleneck", args, 2),)),), (Block("classifier", ClassifierArgs()),),
                   resolution=16, in_channels=32)
    from search_spaces import from_json

    assert from_json(spec.to_json()) == spec
    assert from_json(spec.to_json()).stages[0].blocks[0].args.generalized_attention == GA(8, "0010")
    from search_spaces import backbones
    from search_spaces.spec import _block_to_dict

    assert "generalized_attention" not in _block_to_dict(Block("bottleneck", BottleneckArgs(64, 16, 2)))["args"]
    # so specs written before the field existed read and digest as before: resnet50's digest at commit 1ae0b71
    assert backbones.get("resnet50").digest() == "434e3083c2e815c4a5a14923d96739a84b0473c6086858bd4c35d398d9e12e39"


@pytest.mark.parametrize("change,message", [
    ({"pattern": "0011x"}, "generalized_attention pattern must be four 0/1 characters"),
    ({"heads": "8"}, "bottleneck generalized_attention heads must be int"),
    ({"kv": 2}, r"unknown argument\(s\) \['kv'\] for cell bottleneck generalized_attention"),
])
def test_bad_nested_attention_json_is_one_line(change, message):
    from search_spaces import from_json

    args = BottleneckArgs(64, 16, generalized_attention=GA(8, "0010"))
    data = NetSpec((), (Stage((Block("bottleneck", args),)),), (Block("classifier", ClassifierArgs()),),
                   resolution=16, in_channels=64).to_dict()
    data["stages"][0][0]["args"]["generalized_attention"].update(change)
    import json

    with pytest.raises(SpecError, match=message):
        from_json(json.dumps(data))


def test_widen_keeps_group_width_and_se_fractions():
    widen = get("bottleneck").widen
    resnext = BottleneckArgs(256, 128, groups=32)
    assert widen(resnext, 0.5, 64, 32) == BottleneckArgs(128, 64, groups=16)  # group width 4 kept
    regnety = BottleneckArgs(112, 112, 2, groups=7, se_channels=12, se_position="mid")  # input 48
    assert widen(regnety, 1.0, 48, 112).se_channels == 28  # the copies: round(112 / 4)
    seresnet = BottleneckArgs(512, 128, se_channels=32)
    assert widen(seresnet, 0.5, 256, 128).se_channels == 16  # out / 16
    assert widen(BottleneckArgs(64, 16, conv="hetconv", part=4), 1.0, 32, 64).mid_channels == 16
    assert get("basic").widen(BasicArgs(64), 0.5, 64, 32) == BasicArgs(32)  # no SE stays no SE
    assert get("basic").widen(BasicArgs(64, se_channels=4), 2.0, 64, 128).se_channels == 8
