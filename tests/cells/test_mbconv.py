"""Exactness of the mobile cells (mbconv, dsconv, ant, conv_head) over a grid, and their error messages."""
import pytest
import torch

from search_spaces.cells import get
from search_spaces.cells.conv import ConvArgs
from search_spaces.cells.head import ClassifierArgs
from search_spaces.cells.mbconv import AntArgs, ConvHeadArgs, DSConvArgs, MBConvArgs
from search_spaces.cost import Shape
from search_spaces.errors import SpecError
from search_spaces.spec import Block, NetSpec, Stage
from tests.exact import assert_exact_cell, assert_exact_network

GRID = [
    ("mbconv", MBConvArgs(16, 16, 3, 1), Shape(16, 9, 9)),  # expand ratio 1: no expansion conv, residual
    ("mbconv", MBConvArgs(24, 96, 3, 2), Shape(16, 11, 11)),  # MobileNetV2 stride 2, odd size
    ("mbconv", MBConvArgs(24, 144, 5, 1, "silu", 6, "silu"), Shape(24, 8, 8)),  # EfficientNet with SE
    ("mbconv", MBConvArgs(16, 32, 3, 1, "silu", 8, "silu"), Shape(32, 7, 7)),  # B0's first: no expand, SE
    ("mbconv", MBConvArgs(40, 72, 5, 2, "relu", 24, "relu", "hardsigmoid"), Shape(24, 13, 13)),  # V3 SE
    ("mbconv", MBConvArgs(80, 184, 3, 1, "hardswish"), Shape(80, 5, 5)),  # V3 ratio 2.3
    ("mbconv", MBConvArgs(96, 288, 7, 2, "relu6"), Shape(48, 6, 7)),  # kernel 7, even and unequal sides
    ("mbconv", MBConvArgs(12, 12, 3, 1, residual=False), Shape(12, 4, 4)),  # timm noskip
    ("mbconv", MBConvArgs(8, 20, 3, 2, se_channels=1), Shape(5, 3, 3)),  # odd widths, SE of 1
    ("dsconv", DSConvArgs(64, 3, 1), Shape(32, 9, 9)),
    ("dsconv", DSConvArgs(128, 3, 2, "relu6"), Shape(64, 15, 15)),
    ("dsconv", DSConvArgs(10, 5, 2, "hardswish"), Shape(6, 8, 7)),
    ("ant", AntArgs(16, 32, 4, 3, 1, 1, "relu6", norm=False), Shape(32, 9, 9)),  # ANTNet stage 1
    ("ant", AntArgs(24, 96, 12, 3, 2, 2, "relu6", norm=False), Shape(16, 11, 11)),  # grouped projection
    ("ant", AntArgs(24, 144, 18, 3, 1, 2), Shape(24, 6, 6)),  # with BN, residual
    ("ant", AntArgs(30, 60, 1, 5, 2, 3, "silu"), Shape(10, 7, 7)),  # g=3, kernel 5, attention of 1
]


@pytest.mark.parametrize("name,args,shape", GRID, ids=[f"{g[0]}-{i}" for i, g in enumerate(GRID)])
def test_cell_cost_is_exact(name, args, shape):
    assert_exact_cell(name, args, shape)


@pytest.mark.parametrize("args", [ConvHeadArgs(40, "hardswish"), ConvHeadArgs(24, "none", norm=False)])
def test_conv_head_is_exact_in_a_network(args):
    # conv_head is a head cell that outputs a feature map (the harness's head check wants logits),
    # so it is checked inside a small network, before the classifier.
    stem = (Block("conv", ConvArgs(16, 3, 2)),)
    head = (Block("conv_head", args), Block("classifier", ClassifierArgs()))
    spec = NetSpec(stem=stem, stages=(Stage((Block("mbconv", MBConvArgs(16, 32)),)),), head=head, resolution=13)
    assert_exact_network(spec)


def test_expansion_conv_exists_iff_mid_differs_from_input():
    cell = get("mbconv")
    assert isinstance(cell.build(MBConvArgs(16, 32), 32).expand, torch.nn.Identity)
    assert isinstance(cell.build(MBConvArgs(16, 32), 16).expand, torch.nn.Sequential)
    assert isinstance(get("ant").build(AntArgs(16, 32, 4), 32).expand, torch.nn.Sequential)  # ANTNet always expands


def test_residual_only_when_shapes_allow():
    cell = get("mbconv")
    assert cell.build(MBConvArgs(16, 64), 16).shortcut
    assert not cell.build(MBConvArgs(16, 64, stride=2), 16).shortcut
    assert not cell.build(MBConvArgs(24, 64), 16).shortcut
    assert not cell.build(MBConvArgs(16, 64, residual=False), 16).shortcut


def test_forward_adds_the_identity():
    block = get("mbconv").build(MBConvArgs(4, 8), 4).eval()
    for p in block.project.parameters():  # zero the projection's BN: the block becomes the identity
        torch.nn.init.zeros_(p)
    x = torch.randn(2, 4, 5, 5)
    assert torch.equal(block(x), x)


@pytest.mark.parametrize("make,message", [
    (lambda: MBConvArgs(16, 32, kernel_size=4), "mbconv kernel_size must be odd, got 4"),
    (lambda: MBConvArgs(16, 32, stride=3), "mbconv stride must be in [1, 2], got 3"),
    (lambda: MBConvArgs(0, 32), "mbconv out_channels must be in [1, 65536], got 0"),
    (lambda: MBConvArgs(16, 32.0), "mbconv mid_channels must be an integer, got 32.0"),
    (lambda: MBConvArgs(16, 32, activation="gelu"), "mbconv activation must be one of"),
    (lambda: MBConvArgs(16, 32, se_channels=-1), "mbconv se_channels must be in [0, 65536], got -1"),
    (lambda: MBConvArgs(16, 32, se_gate="relu"), "mbconv se_gate must be one of 'sigmoid', 'hardsigmoid'"),
    (lambda: MBConvArgs(16, 32, residual=1), "mbconv residual must be a bool, got 1"),
    (lambda: DSConvArgs(16, kernel_size=2), "dsconv kernel_size must be odd, got 2"),
    (lambda: DSConvArgs(16, activation="sigmoid"), "dsconv activation must be one of"),
    (lambda: AntArgs(16, 30, 4, groups=4), "ant groups=4 must divide mid_channels=30"),
    (lambda: AntArgs(18, 32, 4, groups=4), "ant groups=4 must divide out_channels=18"),
    (lambda: AntArgs(16, 32, 0), "ant attention_channels must be in [1, 65536], got 0"),
    (lambda: AntArgs(16, 32, 4, norm="yes"), "ant norm must be a bool, got 'yes'"),
    (lambda: ConvHeadArgs(0), "conv_head out_channels must be in [1, 65536], got 0"),
    (lambda: ConvHeadArgs(16, "gelu"), "conv_head activation must be one of"),
])
def test_bad_arguments_are_one_line_errors(make, message):
    with pytest.raises(SpecError) as err:
        make()
    assert str(err.value).startswith(message)
    assert "\n" not in str(err.value)
