"""The classic space: AlexNet, VGG-16 (+BN) and SqueezeNet 1.0/1.1 are points; samples are valid and seeded."""

import pytest

from search_spaces import backbones
from search_spaces.counting import count
from search_spaces.errors import SpaceError
from search_spaces.scale import multiply
from search_spaces.spaces import get
from search_spaces.spaces.classic import SPACE

NAMES = ("alexnet", "vgg16", "vgg16_bn", "squeezenet1_0", "squeezenet1_1")

RESOLUTION = 96  # the real forward pass runs small


def test_registered_with_its_fixed_points():
    assert get("classic") is SPACE
    assert SPACE.fixed_points == NAMES


def test_alexnet_encoding_reads_like_the_paper():
    params = SPACE.encode(backbones.get("alexnet"))
    assert params["kind"] == "plain" and params["pool"] == "max3" and params["stages"] == 3
    assert (params["s1.b1.kernel_size"], params["s1.b1.stride"], params["s1.b1.padding"]) == (11, 4, 2)
    assert [params[f"s3.b{b}.out_channels"] for b in (1, 2)] == [384, 256]  # 384, then 256 twice
    assert (params["s3.b1.repeats"], params["s3.b2.repeats"]) == (1, 2)


def test_width_scaled_vgg_stays_a_point():
    spec = multiply(backbones.get("vgg16"), width=0.5)  # every conv width halved, the MLP head kept
    assert SPACE.contains(spec)


def test_samples_cover_both_kinds():
    kinds = {SPACE.encode(SPACE.sample(seed))["kind"] for seed in range(20)}
    assert kinds == {"fire", "plain"}


@pytest.mark.parametrize(
    "change,message",
    [
        ({"kind": "residual"}, "classic: parameter 'kind' must be one of 'fire', 'plain', got 'residual'"),
        ({"s1.b1.stride": 3}, "classic: parameter 's1.b1.stride' must be one of 4, 2, 1, got 3"),
        ({"stages": 5}, "classic: parameter 'stages' must be int in [3, 4], got 5"),  # stride 4: at most 4 pools
        ({"s2.b1.out_channels": 24}, "classic: parameter 's2.b1.out_channels' must be int in [16, 512] step 16, got 24"),
        ({"head.hidden_width": None}, "classic: missing parameter 'head.hidden_width' (int in [256, 4096] step 256)"),
        ({"s9.rows": 1}, "classic: unknown parameter(s) ['s9.rows'] for this point of the space"),
    ],
)
def test_strict_decode(change, message):
    params = {k: v for k, v in (SPACE.encode(backbones.get("alexnet")) | change).items() if v is not None}
    with pytest.raises(SpaceError) as err:
        SPACE.decode(params)
    assert str(err.value) == message


def test_not_contained():
    assert not SPACE.contains(backbones.get("densenet121"))


def test_smallest_is_a_small_valid_network():
    smallest = SPACE.smallest()
    assert SPACE.contains(smallest)
    assert count(smallest).macs < count(backbones.get("squeezenet1_1")).macs


