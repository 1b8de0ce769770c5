"""The RandWire space: randomly wired networks of Table 1 (Xie et al. 2019) over a choice of graph model.

A point is a regime (small or regular), a width C, a node count N per random stage (N/2 for the regular
regime's first one), a graph model with its parameters (ER(p), BA(m), WS(k, p)) and a seed. Stage i of the
network with seed s uses the graph seed `10 * s + i`, as the named backbones do, and the generated edge
lists (search_spaces.graphs, networkx) are stored in the spec. The global multipliers scale C (width) and N
(depth, multiples of 8) and are clamped to the ranges of those parameters, so a scaled network is still a
point of the space with multipliers 1.0.

`encode` recovers the generator and the seed from the stored edges by regenerating stage 1 for every
candidate, the most plausible first (the edge count pins WS's k and BA's m and suggests ER's p, the share of
ring-lattice edges suggests WS's p); a spec whose edges no generator and seed reproduce is not contained.
Fixed points: randwire_ws_small and randwire_ws_regular (WS(4, 0.75), seed 0).
"""
from __future__ import annotations

import math
from collections.abc import Iterator
from typing import Any

from search_spaces import graphs
from search_spaces.backbones.randwire import REGIMES, randwire_spec, stage_nodes
from search_spaces.errors import SpaceError, SpecError
from search_spaces.graphs import Dag
from search_spaces.rounding import make_divisible
from search_spaces.spaces.base import Params, Space
from search_spaces.spaces.declared import Choice, Float, Int
from search_spaces.spec import NetSpec

GRAPHS = ("er", "ba", "ws")
ER_P = (0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9)  # categorical: exact values, so graphs replay exactly
WS_P = (0.0, 0.25, 0.5, 0.75, 1.0)
BA_M = (1, 7)  # int range; below the smallest stage (N/2 = 8 nodes)
WS_K = (2, 6)  # even int range
SEEDS = (0, 49)
CHANNELS = (16, 160)  # C; the paper's small network has C=78, the regular one C=109
NODES = (16, 48)  # N, step 8; the paper's N=32


def stage_graph(graph: str, option: tuple[Any, ...], nodes: int, seed: int) -> Dag:
    """One stage's DAG: `option` is (p,) for ER, (m,) for BA, (k, p) for WS."""
    if graph == "er":
        return graphs.er(nodes, option[0], seed)
    if graph == "ba":
        return graphs.ba(nodes, option[0], seed)
    return graphs.ws(nodes, option[0], option[1], seed)


def stage_graphs(regime: str, nodes: int, graph: str, option: tuple[Any, ...], seed: int) -> tuple[Dag, ...]:
    """The DAG of every random stage of the network with this seed (stage i: graph seed 10 * seed + i)."""
    return tuple(stage_graph(graph, option, n, 10 * seed + i) for i, n in enumerate(stage_nodes(regime, nodes), 1))


def _clamp(value: int, bounds: tuple[int, int]) -> int:
    return min(max(value, bounds[0]), bounds[1])


PARAMETERS = (  # what `suggest` draws, in its order (`declared`; tests/spaces/test_declared.py holds them to it)
    Int("resolution", 96, 320, 32), Float("width_mult", 0.5, 2.0, 0.25), Float("depth_mult", 0.5, 2.0, 0.25),
    Choice("regime", REGIMES), Int("channels", *CHANNELS), Int("nodes", *NODES, 8), Choice("graph", GRAPHS),
    Choice("er.p", ER_P, when="graph er"), Int("ba.m", *BA_M, when="graph ba"), Int("ws.k", *WS_K, 2, when="graph ws"),
    Choice("ws.p", WS_P, when="graph ws"), Int("seed", *SEEDS),
)

class RandWireSpace(Space):
    """RandWire networks: regime, C, N, graph model and its parameters, seed, and the global multipliers."""

    name = "randwire"
    description = "RandWire (Xie et al. 2019): ER / BA / WS random stages, small or regular regime"
    fixed_points = ("randwire_ws_small", "randwire_ws_regular")

    def parameters(self) -> tuple:
        return PARAMETERS

    def suggest(self, trial: Any) -> NetSpec:
        """Draw the globals, then the graph model's own parameters, then the seed; generate the graphs."""
        resolution = trial.suggest_int("resolution", 96, 320, step=32)
        width = trial.suggest_float("width_mult", 0.5, 2.0, step=0.25)
        depth = trial.suggest_float("depth_mult", 0.5, 2.0, step=0.25)
        regime = trial.suggest_categorical("regime", REGIMES)
        channels = _clamp(make_divisible(trial.suggest_int("channels", *CHANNELS) * width, 1), CHANNELS)
        nodes = _clamp(make_divisible(trial.suggest_int("nodes", *NODES, step=8) * depth, 8), NODES)
        graph = trial.suggest_categorical("graph", GRAPHS)
        if graph == "er":
            option: tuple[Any, ...] = (trial.suggest_categorical("er.p", ER_P),)
        elif graph == "ba":
            option = (trial.suggest_int("ba.m", *BA_M),)
        else:
            option = (trial.suggest_int("ws.k", *WS_K, step=2), trial.suggest_categorical("ws.p", WS_P))
        seed = trial.suggest_int("seed", *SEEDS)
        return randwire_spec(regime, channels, stage_graphs(regime, nodes, graph, option, seed), resolution)

    def encode(self, spec: NetSpec) -> Params:
        """Regime, C and N read off the spec; graph model, parameters and seed found by regeneration."""
        regime = {3: "small", 4: "regular"}.get(len(spec.stages))
        if regime is None:
            raise SpaceError(f"randwire: a RandWire network has 3 or 4 random stages, got {len(spec.stages)}")
        firsts = [stage.blocks[0] for stage in spec.stages]
        if any(block.cell != "randwire" for block in firsts):
            raise SpaceError("randwire: every stage must open with a randwire cell")
        dags = tuple(block.args.dag() for block in firsts)
        graph, option, seed = find_generator(regime, dags)
        params: Params = {
            "resolution": spec.resolution, "width_mult": 1.0, "depth_mult": 1.0, "regime": regime,
            "channels": firsts[0].args.out_channels, "nodes": dags[-1].nodes, "graph": graph,
        }
        names = {"er": ("er.p",), "ba": ("ba.m",), "ws": ("ws.k", "ws.p")}[graph]
        params.update(zip(names, option))
        params["seed"] = seed
        return params


def _z(observed: float, trials: float, p: float) -> float:
    """How many standard deviations `observed` lies from a Binomial(trials, p) mean."""
    spread = math.sqrt(trials * p * (1 - p)) or 1e-9
    return abs(observed - trials * p) / spread


def _candidates(dag: Dag) -> list[tuple[str, tuple[Any, ...]]]:
    """Every (graph model, parameters) of the space, the most plausible for this stage-1 DAG first.

    Only the order depends on these statistics (the search still tries every candidate): ER by its edge
    count, BA by every later node having exactly m lower-index neighbours, WS by its exact edge count and
    the share of its edges that are still ring-lattice edges (1 - p of them, plus chance).
    """
    n, edges = dag.nodes, len(dag.edges)
    pairs = n * (n - 1) // 2
    indegree = [0] * n
    for _, v in dag.edges:
        indegree[v] += 1
    scored: list[tuple[float, str, tuple[Any, ...]]] = [(_z(edges, pairs, p), "er", (p,)) for p in ER_P]
    for m in range(BA_M[0], BA_M[1] + 1):
        scored.append((0.0 if set(indegree[m + 1:]) == {m} else 100.0 + m, "ba", (m,)))
    for k in range(WS_K[0], WS_K[1] + 1, 2):
        lattice = sum(1 for u, v in dag.edges if min(v - u, n - (v - u)) <= k // 2)
        chance = min(1.0, n * (k // 2) / pairs)  # share of all pairs that are lattice pairs
        for p in WS_P:
            score = _z(lattice, edges, (1 - p) + p * chance) if edges == n * k // 2 else 100.0
            scored.append((score, "ws", (k, p)))
    return [(graph, option) for _, graph, option in sorted(scored, key=lambda row: row[0])]


def _first_matches(dag: Dag) -> Iterator[tuple[str, tuple[Any, ...], int]]:
    """(graph, parameters, seed) whose stage-1 graph is `dag`, in candidate order."""
    for graph, option in _candidates(dag):
        for seed in range(SEEDS[0], SEEDS[1] + 1):
            try:
                if stage_graph(graph, option, dag.nodes, 10 * seed + 1) == dag:
                    yield graph, option, seed
            except SpecError:  # the model does not exist on this many nodes (e.g. BA with m >= N)
                break


def find_generator(regime: str, dags: tuple[Dag, ...]) -> tuple[str, tuple[Any, ...], int]:
    """The graph model, its parameters and the seed that generate every stage DAG; SpaceError if none."""
    nodes = dags[-1].nodes
    if tuple(d.nodes for d in dags) != stage_nodes(regime, nodes):
        raise SpaceError(f"randwire: {regime} stages need {stage_nodes(regime, nodes)} nodes, "
                         f"got {tuple(d.nodes for d in dags)}")
    for graph, option, seed in _first_matches(dags[0]):
        if stage_graphs(regime, nodes, graph, option, seed) == dags:
            return graph, option, seed
    raise SpaceError(f"randwire: no graph model of the space with a seed in [{SEEDS[0]}, {SEEDS[1]}] "
                     "generates these edges")


SPACE = RandWireSpace()
