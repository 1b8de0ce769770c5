"""Exactness of the HetConv layer: PyTorch counts N * (9 M/P + M - M/P) * H * W multiply-adds."""
import pytest
import torch

from search_spaces import SpecError
from search_spaces.cells import get
from search_spaces.cells.hetconv import HetConv2d, HetConvArgs, hetconv_cost
from search_spaces.cost import Shape
from tests.exact import assert_exact_cell, torch_count

GRID = [
    ("hetconv", HetConvArgs(16, 4), Shape(8, 9, 9)),
    ("hetconv", HetConvArgs(16, 4, 2), Shape(8, 9, 9)),  # strided, odd size
    ("hetconv", HetConvArgs(12, 2, 2, activation="none"), Shape(6, 10, 7)),
    ("hetconv", HetConvArgs(8, 1), Shape(8, 5, 5)),  # P=1: a plain 3x3 conv
    ("hetconv", HetConvArgs(8, 8, 3, activation="silu"), Shape(16, 11, 11)),  # P=8, stride 3
    ("hetconv", HetConvArgs(6, 3), Shape(9, 4, 4)),  # odd part
]


@pytest.mark.parametrize("name,args,shape", GRID, ids=[f"{g[0]}-{i}" for i, g in enumerate(GRID)])
def test_cell_cost_is_exact(name, args, shape):
    assert_exact_cell(name, args, shape)


@pytest.mark.parametrize("m,n,p,size", [(64, 64, 4, 56), (256, 128, 2, 14), (32, 64, 32, 7), (48, 48, 1, 8)])
def test_multiply_adds_follow_the_paper_formula(m, n, p, size):
    # Singh et al. 2019, eq. for HetConv: N * (9 * M/P + (M - M/P)) * H * W per image (stride 1)
    formula = n * (9 * m // p + m - m // p) * size * size
    cost, _ = hetconv_cost(Shape(m, size, size), n, p)
    assert cost.macs == formula
    with torch.device("meta"):
        flops, params, _ = torch_count(HetConv2d(m, n, p), torch.empty(1, m, size, size))
    assert flops == 2 * formula
    assert params == n * (9 * m // p + m - m // p)


def test_each_filter_sees_every_input_channel_once():
    # with all-ones weights and an input that is one on channel c only, every output channel must respond
    # (through its 3x3 on its own group, or its 1x1 on the other groups) and by the same total weight
    torch.manual_seed(0)
    layer = HetConv2d(8, 8, 4)
    torch.nn.init.ones_(layer.conv3x3.weight)
    torch.nn.init.ones_(layer.conv1x1.weight)
    for c in range(8):
        x = torch.zeros(1, 8, 5, 5)
        x[0, c, 2, 2] = 1.0
        with torch.no_grad():
            y = layer(x)
        assert torch.all(y.sum(dim=(2, 3)) > 0), c  # every filter touches channel c
        own = c // 2  # output group whose 3x3 covers channel c: 9 taps, others: 1 tap
        totals = y.sum(dim=(2, 3))[0]
        assert torch.all(totals[own * 2:own * 2 + 2] == 9)
        assert int((totals == 1).sum()) == 6


def test_errors():
    with pytest.raises(SpecError, match="hetconv part=4 must divide out_channels=6"):
        HetConvArgs(6, 4)
    with pytest.raises(SpecError, match=r"hetconv part must be in \[1, 64\], got 0"):
        HetConvArgs(8, 0)
    with pytest.raises(SpecError, match="hetconv part=4 must divide in_channels=6"):
        get("hetconv").cost(HetConvArgs(8, 4), Shape(6, 5, 5))
    with pytest.raises(SpecError, match="hetconv activation must be one of"):
        HetConvArgs(8, 4, activation="gelu")
