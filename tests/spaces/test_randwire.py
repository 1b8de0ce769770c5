"""The randwire space: named fixed points, seeded round trips, generator recovery, budgets, strict decode."""
import dataclasses

import pytest

from search_spaces import backbones
from search_spaces.cells.randwire import RandWireArgs
from search_spaces.counting import count
from search_spaces.errors import SpaceError
from search_spaces.spaces import get
from search_spaces.spec import Stage

SPACE = get("randwire")
SAMPLES = [SPACE.sample(seed) for seed in range(100)]


def test_fixed_points_are_listed():
    assert set(SPACE.fixed_points) == {"randwire_ws_small", "randwire_ws_regular"}


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


def test_smallest_is_valid_and_cheapest_first():
    spec = SPACE.smallest()
    params = SPACE.encode(spec)
    assert params["resolution"] == 96 and params["regime"] == "small" and params["graph"] == "er"
    assert params["channels"] == 16 and params["nodes"] == 16
    assert SPACE.decode(params) == spec


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
