"""The inception space: the named Inception networks are points, seeded round trips, budgets, strict decode."""
import dataclasses

import pytest

from search_spaces import backbones
from search_spaces.cells.inception_v1 import BNInceptionArgs
from search_spaces.counting import count
from search_spaces.errors import SpaceError
from search_spaces.scale import multiply
from search_spaces.spaces import get
from search_spaces.spaces.inception import width_fields, width_range
from search_spaces.spec import Block, Stage

SPACE = get("inception")
NAMED = ("googlenet", "googlenet_5x5", "inception_v2", "inception_v3", "inception_v4", "inception_resnet_v2")
SAMPLES = [SPACE.sample(seed) for seed in range(100)]


def test_fixed_points_cover_the_brief():
    assert set(NAMED) == set(SPACE.fixed_points)


@pytest.mark.parametrize(
    "name,expected",
    [
        ("googlenet", {"template": "googlenet", "googlenet.kernel_size": 3, "googlenet.s3.b2.ch3x3[1]": 208,
                       "googlenet.s3.b2.repeats": 1, "googlenet.stem.b1.out_channels": 64}),
        ("googlenet_5x5", {"googlenet.kernel_size": 5, "googlenet.s4.b3.pool_proj": 128}),
        ("inception_v3", {"resolution": 299, "inception_v3.s2.b3.repeats": 2, "inception_v3.s2.b3.pool_proj": 64,
                          "inception_v3.s3.b3.ch7x7[0]": 160}),
        ("inception_v4", {"inception_v4.s3.b2.repeats": 7, "inception_v4.s2.b1.ch7x7[3]": 96}),
        ("inception_resnet_v2", {"inception_resnet_v2.s3.b2.repeats": 20,
                                 "inception_resnet_v2.s4.b4.out_channels": 1536}),
    ],
)
def test_named_parameters(name, expected):
    params = SPACE.encode(backbones.get(name))
    assert {k: params[k] for k in expected} == expected
    assert params["width_mult"] == params["depth_mult"] == 1.0


def test_bn_inception_absent_branches_are_structure():
    params = SPACE.encode(backbones.get("inception_v2"))
    assert "inception_v2.s3.b1.ch1x1" not in params and "inception_v2.s3.b1.pool_proj" not in params  # module 3c
    assert "inception_v2.s3.b1.repeats" not in params  # a stride-2 module does not repeat
    for spec in SAMPLES:
        for stage in spec.stages:
            for block in stage.blocks:
                if isinstance(block.args, BNInceptionArgs) and block.args.stride == 2:
                    assert block.args.ch1x1 == block.args.pool_proj == 0 and block.repeats == 1


def test_width_range():
    assert width_range(64) == (32, 128)
    assert width_range(24) == (8, 48)
    assert width_range(16) == (8, 32)


def test_samples_are_sensible():
    for spec in SAMPLES:
        for block in spec.stem + tuple(b for stage in spec.stages for b in stage.blocks):
            for _, value in width_fields(block.args):
                assert all(v % 8 == 0 for v in (value if isinstance(value, tuple) else (value,)))
        assert count(spec).macs > 0  # the walk ran: every branch agrees on its size, no map vanished


def test_multipliers_scale_like_multiply_and_encode_with_ones():
    spec = backbones.get("inception_v3")
    point = SPACE.encode(spec) | {"width_mult": 1.5, "resolution": 331}
    scaled = SPACE.decode(point)
    assert scaled == dataclasses.replace(multiply(spec, 1.5, resolution=331), aux=())  # points have no aux heads
    params = SPACE.encode(scaled)
    assert params["width_mult"] == 1.0 and params["inception_v3.s2.b2.ch1x1"] == 96
    assert SPACE.decode(params) == scaled


@pytest.mark.parametrize("name", NAMED)
@pytest.mark.parametrize("width", [0.5, 2.0])
def test_multiplied_backbones_stay_points(name, width):
    assert SPACE.contains(multiply(backbones.get(name), width))


def test_not_contained():
    spec = backbones.get("inception_v3")
    stage = spec.stages[1]
    extra = Stage(stage.blocks + (stage.blocks[-1],))  # a row the template does not have
    assert not SPACE.contains(dataclasses.replace(spec, stages=(spec.stages[0], extra, *spec.stages[2:])))
    odd = Block("conv", dataclasses.replace(spec.stem[2].args, out_channels=60))  # off the step-8 grid
    assert not SPACE.contains(dataclasses.replace(spec, stem=spec.stem[:2] + (odd,)))
    assert not SPACE.contains(backbones.get("resnet50"))
    with pytest.raises(SpaceError) as err:
        SPACE.encode(backbones.get("resnet50"))
    assert str(err.value) == ("inception: the network follows none of the templates googlenet, inception_v2, "
                              "inception_v3, inception_v4, inception_resnet_v2")


def test_smallest_is_valid_and_cheapest():
    spec = SPACE.smallest()
    params = SPACE.encode(spec)
    assert params["template"] == "googlenet" and params["resolution"] == 96
    assert SPACE.decode(params) == spec
    assert count(spec).macs < min(count(s).macs for s in SAMPLES)


POINT = SPACE.encode(backbones.get("inception_v3"))


@pytest.mark.parametrize(
    "change,message",
    [
        ({"template": "xception"},
         ("inception: parameter 'template' must be one of 'googlenet', 'inception_v2', 'inception_v3', "
          "'inception_v4', 'inception_resnet_v2', got 'xception'")),
        ({"resolution": 300}, "inception: parameter 'resolution' must be int in [107, 395] step 32, got 300"),
        ({"inception_v3.s2.b2.ch1x1": 136},
         "inception: parameter 'inception_v3.s2.b2.ch1x1' must be int in [32, 128] step 8, got 136"),
        ({"inception_v3.s2.b3.repeats": 5},
         "inception: parameter 'inception_v3.s2.b3.repeats' must be int in [1, 4], got 5"),
        ({"template": "inception_v4"},
         "inception: missing parameter 'inception_v4.stem.b1.out_channels' (int in [16, 64] step 8)"),
        ({"googlenet.kernel_size": 5},
         "inception: unknown parameter(s) ['googlenet.kernel_size'] for this point of the space"),
    ],
)
def test_strict_decode(change, message):
    with pytest.raises(SpaceError) as err:
        SPACE.decode(POINT | change)
    assert str(err.value) == message
