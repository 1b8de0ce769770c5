"""Exactness of the fpn neck over stage-output pyramids, its torchvision semantics, and its errors."""
import re

import pytest
import torch
import torch.nn.functional as F

from search_spaces.cells.fpn import FeaturePyramid, FpnArgs
from search_spaces.cost import Shape
from search_spaces.errors import SpecError
from tests.exact import assert_exact_cell

RESNET_224 = [Shape(256, 56, 56), Shape(512, 28, 28), Shape(1024, 14, 14), Shape(2048, 7, 7)]
ODD = [Shape(8, 25, 25), Shape(16, 13, 13), Shape(32, 7, 7), Shape(64, 4, 4)]  # 100px: odd sizes round up

GRID = [
    ("fpn", FpnArgs(16), [Shape(8, 16, 16), Shape(12, 8, 8), Shape(20, 4, 4), Shape(24, 2, 2)]),
    ("fpn", FpnArgs(8, extra_pool=False), ODD),
    ("fpn", FpnArgs(8, (2, 3, 4)), ODD),  # skip the finest stage (RetinaNet's C3-C5)
    ("fpn", FpnArgs(8, (1, 3), bias=False), ODD),  # non-adjacent levels: top-down upsampling by 4
    ("fpn", FpnArgs(12, (1,)), [Shape(6, 9, 7)]),  # one level, non-square
    ("fpn", FpnArgs(8, (2,)), [Shape(6, 9, 9), Shape(4, 5, 5)]),  # one level, not the last stage
    ("fpn", FpnArgs(8, (1, 2)), [Shape(4, 10, 12), Shape(6, 5, 6), Shape(8, 3, 3)]),  # a later stage unused
]


@pytest.mark.parametrize("name,args,shapes", GRID, ids=[f"{g[0]}-{i}" for i, g in enumerate(GRID)])
def test_cell_cost_is_exact(name, args, shapes):
    assert_exact_cell(name, args, shapes)


def test_resnet50_fpn_cost_by_hand():
    # torchvision resnet_fpn_backbone: laterals 1x1 (256, 512, 1024, 2048) -> 256 with bias, outputs 3x3 256 -> 256
    from search_spaces.cells import get

    cost, outs = get("fpn").cost(FpnArgs(256), RESNET_224)
    assert cost.params == (256 + 512 + 1024 + 2048) * 256 + 4 * 256 + 4 * (9 * 256 * 256 + 256)  # 3,344,384
    assert cost.macs == 256 * (56 * 56 * 256 + 28 * 28 * 512 + 14 * 14 * 1024 + 7 * 7 * 2048) + 9 * 256 * 256 * (
        56 * 56 + 28 * 28 + 14 * 14 + 7 * 7)
    assert [(s.h, s.c) for s in outs] == [(56, 256), (28, 256), (14, 256), (7, 256), (4, 256)]  # "pool": 7 -> 4
    assert_exact_cell("fpn", FpnArgs(256), RESNET_224)


def test_forward_matches_torchvision_semantics():
    torch.manual_seed(0)
    fpn = FeaturePyramid(FpnArgs(4, (1, 2)), [3, 5]).eval()
    c1, c2 = torch.randn(2, 3, 7, 7), torch.randn(2, 5, 4, 4)
    with torch.no_grad():
        top = fpn.lateral[1](c2)
        p2 = fpn.output[1](top)
        merged = fpn.lateral[0](c1) + F.interpolate(top, size=(7, 7), mode="nearest")
        p1 = fpn.output[0](merged)
        p3 = p2[:, :, ::2, ::2]  # max_pool2d with kernel 1, stride 2 is plain subsampling
        for got, want in zip(fpn([c1, c2]), [p1, p2, p3], strict=True):
            assert torch.allclose(got, want)


ERRORS = [
    (lambda: FpnArgs(0), "fpn out_channels must be in [1, 65536], got 0"),
    (lambda: FpnArgs(8, ()), "fpn in_stages must be a non-empty tuple of stage numbers, got ()"),
    (lambda: FpnArgs(8, [1, 2]), "fpn in_stages must be a non-empty tuple of stage numbers, got [1, 2]"),
    (lambda: FpnArgs(8, (2, 1)), "fpn in_stages must increase (finest level first), got (2, 1)"),
    (lambda: FpnArgs(8, (1, 1)), "fpn in_stages must increase (finest level first), got (1, 1)"),
    (lambda: FpnArgs(8, (0, 1)), "fpn in_stages entry must be in [1, 64], got 0"),
    (lambda: FpnArgs(8, tuple(range(1, 10))), "fpn in_stages has 9 levels; at most 8"),
]


@pytest.mark.parametrize("make,message", ERRORS)
def test_bad_arguments(make, message):
    with pytest.raises(SpecError, match=re.escape(message)):
        make()


def test_missing_stage_is_refused():
    from search_spaces.cells import get

    with pytest.raises(SpecError, match=re.escape("fpn in_stages names stage 4 but the network has 3 stages")):
        get("fpn").cost(FpnArgs(8), ODD[:3])
