"""The mobile space: every MobileNet, MnasNet, ProxylessNAS, ANTNet and EfficientNet backbone is a point;
scaled networks stay points; samples are valid, seeded and within budget."""

import random

import pytest

from search_spaces import backbones
from search_spaces.counting import count
from search_spaces.errors import SpaceError
from search_spaces.scale import multiply
from search_spaces.settings import without_settings
from search_spaces.spaces import get
from search_spaces.spaces.base import OverBudget, RandomTrial, check_budget
from search_spaces.spaces.mobile import SPACE

NAMES = (
    "mobilenet_v1", "mobilenet_v2", "mobilenet_v3_large", "mobilenet_v3_small", "mnasnet_a1", "proxylessnas_mobile",
    "antnet", "efficientnet_b0", "efficientnet_b1", "efficientnet_b2", "efficientnet_b3", "efficientnet_b4",
    "efficientnet_b5", "efficientnet_b6", "efficientnet_b7",
)

RESOLUTION = 64  # the real forward pass runs small


def test_registered_with_its_fixed_points():
    assert get("mobile") is SPACE and SPACE.fixed_points == NAMES


def test_mobilenet_v2_encoding_is_its_table():
    params = SPACE.encode(backbones.get("mobilenet_v2"))
    # the paper's (t, c, n, s) rows: (1, 16, 1, 1) (6, 24, 2, 2) (6, 32, 3, 2) (6, 64, 4, 2) (6, 96, 3, 1) ...
    rows = [(params[f"s{s}.b1.expand_ratio"], params[f"s{s}.b1.out_channels"], params[f"s{s}.b1.repeats"])
            for s in range(1, 8)]
    assert rows == [(1.0, 16, 1), (6.0, 24, 2), (6.0, 32, 3), (6.0, 64, 4), (6.0, 96, 3), (6.0, 160, 3), (6.0, 320, 1)]
    assert params["width_mult"] == params["depth_mult"] == 1.0
    assert params["s1.activation"] == "relu6" and params["head.out_channels"] == 1280


def test_mobilenet_v3_small_keeps_its_irregular_expansions():
    params = SPACE.encode(backbones.get("mobilenet_v3_small"))
    assert params["se.rule"] == "expanded" and params["se.gate"] == "hardsigmoid"
    assert params["s2.b1.expand_ratio"] == 4.5  # 16 -> 72
    assert params["s3.activation"] == "hardswish" and params["head.hidden_width"] == 1024


def test_multipliers_scale_like_multiply():
    v2 = SPACE.encode(backbones.get("mobilenet_v2"))
    assert SPACE.decode(v2 | {"width_mult": 0.5, "resolution": 160}) == multiply(backbones.get("mobilenet_v2"), 0.5,
                                                                                 1.0, 160)
    b0 = SPACE.encode(backbones.get("efficientnet_b0"))  # the space's points have no stochastic depth
    assert SPACE.decode(b0 | {"depth_mult": 0.75, "resolution": 256}) == without_settings(multiply(
        backbones.get("efficientnet_b0"), 1.0, 0.75, 256))


@pytest.mark.parametrize("name,width,depth,resolution", [
    ("mobilenet_v2", 0.75, 1.0, 192), ("mobilenet_v2", 1.4, 1.0, 224), ("efficientnet_b0", 0.75, 0.75, 192),
    ("mnasnet_a1", 0.5, 1.0, 224), ("mobilenet_v1", 0.5, 1.0, 160), ("efficientnet_b0", 1.0, 1.5, 256),
])
def test_scaled_backbones_stay_points(name, width, depth, resolution):
    assert SPACE.contains(multiply(backbones.get(name), width, depth, resolution))


def test_budgeted_samples_fit_and_are_sensible():
    budget = 300_000_000
    for _, spec in zip(range(100), SPACE.samples(0, budget)):
        assert count(spec).macs <= budget
        widths = [b.args.out_channels for stage in spec.stages for b in stage.blocks]
        assert all(w % 8 == 0 for w in widths)
        strides = [stage.blocks[0].args.stride for stage in spec.stages]
        assert strides.count(2) == 4  # output stride 32, as every MobileNet


@pytest.mark.parametrize(
    "change,message",
    [
        ({"s2.kind": "conv"}, "mobile: parameter 's2.kind' must be one of 'dsconv', 'mbconv', 'ant', got 'conv'"),
        ({"s2.b1.out_channels": 72}, "mobile: parameter 's2.b1.out_channels' must be int in [8, 32] step 8, got 72"),
        ({"s3.b1.expand_ratio": 7.0}, ("mobile: parameter 's3.b1.expand_ratio' must be float in [1.0, 6.0] "
                                       "step 0.25, got 7.0")),
        ({"resolution": 225}, ("mobile: parameter 'resolution' must be one of 96, 112, 128, 144, 160, 176, 192, 208, "
                               "224, 240, 256, 260, 288, 300, 320, 380, 456, 528, 600, got 225")),
        ({"s1.stride": 2}, "mobile: unknown parameter(s) ['s1.stride'] for this point of the space"),
    ],
)
def test_strict_decode(change, message):
    params = SPACE.encode(backbones.get("mobilenet_v3_small")) | change
    with pytest.raises(SpaceError) as err:
        SPACE.decode(params)
    assert str(err.value) == message


def test_not_contained():
    assert not SPACE.contains(backbones.get("shufflenet_v2_x1_0"))


def test_smallest_is_valid():
    smallest = SPACE.smallest()
    assert SPACE.contains(smallest)
    assert count(smallest).macs < count(backbones.get("mobilenet_v3_small")).macs




def test_abandoning_over_budget_draws_changes_nothing_but_speed():
    """Budgeted sampling stops a draw once the stages drawn so far exceed the budget. From the same RNG
    state, a draw it abandons must be a network over the budget when drawn whole, and a draw it finishes
    must be exactly the network drawn whole: the sampler is rejection sampling, only faster."""
    budget = 300_000_000
    abandoned = finished = 0
    for seed in range(150):
        whole = SPACE.suggest(RandomTrial(random.Random(seed), seen={}))
        try:
            spec = SPACE.suggest(RandomTrial(random.Random(seed), seen={}, budget=budget))
        except OverBudget:
            abandoned += 1
            assert count(whole).macs > budget
            continue
        finished += 1
        assert spec == whole and count(spec) == count(whole)
    assert abandoned > 30 and finished > 30  # both paths taken


def test_budget_check_is_ignored_without_a_budget():
    spec = backbones.get("efficientnet_b7")  # 37 G multiply-adds: far over any sampling budget
    assert SPACE.decode(SPACE.encode(spec)) == without_settings(spec)
    with pytest.raises(OverBudget):
        check_budget(RandomTrial(random.Random(0), budget=count(spec).macs - 1), count(spec).macs)
    check_budget(RandomTrial(random.Random(0)), count(spec).macs)  # no budget: no-op
