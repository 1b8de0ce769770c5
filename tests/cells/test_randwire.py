"""Exactness of the randwire stage cell over small literal and generated graphs, and its errors."""
import re

import pytest
import torch

from search_spaces.cells.randwire import RandWireArgs, RandWireStage
from search_spaces.cost import Shape
from search_spaces.errors import SpecError
from search_spaces.graphs import ba, er, ws
from tests.exact import assert_exact_cell


def _args(dag, out_channels, stride=2):
    return RandWireArgs(dag.nodes, dag.edges, out_channels, stride)


GRID = [
    ("randwire", RandWireArgs(1, (), 8, 2), Shape(4, 9, 9)),  # one node: input and output at once
    ("randwire", RandWireArgs(3, ((0, 1), (1, 2)), 8, 1), Shape(8, 6, 6)),  # a chain, stride 1
    # two inputs and two outputs, odd sizes
    ("randwire", RandWireArgs(4, ((0, 2), (1, 2), (0, 3)), 12, 2), Shape(6, 11, 10)),
    ("randwire", RandWireArgs(4, ((0, 1), (0, 2), (0, 3), (1, 3), (2, 3)), 6, 3), Shape(6, 13, 13)),  # diamond, stride 3
    ("randwire", _args(ws(16, 4, 0.75, 1), 16), Shape(8, 15, 15)),
    ("randwire", _args(ws(32, 4, 0.75, 2), 10, 1), Shape(10, 7, 7)),
    ("randwire", _args(er(12, 0.3, 3), 8), Shape(3, 8, 8)),
    ("randwire", _args(ba(12, 2, 4), 8), Shape(16, 5, 7)),
]


@pytest.mark.parametrize("name,args,shape", GRID, ids=[f"{g[0]}-{i}" for i, g in enumerate(GRID)])
def test_cell_cost_is_exact(name, args, shape):
    assert_exact_cell(name, args, shape)


def test_forward_is_the_weighted_graph():
    # Chain 0 -> 1 plus 0 -> 2 and 1 -> 2: node 2 = op2(s(w0)*n0 + s(w2)*n1); output nodes: only 2.
    torch.manual_seed(0)
    stage = RandWireStage(RandWireArgs(3, ((0, 1), (0, 2), (1, 2)), 4, 1), 4).eval()
    with torch.no_grad():
        stage.edge_weight.copy_(torch.tensor([0.3, -1.0, 2.0]))
    x = torch.randn(2, 4, 5, 5)
    g = torch.sigmoid(stage.edge_weight.detach())
    with torch.no_grad():
        n0 = stage.nodes[0](x)
        n1 = stage.nodes[1](g[0] * n0)
        expected = stage.nodes[2](g[1] * n0 + g[2] * n1)
        assert torch.allclose(stage(x), expected)


def test_output_is_the_mean_of_output_nodes():
    torch.manual_seed(0)
    stage = RandWireStage(RandWireArgs(3, ((0, 1),), 4, 1), 4).eval()  # outputs: nodes 1 and 2
    x = torch.randn(2, 4, 5, 5)
    with torch.no_grad():
        n0 = stage.nodes[0](x)
        expected = (stage.nodes[1](0.5 * n0) + stage.nodes[2](x)) / 2
        assert torch.allclose(stage(x), expected)


def test_one_weight_per_edge_and_input_nodes_take_the_stride():
    dag = ws(16, 4, 0.75, 0)
    stage = RandWireStage(_args(dag, 8), 4)
    assert stage.edge_weight.numel() == len(dag.edges)
    for n in range(dag.nodes):
        conv = stage.nodes[n].dw.conv
        assert conv.stride == ((2, 2) if n in dag.inputs() else (1, 1))
        assert conv.in_channels == (4 if n in dag.inputs() else 8)


ERRORS = [
    (lambda: RandWireArgs(3, ((0, 1),), 0), "randwire out_channels must be in [1, 65536], got 0"),
    (lambda: RandWireArgs(3, ((0, 1),), 8, 5), "randwire stride must be in [1, 4], got 5"),
    (lambda: RandWireArgs(3, ((1, 0),), 8), "graph edge (1, 0) runs from a higher to a lower index"),
    (lambda: RandWireArgs(2, ((0, 2),), 8), "graph edge (0, 2) names a node outside 0..1"),
    (lambda: RandWireArgs(3, [(0, 1)], 8), "graph edges must be a tuple of (u, v) pairs, got list"),
]


@pytest.mark.parametrize("make,message", ERRORS)
def test_bad_arguments(make, message):
    with pytest.raises(SpecError, match=re.escape(message)):
        make()
