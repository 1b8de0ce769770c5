"""The randwire space: named fixed points, seeded round trips, generator recovery, budgets, strict decode."""
import dataclasses

import pytest
import torch

from search_spaces import backbones
from search_spaces.cells.randwire import RandWireArgs
from search_spaces.errors import SpaceError
from search_spaces.network import build, count
from search_spaces.spaces import get
from search_spaces.spec import Stage
from tests.exact import assert_exact_network

SPACE = get("randwire")
SAMPLES = [SPACE.sample(seed) for seed in range(100)]


@pytest.mark.parametrize("name", SPACE.fixed_points)
def test_named_backbones_are_fixed_points(name):
    spec = backbones.get(name)
    params = SPACE.encode(spec)
    assert (params["graph"], params["ws.k"], params["ws.p"], params["seed"]) == ("ws", 4, 0.75, 0)
    assert params["nodes"] == 32 and params["channels"] == {"randwire_ws_small": 78, "randwire_ws_regular": 109}[name]
    assert SPACE.contains(spec)
    assert SPACE.decode(params) == spec


def test_fixed_points_are_listed():
    assert set(SPACE.fixed_points) == {"randwire_ws_small", "randwire_ws_regular"}


def test_exactly_the_fixed_points_among_all_backbones():
    inside = {name for name in backbones.names() if SPACE.contains(backbones.get(name))}
    assert inside == set(SPACE.fixed_points)


def test_samples_round_trip_and_are_seeded():
    for spec in SAMPLES:
        assert SPACE.decode(SPACE.encode(spec)) == spec
    assert [SPACE.sample(seed) for seed in range(5)] == SAMPLES[:5]
    assert len({spec.digest() for spec in SAMPLES}) == 100
    assert {SPACE.encode(spec)["graph"] for spec in SAMPLES} == {"er", "ba", "ws"}


def test_samples_are_sensible():
    for spec in SAMPLES:
        regime = "small" if len(spec.stages) == 3 else "regular"
        c = spec.stages[0].blocks[0].args.out_channels
        widths = [stage.blocks[0].args.out_channels for stage in spec.stages]
        assert widths == [c * 2**i for i in range(len(spec.stages))]
        assert len(spec.stem) == (2 if regime == "small" else 1)
        assert count(spec).macs > 0 and spec.resolution // 32 >= 3  # the last map is at least 3x3


def test_edges_not_from_the_generator_are_not_contained():
    spec = backbones.get("randwire_ws_small")
    first = spec.stages[0].blocks[0]
    edges = first.args.edges[1:]  # drop one edge: no WS(4, p) graph has 63 edges on 32 nodes
    changed = dataclasses.replace(first, args=dataclasses.replace(first.args, edges=edges))
    outside = dataclasses.replace(spec, stages=(Stage((changed,)),) + spec.stages[1:])
    assert not SPACE.contains(outside)
    with pytest.raises(SpaceError) as err:
        SPACE.encode(outside)
    assert str(err.value) == "randwire: no graph model of the space with a seed in [0, 49] generates these edges"


def test_stage_seeds_follow_the_convention():
    # Swapping two stages' graphs keeps every edge list a generator output, but not for its stage's seed.
    spec = backbones.get("randwire_ws_small")
    s1, s2 = spec.stages[0].blocks[0], spec.stages[1].blocks[0]
    swapped = (
        Stage((dataclasses.replace(s1, args=RandWireArgs(32, s2.args.edges, s1.args.out_channels)),)),
        Stage((dataclasses.replace(s2, args=RandWireArgs(32, s1.args.edges, s2.args.out_channels)),)),
    )
    assert not SPACE.contains(dataclasses.replace(spec, stages=swapped + spec.stages[2:]))


def test_multipliers_scale_c_and_n_and_encode_with_ones():
    point = SPACE.encode(backbones.get("randwire_ws_small")) | {"width_mult": 1.5, "depth_mult": 0.5}
    spec = SPACE.decode(point)
    first = spec.stages[0].blocks[0].args
    assert (first.out_channels, first.nodes) == (117, 16)  # 78 * 1.5, 32 * 0.5
    params = SPACE.encode(spec)
    assert (params["width_mult"], params["depth_mult"], params["channels"], params["nodes"]) == (1.0, 1.0, 117, 16)
    assert SPACE.decode(params) == spec


def test_budgeted_samples_are_within_budget():
    budget = 600_000_000
    for spec, _ in zip(SPACE.samples(3, budget), range(20)):
        assert count(spec).macs <= budget


def test_smallest_is_valid_and_cheapest_first():
    spec = SPACE.smallest()
    params = SPACE.encode(spec)
    assert params["resolution"] == 96 and params["regime"] == "small" and params["graph"] == "er"
    assert params["channels"] == 16 and params["nodes"] == 16
    assert SPACE.decode(params) == spec


def test_sampled_networks_build_and_count_exactly():
    for spec in (SPACE.smallest(), min(SAMPLES[:10], key=lambda s: count(s).macs)):
        assert_exact_network(spec)  # meta device: 2 * macs == FlopCounterMode, params == sum(numel)
    spec = dataclasses.replace(SPACE.smallest(), resolution=64)
    torch.manual_seed(0)
    with torch.no_grad():
        logits = build(spec).eval()(torch.randn(2, 3, 64, 64))
    assert logits.shape == (2, 1000) and torch.isfinite(logits).all()


POINT = SPACE.encode(backbones.get("randwire_ws_small"))


@pytest.mark.parametrize(
    "change,message",
    [
        ({"seed": None}, "randwire: missing parameter 'seed' (int in [0, 49])"),
        ({"seed": 50}, "randwire: parameter 'seed' must be int in [0, 49], got 50"),
        ({"nodes": 36}, "randwire: parameter 'nodes' must be int in [16, 48] step 8, got 36"),
        ({"graph": "kleinberg"}, "randwire: parameter 'graph' must be one of 'er', 'ba', 'ws', got 'kleinberg'"),
        ({"ws.p": 0.3}, "randwire: parameter 'ws.p' must be one of 0.0, 0.25, 0.5, 0.75, 1.0, got 0.3"),
        ({"er.p": 0.2}, "randwire: unknown parameter(s) ['er.p'] for this point of the space"),
    ],
)
def test_strict_decode(change, message):
    params = {k: v for k, v in (POINT | change).items() if v is not None}
    with pytest.raises(SpaceError) as err:
        SPACE.decode(params)
    assert str(err.value) == message
