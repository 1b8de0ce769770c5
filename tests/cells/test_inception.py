"""Exactness of the Inception cells (v1, BN-Inception, v3, v4, Inception-ResNet-v2) and their errors."""
import re

import pytest

from search_spaces import cells
from search_spaces.cells.head import ClassifierArgs
from search_spaces.cells.inception_v1 import BNInceptionArgs, InceptionV1Args
from search_spaces.cells.inception_v3 import (
    InceptionAArgs,
    InceptionBArgs,
    InceptionV3CArgs,
    ReductionAArgs,
    ReductionBArgs,
)
from search_spaces.cells.inception_v4 import (
    InceptionV4CArgs,
    ResnetAArgs,
    ResnetBArgs,
    ResnetReductionBArgs,
    StemConvArgs,
    StemPoolArgs,
)
from search_spaces.cost import Shape
from search_spaces.errors import SpecError
from search_spaces.spec import Block, NetSpec, Stage
from tests.exact import assert_exact_cell

GRID = [
    # GoogLeNet: torchvision's 3x3 "5x5" branch, the paper's 5x5, an odd size, a 7x7 kernel
    ("inception_v1", InceptionV1Args(8, (6, 10), (3, 5), 4, kernel_size=3), Shape(12, 9, 9)),
    ("inception_v1", InceptionV1Args(8, (6, 10), (3, 5), 4), Shape(12, 7, 11)),
    ("inception_v1", InceptionV1Args(3, (2, 5), (2, 4), 7, kernel_size=7), Shape(5, 8, 8)),
    # BN-Inception: avg and max pools, stride-2 reductions (even, odd and rectangular inputs), no bias
    ("bn_inception", BNInceptionArgs(8, (6, 10), (4, 6, 6), 4), Shape(12, 9, 9)),
    ("bn_inception", BNInceptionArgs(8, (6, 10), (4, 6, 6), 4, pool="max", bias=False), Shape(12, 6, 6)),
    ("bn_inception", BNInceptionArgs(0, (8, 10), (4, 6, 6), 0, "max", 2), Shape(12, 14, 14)),
    ("bn_inception", BNInceptionArgs(0, (8, 10), (4, 6, 6), 5, "avg", 2), Shape(12, 8, 10)),
    ("bn_inception", BNInceptionArgs(0, (8, 10), (4, 6, 6), 5), Shape(12, 5, 5)),
    # v3 35x35 (k=5, torchvision padding), v4 35x35 (k=3, timm padding)
    ("inception_a", InceptionAArgs(8, (6, 8), (8, 12, 12), 4), Shape(16, 7, 7)),
    ("inception_a", InceptionAArgs(12, (8, 12), (8, 12, 12), 12, 3, False), Shape(10, 6, 9)),
    # factorised 7x7 (v3 and v4 widths), 5x5 factorised, odd size
    ("inception_b", InceptionBArgs(8, (4, 4, 8), (4, 4, 4, 4, 8), 8), Shape(12, 9, 9)),
    ("inception_b", InceptionBArgs(12, (6, 7, 8), (6, 6, 7, 7, 8), 4, 5, False), Shape(10, 5, 8)),
    # expanded 8x8 modules
    ("inception_v3_c", InceptionV3CArgs(10, (12, 12), (14, 12, 12), 6), Shape(16, 4, 4)),
    ("inception_v3_c", InceptionV3CArgs(3, (5, 4), (6, 5, 7), 2, False), Shape(8, 5, 3)),
    ("inception_v4_c", InceptionV4CArgs(8, (12, 8), (12, 14, 16, 8), 8), Shape(16, 4, 4)),
    ("inception_v4_c", InceptionV4CArgs(3, (5, 4), (6, 5, 7, 3), 2, True), Shape(8, 3, 5)),
    # grid reductions on odd (35 -> 17) and even sizes
    ("reduction_a", ReductionAArgs(12, (6, 8, 8)), Shape(10, 35, 35)),
    ("reduction_a", ReductionAArgs(12, (6, 8, 8)), Shape(10, 8, 8)),
    ("reduction_b", ReductionBArgs((6, 10), (6, 6, 8, 8)), Shape(12, 17, 17)),
    ("reduction_b", ReductionBArgs((6, 10), (6, 6, 8, 8), 3), Shape(12, 10, 7)),
    ("inception_resnet_reduction_b", ResnetReductionBArgs((6, 12), (6, 10), (6, 8, 10)), Shape(16, 17, 17)),
    # v4 stem: mixed_3a, mixed_4a, mixed_5a shapes scaled down
    ("inception_v4_stem_pool", StemPoolArgs(12), Shape(8, 21, 21)),
    ("inception_v4_stem_pool", StemPoolArgs(12, pool_first=False), Shape(8, 10, 12)),
    ("inception_v4_stem_conv", StemConvArgs((6, 8), (6, 6, 6, 8)), Shape(10, 9, 9)),
    ("inception_v4_stem_conv", StemConvArgs((6, 8), (6, 6, 6, 8), 3), Shape(10, 6, 8)),
    # Inception-ResNet blocks: block35, block17, block8 and the final block8 without ReLU
    ("inception_resnet_a", ResnetAArgs(4, (4, 4), (4, 6, 8)), Shape(20, 7, 7)),
    ("inception_resnet_b", ResnetBArgs(8, (6, 7, 8)), Shape(24, 9, 9)),
    ("inception_resnet_b", ResnetBArgs(8, (8, 9, 10), 3, 0.2), Shape(24, 4, 6)),
    ("inception_resnet_b", ResnetBArgs(8, (8, 9, 10), 3, 1.0, "none"), Shape(24, 3, 3)),
]


@pytest.mark.parametrize("name,args,shape", GRID, ids=[f"{g[0]}-{i}" for i, g in enumerate(GRID)])
def test_cell_cost_is_exact(name, args, shape):
    assert_exact_cell(name, args, shape)


def test_output_widths():
    # torchvision / timm output widths of real modules, from their sources
    def width(cell, args, c, size):
        return cells.get(cell).cost(args, Shape(c, size, size))[1]

    v1 = InceptionV1Args(64, (96, 128), (16, 32), 32, 3)  # torchvision inception3a
    assert width("inception_v1", v1, 192, 28) == Shape(256, 28, 28)
    assert width("reduction_a", ReductionAArgs(384, (64, 96, 96)), 288, 35) == Shape(768, 17, 17)  # v3 6a
    v3_7a = ReductionBArgs((192, 320), (192, 192, 192, 192))
    assert width("reduction_b", v3_7a, 768, 17) == Shape(1280, 8, 8)
    v3_7b = InceptionV3CArgs(320, (384, 384), (448, 384, 384), 192)
    assert width("inception_v3_c", v3_7b, 1280, 8) == Shape(2048, 8, 8)
    v4_4a = StemConvArgs((64, 96), (64, 64, 64, 96))
    assert width("inception_v4_stem_conv", v4_4a, 160, 73) == Shape(192, 71, 71)
    ir_7a = ResnetReductionBArgs((256, 384), (256, 288), (256, 288, 320))
    assert width("inception_resnet_reduction_b", ir_7a, 1088, 17) == Shape(2080, 8, 8)


BAD = [
    # widths are tuples of the documented length
    (lambda: InceptionV1Args(8, (6,), (3, 5), 4), "inception_v1 ch3x3 must be a tuple of 2 widths, got (6,)"),
    (lambda: InceptionV1Args(8, [6, 10], (3, 5), 4),
     "inception_v1 ch3x3 must be a tuple of 2 widths, got [6, 10]"),
    (lambda: InceptionV1Args(0, (6, 10), (3, 5), 4), "inception_v1 ch1x1 must be in [1, 65536], got 0"),
    (lambda: InceptionV1Args(8, (6, 10), (3, 5), 4, 4), "inception_v1 kernel_size must be odd, got 4"),
    # a stride-2 BN-Inception module has no 1x1 branch (a strided 1x1 would drop 3/4 of the input)
    (lambda: BNInceptionArgs(8, (6, 10), (4, 6, 6), 0, "max", 2),
     "bn_inception stride 2 has no 1x1 branch, got ch1x1=8; set ch1x1=0"),
    (lambda: BNInceptionArgs(8, (6, 10), (4, 6, 6), 4, "median"),
     "bn_inception pool must be one of 'avg', 'max'; got 'median'"),
    (lambda: BNInceptionArgs(8, (6, 10), (4, 6, 6), 4, stride=3), "bn_inception stride must be in [1, 2], got 3"),
    (lambda: BNInceptionArgs(8, (6, 10), (4, 6, 0), 4), "bn_inception ch3x3dbl must be in [1, 65536], got 0"),
    (lambda: InceptionAArgs(8, (6, 8), (8, 12), 4),
     "inception_a ch3x3dbl must be a tuple of 3 widths, got (8, 12)"),
    (lambda: InceptionBArgs(8, (4, 4, 8), (4, 4, 4, 8), 8),
     "inception_b ch7x7dbl must be a tuple of 5 widths, got (4, 4, 4, 8)"),
    (lambda: InceptionBArgs(8, (4, 4, 8), (4, 4, 4, 4, 8), 8, 6), "inception_b kernel_size must be odd, got 6"),
    (lambda: InceptionV3CArgs(8, (4, 4), (4, 4, 4), -1), "inception_v3_c pool_proj must be in [1, 65536], got -1"),
    (lambda: InceptionV4CArgs(8, (4, 4), (4, 4, 4), 4),
     "inception_v4_c ch3x3dbl must be a tuple of 4 widths, got (4, 4, 4)"),
    (lambda: ReductionAArgs(1.5, (4, 4, 4)), "reduction_a ch3x3 must be an integer, got 1.5"),
    (lambda: ReductionBArgs((4, 4), (4, 4, 4, 4), 2), "reduction_b kernel_size must be odd, got 2"),
    (lambda: StemPoolArgs(0), "inception_v4_stem_pool out_channels must be in [1, 65536], got 0"),
    (lambda: StemConvArgs((4, 4), (4, 4, 4)),
     "inception_v4_stem_conv ch7x7 must be a tuple of 4 widths, got (4, 4, 4)"),
    (lambda: ResnetAArgs(4, (4, 4), (4, 6, 8), scale=-0.1),
     "inception_resnet_a scale must be in [0.0, 10.0], got -0.1"),
    (lambda: ResnetBArgs(8, (6, 7, 8), activation="tanh"), "inception_resnet_b activation must be one of"),
    (lambda: ResnetReductionBArgs((6, 12), (6,), (6, 8, 10)),
     "inception_resnet_reduction_b ch3x3_b must be a tuple of 2 widths, got (6,)"),
]


@pytest.mark.parametrize("make,message", BAD, ids=[m.split(" must")[0].split(" has")[0] for _, m in BAD])
def test_bad_arguments(make, message):
    with pytest.raises(SpecError, match="^" + re.escape(message)):
        make()


def test_widen_scales_every_branch_width_and_keeps_absent_branches():
    a = BNInceptionArgs(0, (128, 160), (64, 96, 96), 0, "max", 2)  # 3c: no 1x1, pass-through pool
    half = BNInceptionArgs(0, (64, 80), (32, 48, 48), 0, "max", 2)
    assert cells.get("bn_inception").widen(a, 0.5, 320, 160) == half
    r = ResnetBArgs(192, (128, 160, 192), 7, 0.1)  # kernel_size and scale are not widths
    assert cells.get("inception_resnet_b").widen(r, 2.0, 1088, 2176) == ResnetBArgs(384, (256, 320, 384), 7, 0.1)
    p = StemPoolArgs(96)
    assert cells.get("inception_v4_stem_pool").widen(p, 0.25, 64, 16) == StemPoolArgs(24)


def test_branches_that_disagree_in_size_are_an_error():
    # a stride-2 BN-Inception module needs an even input: on 7x7 its padded 3x3/2 convs give 4x4 and its
    # unpadded ceil-mode max pool 3x3 (Cadene's 3c and 4e see 28x28 and 14x14)
    args = BNInceptionArgs(0, (8, 10), (4, 6, 6), 0, "max", 2)
    assert cells.get("bn_inception").cost(args, Shape(12, 8, 8))[1] == Shape(28, 4, 4)
    with pytest.raises(SpecError, match=r"^bn_inception branches give different sizes 3x3, 4x4 on a 7x7 input"):
        cells.get("bn_inception").cost(args, Shape(12, 7, 7))
    with pytest.raises(SpecError, match=r"^s1.b1 \(bn_inception\): bn_inception branches give different sizes"):
        NetSpec(stem=(), stages=(Stage((Block("bn_inception", args),)),),
                head=(Block("classifier", ClassifierArgs()),), resolution=7)
