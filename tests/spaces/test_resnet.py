"""The resnet space: every named residual backbone is a point, seeded round trips, budgets, strict decode."""
import dataclasses

import pytest

from search_spaces import backbones
from search_spaces.cells.res2net import Res2NetArgs
from search_spaces.cells.residual import BottleneckArgs
from search_spaces.counting import count
from search_spaces.errors import SpaceError
from search_spaces.scale import multiply
from search_spaces.spaces import get
from search_spaces.spaces.resnet import bottleneck_width
from search_spaces.spec import Block, Stage

SPACE = get("resnet")
NAMED = (
    "resnet18", "resnet34", "resnet50", "resnet101", "resnet152", "resnet50_v1", "resnext50_32x4d",
    "seresnet50", "res2net50_26w_4s", "res2net101_26w_4s", "regnetx_600mf", "regnety_600mf", "detnet59",
    "hetconv_resnet50", "resnet50_ga_0010",
)
SAMPLES = [SPACE.sample(seed) for seed in range(100)]


def test_fixed_points_cover_the_brief():
    assert set(NAMED) <= set(SPACE.fixed_points)


@pytest.mark.parametrize(
    "name,expected",
    [
        ("resnet50", {"stem": "resnet", "s3.kind": "bottleneck", "s3.depth": 6, "s3.bottleneck_ratio": 0.25,
                      "s3.group_width": 0, "s3.part": 1, "s1.stride": 1}),
        ("resnext50_32x4d", {"s1.bottleneck_ratio": 0.5, "s1.group_width": 4, "s4.group_width": 32}),
        ("regnetx_600mf", {"stem": "simple", "stem_width": 32, "s4.kind": "regnet", "s4.group_width": 24,
                           "s4.se_ratio": 0.0, "s4.depth": 7}),
        ("regnety_600mf", {"s2.out_channels": 112, "s2.se_ratio": 0.25, "s2.group_width": 16}),
        ("detnet59", {"num_stages": 5, "s5.stride": 1, "s5.dilation": 2, "s5.projection": "always"}),
        ("res2net50_26w_4s", {"s2.kind": "res2net", "s2.base_width": 26, "s2.scale": 4}),
        ("hetconv_resnet50", {"s2.part": 4}),
        ("resnet18", {"s1.kind": "basic", "s1.projection": "auto", "s1.se_reduction": 0}),
        ("seresnet50", {"s4.se_reduction": 16}),
        ("resnet50_v1", {"s2.stride_in_1x1": True}),
        ("resnet50", {"s1.attention": False, "s4.attention": False}),
        ("resnet50_ga_0010", {"s1.attention": False, "s2.attention": False, "s3.attention": True,
                              "s4.attention": True, "attention_pattern": "0010"}),
    ],
)
def test_named_parameters(name, expected):
    params = SPACE.encode(backbones.get(name))
    assert {k: params[k] for k in expected} == expected
    assert params["width_mult"] == params["depth_mult"] == 1.0 and params["resolution"] == 224


def test_samples_are_sensible():
    for spec in SAMPLES:
        for stage in spec.stages:
            for block in stage.blocks:
                args = block.args
                assert args.out_channels % 8 == 0
                if isinstance(args, BottleneckArgs):
                    assert args.mid_channels % 8 == 0 and args.mid_channels % args.groups == 0
                    assert args.conv == "conv" or args.mid_channels % args.part == 0
                if isinstance(args, Res2NetArgs):
                    assert args.split_channels >= 1 and args.stage_first
        assert count(spec).macs > 0  # the walk ran: no map vanished, every width fits
        reach = 2 if len(spec.stem) == 1 else 4
        for stage in spec.stages:
            reach *= stage.blocks[0].args.stride
        assert reach >= 16  # stride 1 only once the network is at output stride 16 (DetNet), else 32


def test_stride_is_a_choice_only_where_the_maps_are_small_enough():
    params = SPACE.encode(backbones.get("resnet50"))  # stem /4: s1 may keep /4, s2 and s3 must halve, s4 may
    assert [params.get(f"s{i}.stride") for i in (1, 2, 3, 4)] == [1, None, None, 2]
    params = SPACE.encode(backbones.get("regnetx_600mf"))  # stem /2: s1 to s3 must halve
    assert [params.get(f"s{i}.stride") for i in (1, 2, 3, 4)] == [None, None, None, 2]


def test_bottleneck_width_rounds_to_the_group_width():
    assert bottleneck_width(256, 0.25, 0) == (64, 1)  # ResNet-50 stage 1
    assert bottleneck_width(256, 0.5, 4) == (128, 32)  # ResNeXt-50 32x4d
    assert bottleneck_width(240, 1.0, 24) == (240, 10)  # RegNetX-600MF stage 3
    assert bottleneck_width(56, 1.0, 24) == (48, 2)  # pycls: a multiple of lcm(8, 24)
    assert bottleneck_width(16, 0.25, 0) == (8, 1)  # never below one quantum


def test_multipliers_scale_and_encode_with_ones():
    point = SPACE.encode(backbones.get("resnet50")) | {"width_mult": 0.5, "depth_mult": 1.5}
    spec = SPACE.decode(point)
    first = spec.stages[0].blocks[0]
    assert (first.args.out_channels, first.args.mid_channels, first.repeats) == (128, 32, 4)  # 256/2, 64/2, ceil(4.5)
    assert spec.stem[0].args.out_channels == 32
    params = SPACE.encode(spec)
    assert params["width_mult"] == params["depth_mult"] == 1.0
    assert SPACE.decode(params) == spec


@pytest.mark.parametrize("name", ["resnet18", "resnet34", "resnet50", "seresnet50", "hetconv_resnet50"])
def test_scaled_backbones_stay_points(name):
    assert SPACE.contains(multiply(backbones.get(name), 0.5, 0.5, 160))
    assert SPACE.contains(multiply(backbones.get(name), 0.75, 1.25, 256))


def test_not_contained():
    spec = backbones.get("resnet18")
    row = spec.stages[1].blocks[0]
    odd = Block("basic", dataclasses.replace(row.args, out_channels=132), row.repeats)  # off the step-8 grid
    assert not SPACE.contains(dataclasses.replace(spec, stages=(spec.stages[0], Stage((odd,)), *spec.stages[2:])))
    fixed = Block("basic", dataclasses.replace(spec.stages[0].blocks[0].args, projection=False), 2)
    # the space asks "auto" (None) or "always" (True) where shapes match: projection=False is no point
    assert not SPACE.contains(dataclasses.replace(spec, stages=(Stage((fixed,)), *spec.stages[1:])))
    assert not SPACE.contains(backbones.get("inception_v3"))


def test_generalized_attention_is_searched_per_stage_with_one_pattern():
    from search_spaces.cells.generalized_attention import PATTERNS, GeneralizedAttentionArgs

    assert "attention_pattern" not in SPACE.encode(backbones.get("resnet50"))  # drawn only where a stage has it
    assert SPACE.describe()["attention_pattern"] == "one of " + ", ".join(map(repr, PATTERNS))  # all sixteen
    point = SPACE.encode(backbones.get("resnet50_ga_0010")) | {"s2.attention": True, "attention_pattern": "1111"}
    spec = SPACE.decode(point)
    assert [s.blocks[0].args.generalized_attention for s in spec.stages] == [
        None, *[GeneralizedAttentionArgs(8, "1111", 2)] * 3]
    seen = {(p["attention_pattern"], sum(p.get(f"s{i}.attention", False) for i in range(1, 6)))
            for p in map(SPACE.encode, SAMPLES) if "attention_pattern" in p}
    assert len({pattern for pattern, _ in seen}) >= 8 and {n for _, n in seen} >= {1, 2}
    for spec in SAMPLES:  # one pattern per network, whichever stage drew it
        patterns = {b.args.generalized_attention.pattern for s in spec.stages for b in s.blocks
                    if getattr(b.args, "generalized_attention", None) is not None}
        assert len(patterns) <= 1
    spec = backbones.get("resnet50_ga_0010")
    mixed = [*spec.stages[:3], Stage((Block("bottleneck", dataclasses.replace(
        spec.stages[3].blocks[0].args, generalized_attention=GeneralizedAttentionArgs(8, "1111", 2)), 3),))]
    with pytest.raises(SpaceError, match="every stage with generalized attention uses one pattern"):
        SPACE.encode(dataclasses.replace(spec, stages=tuple(mixed)))
    four_heads = [*spec.stages[:3], Stage((Block("bottleneck", dataclasses.replace(
        spec.stages[3].blocks[0].args, generalized_attention=GeneralizedAttentionArgs(4, "0010", 2)), 3),))]
    assert not SPACE.contains(dataclasses.replace(spec, stages=tuple(four_heads)))


def test_smallest_is_valid_and_cheapest():
    spec = SPACE.smallest()
    assert SPACE.contains(spec)
    assert count(spec).macs < min(count(s).macs for s in SAMPLES)


POINT = SPACE.encode(backbones.get("resnet50"))


@pytest.mark.parametrize(
    "change,message",
    [
        ({"s2.group_width": 12},
         "resnet: parameter 's2.group_width' must be one of 4, 8, 16, 24, 32, 48, 64, 0, got 12"),
        ({"num_stages": 6}, "resnet: parameter 'num_stages' must be int in [3, 5], got 6"),
        ({"s3.depth": 37}, "resnet: parameter 's3.depth' must be int in [1, 36], got 37"),
        ({"s4.out_channels": 2052}, "resnet: parameter 's4.out_channels' must be int in [16, 2048] step 8, got 2052"),
        ({"num_stages": 5},
         "resnet: missing parameter 's5.kind' (one of 'basic', 'bottleneck', 'regnet', 'res2net')"),
        ({"s1.projection": "auto"}, "resnet: unknown parameter(s) ['s1.projection'] for this point of the space"),
        ({"s2.kind": "regnet"}, "resnet: missing parameter 's2.se_ratio' (one of 0.0, 0.25)"),
        ({"s2.stride": 1}, "resnet: unknown parameter(s) ['s2.stride'] for this point of the space"),
    ],
)
def test_strict_decode(change, message):
    with pytest.raises(SpaceError) as err:
        SPACE.decode(POINT | change)
    assert str(err.value) == message
