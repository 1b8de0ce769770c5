"""The shuffle space: every ShuffleNet v1/v2 backbone is a point; samples are valid, seeded, within budget."""

import pytest

from search_spaces import backbones
from search_spaces.counting import count
from search_spaces.errors import SpaceError
from search_spaces.scale import multiply
from search_spaces.spaces import get
from search_spaces.spaces.shuffle import SPACE

NAMES = (
    "shufflenet_v1_g3", "shufflenet_v2_x0_5", "shufflenet_v2_x1_0", "shufflenet_v2_x1_5", "shufflenet_v2_x2_0",
    "shufflenet_v2_x0_5_megvii", "shufflenet_v2_x1_0_megvii", "shufflenet_v2_x1_5_megvii", "shufflenet_v2_x2_0_megvii",
)

RESOLUTION = 64  # the real forward pass runs small


def test_registered_with_its_fixed_points():
    assert get("shuffle") is SPACE and SPACE.fixed_points == NAMES


def test_megvii_split_is_a_parameter():
    tv = SPACE.encode(backbones.get("shufflenet_v2_x1_0"))
    megvii = SPACE.encode(backbones.get("shufflenet_v2_x1_0_megvii"))
    assert tv["s1.split"] == "torchvision" and megvii["s1.split"] == "megvii"
    # later stages double their input, so both splits give the same projection (out // 2 == in)
    assert {k for k in tv if tv[k] != megvii[k]} == {"s1.split", "head.bias"}


@pytest.mark.parametrize("name", ["shufflenet_v2_x1_0", "shufflenet_v2_x1_5_megvii", "shufflenet_v2_x2_0"])
@pytest.mark.parametrize("width", [0.5, 0.75])
def test_width_scaled_v2_stays_a_point(name, width):
    assert SPACE.contains(multiply(backbones.get(name), width))


@pytest.mark.parametrize(
    "change,message",
    [
        ({"groups": 5}, "shuffle: parameter 'groups' must be one of 8, 4, 3, 2, 1, got 5"),
        ({"s1.out_channels": 250}, "shuffle: parameter 's1.out_channels' must be int in [36, 504] step 12, got 250"),
        ({"s2.out_channels": 228}, "shuffle: parameter 's2.out_channels' must be int in [252, 1020] step 12, got 228"),
        ({"split": "megvii"}, "shuffle: unknown parameter(s) ['split'] for this point of the space"),
    ],
)
def test_strict_decode(change, message):
    params = SPACE.encode(backbones.get("shufflenet_v1_g3")) | change
    with pytest.raises(SpaceError) as err:
        SPACE.decode(params)
    assert str(err.value) == message


def test_not_contained():
    assert not SPACE.contains(backbones.get("squeezenet1_0"))


def test_smallest_is_valid():
    smallest = SPACE.smallest()
    assert SPACE.contains(smallest)
    assert count(smallest).macs < count(backbones.get("shufflenet_v2_x0_5")).macs


