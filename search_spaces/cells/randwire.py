"""RandWire: a whole randomly wired stage as one cell (Xie, Kirillov, Girshick, He 2019).

The stage is a DAG (`search_spaces.graphs.Dag`) stored in the arguments as (nodes, edges). Every node
aggregates its inputs by a weighted sum with learnable weights squashed by a sigmoid (one weight per edge),
then transforms the sum by ReLU, 3x3 depthwise conv, 1x1 pointwise conv and BN. Input nodes (in-degree 0)
take the stage input instead, applying the stage stride and changing the width; the stage output is the
plain mean of the output nodes (out-degree 0). The paper's extra unique input and output nodes do no
convolution, so they are not nodes here. Sums are elementwise, so FlopCounterMode counts only the convs.
"""
from __future__ import annotations

from collections import OrderedDict
from dataclasses import dataclass

import torch
from torch import Tensor, nn

from search_spaces.cells.base import Cell
from search_spaces.cells.conv import conv_bn_act, conv_bn_act_cost
from search_spaces.cost import Cost, Shape
from search_spaces.errors import check_int
from search_spaces.graphs import Dag, Edge


@dataclass(frozen=True)
class RandWireArgs:
    """A random stage: the DAG (nodes 0..nodes-1, edges low to high), its width and its input stride."""

    nodes: int  # N in the paper (32, or 16 for the regular regime's first random stage)
    edges: tuple[Edge, ...]  # the recorded edge list, e.g. from graphs.ws(nodes, 4, 0.75, seed)
    out_channels: int
    stride: int = 2  # applied by the input nodes

    def __post_init__(self) -> None:
        check_int("randwire", "out_channels", self.out_channels)
        check_int("randwire", "stride", self.stride, 1, 4)
        self.dag()  # validates nodes and edges

    def dag(self) -> Dag:
        """The stage graph as a validated Dag."""
        return Dag(self.nodes, self.edges)


def node_op(in_channels: int, out_channels: int, stride: int) -> nn.Sequential:
    """ReLU, 3x3 depthwise conv (stride), 1x1 pointwise conv, BN: the paper's ReLU-conv-BN triplet."""
    return nn.Sequential(OrderedDict(
        act=nn.ReLU(),  # not inplace: a node's input may be the stage input or another node's output
        dw=conv_bn_act(in_channels, in_channels, 3, stride, groups=in_channels, activation_name="none", norm=False),
        pw=conv_bn_act(in_channels, out_channels, 1, activation_name="none"),
    ))


def node_op_cost(shape: Shape, out_channels: int, stride: int) -> tuple[Cost, Shape]:
    """Cost twin of `node_op`."""
    dw, mid = conv_bn_act_cost(shape, shape.c, 3, stride, groups=shape.c, norm=False)
    pw, out = conv_bn_act_cost(mid, out_channels, 1)
    return dw + pw, out


class RandWireStage(nn.Module):
    """The built stage: node modules n0.. in index order and one aggregation weight per edge."""

    def __init__(self, args: RandWireArgs, in_channels: int):
        super().__init__()
        dag = args.dag()
        inputs = set(dag.inputs())
        self.sources = [dag.predecessors(n) for n in range(dag.nodes)]
        self.weight_index = [dag.edge_indices(n) for n in range(dag.nodes)]
        self.outputs = dag.outputs()
        self.nodes = nn.ModuleList(
            node_op(in_channels, args.out_channels, args.stride) if n in inputs
            else node_op(args.out_channels, args.out_channels, 1)
            for n in range(dag.nodes)
        )
        self.edge_weight = nn.Parameter(torch.zeros(len(dag.edges)))  # sigmoid(0) = 1/2: equal weights at start

    def forward(self, x: Tensor) -> Tensor:
        gates = torch.sigmoid(self.edge_weight)
        results: list[Tensor] = []
        for node, sources, where in zip(self.nodes, self.sources, self.weight_index):
            if not sources:
                results.append(node(x))
                continue
            total = results[sources[0]] * gates[where[0]]
            for u, i in zip(sources[1:], where[1:]):
                total = total + results[u] * gates[i]
            results.append(node(total))
        out = results[self.outputs[0]]
        for n in self.outputs[1:]:
            out = out + results[n]
        return out / len(self.outputs)


def _build(a: RandWireArgs, in_channels: int) -> nn.Module:
    return RandWireStage(a, in_channels)


def _cost(a: RandWireArgs, shape: Shape) -> tuple[Cost, Shape]:
    dag = a.dag()
    n_inputs = len(dag.inputs())
    first, out = node_op_cost(shape, a.out_channels, a.stride)
    inner, _ = node_op_cost(out, a.out_channels, 1)
    weights = Cost(0, len(dag.edges), 0)
    return first * n_inputs + inner * (dag.nodes - n_inputs) + weights, out


CELLS = (
    Cell("randwire", RandWireArgs, _build, _cost,
         "RandWire stage: random DAG of ReLU-sepconv-BN nodes, sigmoid-weighted sums, mean of outputs"),
)
