"""The dense space: DenseNet-121/169/201 are points; samples are valid, seeded and fit their budget."""

import pytest

from search_spaces import backbones
from search_spaces.cells.dense import DenseArgs
from search_spaces.counting import count
from search_spaces.errors import SpaceError
from search_spaces.spaces import get
from search_spaces.spaces.dense import SPACE

NAMES = ("densenet121", "densenet169", "densenet201")

RESOLUTION = 64  # the real forward pass runs small


def test_registered_with_its_fixed_points():
    assert get("dense") is SPACE and SPACE.fixed_points == NAMES


def test_densenet121_encoding():
    params = SPACE.encode(backbones.get("densenet121"))
    assert params["width_mult"] == 1.0 and params["depth_mult"] == 1.0
    assert (params["growth_rate"], params["bn_size"], params["compression"]) == (32, 4, 0.5)
    assert [params[f"s{s}.depth"] for s in (1, 2, 3, 4)] == [6, 12, 24, 16]


def test_multipliers_scale_growth_and_depth():
    params = SPACE.encode(backbones.get("densenet121")) | {"width_mult": 0.5, "depth_mult": 1.5}
    spec = SPACE.decode(params)
    dense = [b.args for stage in spec.stages for b in stage.blocks if b.cell == "dense"]
    assert dense[0] == DenseArgs(9, 16, 64)  # ceil(6 * 1.5) layers, growth 32 * 0.5, bottleneck 4 * 16
    assert [a.layers for a in dense] == [9, 18, 36, 24]
    assert SPACE.contains(spec)


@pytest.mark.parametrize(
    "change,message",
    [
        ({"growth_rate": 30}, "dense: parameter 'growth_rate' must be int in [8, 48] step 4, got 30"),
        ({"compression": 0.6}, "dense: parameter 'compression' must be one of 0.5, 0.75, 1.0, got 0.6"),
        ({"s4.depth": None}, "dense: missing parameter 's4.depth' (int in [2, 48] step 2)"),
        ({"stages": 3}, "dense: unknown parameter(s) ['s4.depth'] for this point of the space"),
    ],
)
def test_strict_decode(change, message):
    params = {k: v for k, v in (SPACE.encode(backbones.get("densenet121")) | change).items() if v is not None}
    with pytest.raises(SpaceError) as err:
        SPACE.decode(params)
    assert str(err.value) == message


def test_not_contained():
    assert not SPACE.contains(backbones.get("vgg16"))


def test_smallest_is_valid_and_below_densenet121():
    smallest = SPACE.smallest()
    assert SPACE.contains(smallest)
    assert count(smallest).macs < count(backbones.get("densenet121")).macs


@pytest.mark.parametrize("width", [0.5, 0.75])
def test_width_scaled_densenet_stays_a_point(width):
    from search_spaces.scale import multiply

    assert SPACE.contains(multiply(backbones.get("densenet121"), width))


