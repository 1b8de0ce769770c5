"""The rounding rule and the width / depth / resolution transform."""
import dataclasses

import pytest

from search_spaces.backbones import get, names, row
from search_spaces.cells.conv import ConvArgs
from search_spaces.cells.head import ClassifierArgs
from search_spaces.cells.mbconv import DSConvArgs, MBConvArgs
from search_spaces.errors import SpecError
from search_spaces.rounding import make_divisible
from search_spaces.scale import multiply
from search_spaces.spec import Block, NetSpec, Stage


@pytest.mark.parametrize("value,divisor,min_value,expected", [
    (32, 8, None, 32),
    (24.0, 8, None, 24),
    (18, 8, None, 24),  # 16 would be below 90 % of 18: torchvision's MobileNetV3 SE width for 72 // 4
    (30, 8, None, 32),
    (5.6, 8, None, 8),  # never below the divisor
    (123.2, 8, None, 120),  # EfficientNet-B2: 112 * 1.1
    (211.2, 8, None, 208),  # EfficientNet-B2: 192 * 1.1
    (44.0, 8, None, 48),  # EfficientNet-B2: 40 * 1.1 (ties round up)
    (11, 8, None, 16),  # 8 is below 90 % of 11
    (100, 16, None, 96),
    (3, 8, 4, 4),  # an explicit floor; 4 >= 2.7
])
def test_make_divisible(value, divisor, min_value, expected):
    assert make_divisible(value, divisor, min_value) == expected


MOBILE = [name for name in names() if row(name).family == "mobile"]


@pytest.mark.parametrize("name", MOBILE)
def test_multiply_by_one_is_the_identity(name):
    spec = get(name)
    assert multiply(spec) == spec


# per-stage (repeats, out channels) read off torchvision 0.28.0 efficientnet_b1..b7 as built
# (torchvision/models/efficientnet.py _efficientnet_conf(width_mult, depth_mult)):
# (width, depth): (stem, [(repeats, out) per stage], head conv)
EFFICIENTNET_STAGES = {
    (1.0, 1.1): (32, [(2, 16), (3, 24), (3, 40), (4, 80), (4, 112), (5, 192), (2, 320)], 1280),
    (1.1, 1.2): (32, [(2, 16), (3, 24), (3, 48), (4, 88), (4, 120), (5, 208), (2, 352)], 1408),
    (1.2, 1.4): (40, [(2, 24), (3, 32), (3, 48), (5, 96), (5, 136), (6, 232), (2, 384)], 1536),
    (1.4, 1.8): (48, [(2, 24), (4, 32), (4, 56), (6, 112), (6, 160), (8, 272), (2, 448)], 1792),
    (1.6, 2.2): (48, [(3, 24), (5, 40), (5, 64), (7, 128), (7, 176), (9, 304), (3, 512)], 2048),
    (1.8, 2.6): (56, [(3, 32), (6, 40), (6, 72), (8, 144), (8, 200), (11, 344), (3, 576)], 2304),
    (2.0, 3.1): (64, [(4, 32), (7, 48), (7, 80), (10, 160), (10, 224), (13, 384), (4, 640)], 2560),
}


@pytest.mark.parametrize("wd", list(EFFICIENTNET_STAGES))
def test_efficientnet_stages_follow_torchvision(wd):
    stem, stages, head = EFFICIENTNET_STAGES[wd]
    spec = multiply(get("efficientnet_b0"), *wd)
    assert spec.stem[0].args.out_channels == stem
    assert [(sum(b.repeats for b in s.blocks), s.blocks[-1].args.out_channels) for s in spec.stages] == stages
    assert spec.head[0].args.out_channels == head


def test_mbconv_widen_keeps_expansion_and_se_ratio():
    b3 = multiply(get("efficientnet_b0"), 1.2, 1.4)
    first, copies = b3.stages[0].blocks  # 40 -> 24 without expansion, then 24 -> 24
    assert (first.args.mid_channels, first.args.se_channels) == (40, 10)  # SE = max(1, in // 4)
    assert (copies.args.mid_channels, copies.args.se_channels, copies.repeats) == (24, 6, 1)
    first, copies = b3.stages[1].blocks  # 24 -> 32 (ratio 6), then 32 -> 32
    assert (first.args.mid_channels, first.args.se_channels, first.args.stride) == (144, 6, 2)
    assert (copies.args.mid_channels, copies.args.se_channels, copies.args.stride) == (192, 8, 1)


def test_default_rule_scales_channel_fields_only():
    spec = multiply(get("mobilenet_v1"), width=0.5)
    assert spec.stem[0].args == ConvArgs(16, 3, 2, activation="relu6")
    assert spec.stages[1].blocks == (Block("dsconv", DSConvArgs(64, 3, 2, "relu6"), 2),)
    assert spec.stages[-1].blocks[-1].args.out_channels == 512
    assert spec.head == get("mobilenet_v1").head  # no channel fields in the classifier


def test_depth_and_resolution_and_classes():
    base = dataclasses.replace(get("mobilenet_v2"), num_classes=10)
    spec = multiply(base, depth=1.5, resolution=160)
    assert (spec.resolution, spec.num_classes) == (160, 10)
    # rows (n = 1, 2, 3, 4, 3, 3, 1) become ceil(1.5 n); stem and head keep their single blocks
    assert [sum(b.repeats for b in s.blocks) for s in spec.stages] == [2, 3, 5, 6, 5, 5, 2]
    assert len(spec.stem) == 1 and spec.head == base.head


def test_separate_rows_are_not_merged():
    # Two stride-1 rows whose second is not the first's continuation stay two groups.
    rows = (Block("mbconv", MBConvArgs(16, 32)), Block("mbconv", MBConvArgs(16, 64)))
    spec = NetSpec(stem=(Block("conv", ConvArgs(16, 3, 2)),), stages=(Stage(rows),),
                   head=(Block("classifier", ClassifierArgs()),), resolution=32)
    scaled = multiply(spec, depth=2.0)
    assert [(b.args.mid_channels, b.repeats) for b in scaled.stages[0].blocks] == [(32, 2), (64, 2)]


@pytest.mark.parametrize("kwargs,message", [
    ({"width": 0}, "multiply width must be in [0.05, 16.0], got 0"),
    ({"depth": -1.0}, "multiply depth must be in [0.05, 16.0], got -1.0"),
    ({"width": "2"}, "multiply width must be a number, got '2'"),
    ({"resolution": 0}, "network resolution must be in [1, 8192], got 0"),
])
def test_bad_multipliers(kwargs, message):
    with pytest.raises(SpecError, match=message.replace("[", r"\[").replace("]", r"\]")):
        multiply(get("mobilenet_v2"), **kwargs)


def test_depth_repeats_only_blocks_whose_copies_keep_the_shape():
    from search_spaces import backbones
    from search_spaces.counting import count

    vgg = multiply(backbones.get("vgg16"), depth=1.5)  # conv rows 2,2,3,3,3 -> 3,3,5,5,5; the five pools stay single
    convs = [b.repeats for s in vgg.stages for b in s.blocks if b.cell == "conv"]
    pools = [b.repeats for s in vgg.stages for b in s.blocks if b.cell == "maxpool"]
    assert convs == [3, 3, 5, 5, 5] and pools == [1] * 5
    dense = multiply(backbones.get("densenet121"), depth=2.0)  # DenseNet-121's blocks 6,12,24,16 -> 12,24,48,32
    assert [b.args.layers for s in dense.stages for b in s.blocks if b.cell == "dense"] == [12, 24, 48, 32]
    assert [b.repeats for s in dense.stages for b in s.blocks if b.cell == "dense_transition"] == [1, 1, 1]
    assert count(dense).params > count(backbones.get("densenet121")).params


def test_a_scaled_stem_keeps_the_width_shufflenet_v1_groups_need():
    # ShuffleNet v1 g3: stem 24, stage widths 240/480/960. At width 1.21, 24 * 1.21 = 29.04 makes 32 by the
    # usual rule, and stage 2's stride-2 unit would output 32 + make_divisible(216 * 1.21, 3) = 32 + 261 =
    # 293 channels, which its grouped copies cannot take. The stem is rounded to a multiple of 3 instead:
    # make_divisible(29.04, 3) = 30, so the unit outputs 30 + 261 = 291 = 3 * 97.
    base = get("shufflenet_v1_g3")
    spec = multiply(base, width=1.21)
    assert spec.stem[0].args.out_channels == 30
    assert spec.stages[0].blocks[0].args.out_channels == 291
    # 24 * 1.5 = 36: the usual rule gives 40, not a multiple of 3, so make_divisible(36, 3) = 36
    assert multiply(base, width=1.5).stem[0].args.out_channels == 36
    assert multiply(base, width=2.0).stem[0].args.out_channels == 48  # 48 = 6 * 8: the usual rule stands
    # a stem of another network keeps the usual rule (MobileNetV2's first block takes any width)
    assert multiply(get("mobilenet_v2"), width=1.21).stem[0].args.out_channels == make_divisible(32 * 1.21)
