"""Exactness of the conv, pooling and head cells over a grid of their arguments."""
import pytest

from search_spaces.cells.conv import BnActArgs, ConvArgs, PoolArgs
from search_spaces.cells.head import ClassifierArgs, ConvClassifierArgs
from search_spaces.cost import Shape
from tests.exact import assert_exact_cell

GRID = [
    ("conv", ConvArgs(16, 3, 1), Shape(8, 9, 9)),
    ("conv", ConvArgs(24, 3, 2, groups=4), Shape(8, 11, 10)),
    ("conv", ConvArgs(64, 11, 4, padding=2, bias=True, norm=False), Shape(3, 67, 67)),  # AlexNet conv1
    ("conv", ConvArgs(12, (1, 7), 1), Shape(6, 8, 8)),  # factorised 1x7
    ("conv", ConvArgs(12, (7, 1), 1, activation="none"), Shape(6, 8, 8)),
    ("conv", ConvArgs(8, 3, 1, dilation=2, activation="silu"), Shape(8, 9, 9)),
    ("conv", ConvArgs(8, 3, 2, padding=0, groups=8, activation="hardswish"), Shape(8, 13, 13)),
    ("conv", ConvArgs(5, 1, 1, bias=True, norm=False, activation="relu6"), Shape(7, 3, 5)),
    ("bn_act", BnActArgs(), Shape(8, 5, 5)),
    ("maxpool", PoolArgs(3, 2, 0, ceil_mode=True), Shape(4, 112, 112)),  # GoogLeNet: 112 -> 56
    ("maxpool", PoolArgs(3, 2, 1), Shape(4, 15, 15)),
    ("avgpool", PoolArgs(2, 2), Shape(4, 7, 7)),
    ("avgpool", PoolArgs(3, 1, 1), Shape(4, 6, 6)),
    ("classifier", ClassifierArgs(), Shape(32, 7, 7)),
    ("classifier", ClassifierArgs(pool_size=7, hidden=(40, 30), dropout=0.5), Shape(16, 7, 7)),
    ("classifier", ClassifierArgs(hidden=(24,), activation="hardswish", dropout=0.2), Shape(16, 3, 3)),
    ("classifier", ClassifierArgs(bias=False), Shape(16, 1, 1)),
    ("conv_classifier", ConvClassifierArgs(), Shape(32, 13, 13)),
]


@pytest.mark.parametrize("name,args,shape", GRID, ids=[f"{g[0]}-{i}" for i, g in enumerate(GRID)])
def test_cell_cost_is_exact(name, args, shape):
    assert_exact_cell(name, args, shape)


def test_ceil_mode_pool_shape_matches_googlenet():
    # torchvision GoogLeNet: 224 -> conv 7x7/2 -> 112 -> maxpool 3/2 ceil -> 56 -> ... -> 28 -> 14 -> 7
    from search_spaces.cost import pool2d

    assert pool2d(Shape(1, 112, 112), 3, 2, 0, True).h == 56
    assert pool2d(Shape(1, 14, 14), 2, 2, 0, True).h == 7
    assert pool2d(Shape(1, 55, 55), 3, 2, 0, True).h == 27  # SqueezeNet 1.0 after conv1 at 224
