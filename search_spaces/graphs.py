"""RandWire random graphs (Xie, Kirillov, Girshick, He 2019, "Exploring Randomly Wired Neural Networks").

The three classical random graph models of the paper, each with an explicit seed: Erdos-Renyi `er(p)`,
Barabasi-Albert `ba(m)` and Watts-Strogatz `ws(k, p)` (networkx's generators). An undirected graph becomes
a DAG by orienting every edge from the lower to the higher node index. In a RandWire stage the input nodes
(in-degree 0) take the stage input, and the output nodes (out-degree 0) are averaged into the stage output.

The generated edge list is stored in the spec as plain data (`Dag`), so a recorded network never changes
when networkx does; networkx is needed only to generate new graphs. Same seed, same edges: networkx seeds
its own `random.Random(seed)` (a Mersenne Twister, identical on every platform).
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from search_spaces.errors import SpecError, check_float, check_int, require

MAX_NODES = 1024  # the paper uses 16 and 32; a hostile spec must not build a million-node stage
MAX_SEED = 2**32 - 1

Edge = tuple[int, int]


@dataclass(frozen=True)
class Dag:
    """A directed acyclic graph on nodes 0..nodes-1 whose edges (u, v) all run from low to high index.

    Index order is a topological order, so evaluating nodes 0, 1, 2, ... always finds a node's inputs
    ready. Validated on construction: no self loops, no duplicate edges, no backward edges, nodes in range.
    """

    nodes: int
    edges: tuple[Edge, ...]

    def __post_init__(self) -> None:
        check_int("graph", "nodes", self.nodes, 1, MAX_NODES)
        if not isinstance(self.edges, tuple):
            raise SpecError(f"graph edges must be a tuple of (u, v) pairs, got {type(self.edges).__name__}")
        for edge in self.edges:
            _check_edge(edge, self.nodes)
        if len(set(self.edges)) != len(self.edges):
            twice = next(edge for i, edge in enumerate(self.edges) if edge in self.edges[:i])
            raise SpecError(f"graph edge {twice} appears twice")

    def predecessors(self, node: int) -> tuple[int, ...]:
        """The nodes feeding `node`, in edge-list order (the order of its aggregation weights)."""
        return tuple(u for u, v in self.edges if v == node)

    def edge_indices(self, node: int) -> tuple[int, ...]:
        """Positions in `edges` of the edges into `node` (which aggregation weights it uses)."""
        return tuple(i for i, (_, v) in enumerate(self.edges) if v == node)

    def inputs(self) -> tuple[int, ...]:
        """Nodes with in-degree 0: they take the stage input."""
        targets = {v for _, v in self.edges}
        return tuple(n for n in range(self.nodes) if n not in targets)

    def outputs(self) -> tuple[int, ...]:
        """Nodes with out-degree 0: their mean is the stage output."""
        sources = {u for u, _ in self.edges}
        return tuple(n for n in range(self.nodes) if n not in sources)


def _check_edge(edge: Any, nodes: int) -> None:
    """One edge: a pair of in-range node indices running from low to high."""
    if type(edge) is tuple and len(edge) == 2:
        u, v = edge
        if type(u) is int and type(v) is int and 0 <= u < v < nodes:
            return  # the common case, first: a RandWire draw validates a few hundred edges
    if not (isinstance(edge, tuple) and len(edge) == 2):
        raise SpecError(f"graph edge must be a pair (u, v), got {edge!r}")
    for n in edge:
        if not isinstance(n, int) or isinstance(n, bool) or not 0 <= n < nodes:
            raise SpecError(f"graph edge {edge} names a node outside 0..{nodes - 1}")
    u, v = edge
    require(u != v, f"graph edge {edge} is a self loop")
    require(u < v, f"graph edge {edge} runs from a higher to a lower index; edges must run low to high (acyclic)")


def to_dag(nodes: int, undirected: Any) -> Dag:
    """Orient an undirected edge iterable from the lower to the higher index; edges sorted, duplicates merged."""
    edges = sorted({(min(u, v), max(u, v)) for u, v in undirected if u != v})
    return Dag(nodes, tuple((int(u), int(v)) for u, v in edges))


def _check_seed(seed: Any) -> None:
    check_int("graph", "seed", seed, 0, MAX_SEED)


def er(nodes: int, p: float, seed: int) -> Dag:
    """Erdos-Renyi ER(p): every node pair is joined with probability p (networkx `erdos_renyi_graph`)."""
    import networkx as nx

    check_int("graph", "nodes", nodes, 1, MAX_NODES)
    check_float("graph", "p", p, 0.0, 1.0)
    _check_seed(seed)
    return to_dag(nodes, nx.erdos_renyi_graph(nodes, p, seed=seed).edges())


def ba(nodes: int, m: int, seed: int) -> Dag:
    """Barabasi-Albert BA(m): each new node attaches m edges by preferential attachment."""
    import networkx as nx

    check_int("graph", "nodes", nodes, 2, MAX_NODES)
    check_int("graph", "m", m, 1, nodes - 1)
    _check_seed(seed)
    return to_dag(nodes, nx.barabasi_albert_graph(nodes, m, seed=seed).edges())


def ws(nodes: int, k: int, p: float, seed: int) -> Dag:
    """Watts-Strogatz WS(k, p): a ring where each node joins its k nearest neighbours, each edge then
    rewired with probability p (networkx `watts_strogatz_graph`). The paper's default is WS(4, 0.75)."""
    import networkx as nx

    check_int("graph", "nodes", nodes, 3, MAX_NODES)
    check_int("graph", "k", k, 2, nodes - 1)
    require(k % 2 == 0, f"graph k must be even (k/2 neighbours on each side of the ring), got {k}")
    check_float("graph", "p", p, 0.0, 1.0)
    _check_seed(seed)
    return to_dag(nodes, nx.watts_strogatz_graph(nodes, k, p, seed=seed).edges())
