"""RandWire graphs: generators are deterministic, DAGs are index-ordered, bad edge lists are refused."""
import re

import pytest

from search_spaces.errors import SpecError
from search_spaces.graphs import Dag, ba, er, to_dag, ws


@pytest.mark.parametrize("make", [lambda s: er(16, 0.2, s), lambda s: ba(16, 3, s), lambda s: ws(32, 4, 0.75, s)])
def test_same_seed_same_edges_and_another_seed_differs(make):
    assert make(7) == make(7)
    assert make(7).edges != make(8).edges


def test_ws_edge_count_is_n_k_over_2():
    # Watts-Strogatz rewires edges but never adds or drops one: N*k/2 = 64 for WS(32, 4, p)
    assert len(ws(32, 4, 0.75, 0).edges) == 64
    assert len(ws(32, 4, 0.0, 0).edges) == 64


def test_ws_ring_without_rewiring():
    # p=0: the ring lattice; node 0 joins 1, 2 and (wrapping around) 30, 31, all oriented away from 0
    dag = ws(8, 4, 0.0, 0)
    assert dag.predecessors(0) == ()
    assert {v for u, v in dag.edges if u == 0} == {1, 2, 6, 7}
    assert dag.inputs() == (0,) and dag.outputs() == (7,)


def test_ba_edges():
    # BA(m): m initial star edges, then m edges for each of the n - m - 1 other nodes: m * (n - m)
    assert len(ba(16, 3, 0).edges) == 3 * 13


def test_orientation_low_to_high_sorted_and_merged():
    assert to_dag(4, [(3, 1), (0, 2), (1, 3), (2, 2)]).edges == ((0, 2), (1, 3))


def test_inputs_outputs_and_predecessors():
    dag = Dag(5, ((0, 2), (1, 2), (2, 3), (0, 4)))
    assert dag.inputs() == (0, 1)
    assert dag.outputs() == (3, 4)
    assert dag.predecessors(2) == (0, 1)
    assert dag.edge_indices(2) == (0, 1)
    assert Dag(1, ()).inputs() == Dag(1, ()).outputs() == (0,)  # one node is both input and output


BAD_DAGS = [
    # a self loop would make a node its own input: no evaluation order exists
    (3, ((0, 1), (1, 1)), "graph edge (1, 1) is a self loop"),
    # an edge against index order could close a cycle (0->1->2->0); index order is our topological order
    (3, ((0, 1), (1, 2), (2, 0)), "graph edge (2, 0) runs from a higher to a lower index"),
    # a duplicate edge would count one input twice and add a second weight for it
    (3, ((0, 1), (0, 1)), "graph edge (0, 1) appears twice"),
    # node 3 does not exist in a 3-node graph
    (3, ((0, 3),), "graph edge (0, 3) names a node outside 0..2"),
    # negative indices would silently wrap around in Python lists
    (3, ((-1, 2),), "graph edge (-1, 2) names a node outside 0..2"),
    # an edge needs exactly two endpoints
    (3, ((0, 1, 2),), "graph edge must be a pair (u, v), got (0, 1, 2)"),
    # a graph without nodes has no input to feed
    (0, (), "graph nodes must be in [1, 1024], got 0"),
    # bools are not node indices even though Python treats True as 1
    (3, ((0, True),), "graph edge (0, True) names a node outside 0..2"),
]


@pytest.mark.parametrize("nodes,edges,message", BAD_DAGS)
def test_bad_dag_is_refused(nodes, edges, message):
    with pytest.raises(SpecError, match=re.escape(message)):
        Dag(nodes, edges)


def test_bad_generator_arguments():
    with pytest.raises(SpecError, match="graph k must be even"):
        ws(16, 3, 0.5, 0)
    with pytest.raises(SpecError, match=r"graph p must be in \[0.0, 1.0\], got 1.5"):
        er(16, 1.5, 0)
    with pytest.raises(SpecError, match=r"graph m must be in \[1, 15\], got 16"):
        ba(16, 16, 0)
    with pytest.raises(SpecError, match="graph seed must be an integer"):
        ws(16, 4, 0.5, None)
