"""ShuffleNet v1 (g=3) and v2 (torchvision and Megvii splits) against outside figures (typed here from the
reference implementations cited on each line, never computed by our code): exact parameters, multiply-adds
within the printed rounding, exact against PyTorch's own count, a real forward pass, and JSON.

[M]: measured on the named public implementation with random weights (parameter numels; fvcore
0.1.5 conv + linear multiply-adds; torch 2.13.0+cpu, torchvision 0.28.0, timm 1.0.31, pytorchcv 0.0.74).
[S:tv]: read from the `_meta` dict (num_params, _ops) in torchvision 0.28.0 torchvision/models/<file>.py.
"megvii": the official megvii-model/ShuffleNet-Series code (ShuffleNetV1/network.py, ShuffleNetV2)."""
import dataclasses

import pytest

from search_spaces import count
from search_spaces.backbones import get
from search_spaces.backbones.shuffle import BACKBONES
from search_spaces.scale import multiply
from search_spaces.spec import Block
from tests.exact import assert_exact_network

G = 10**9
# name: (params, macs, macs_tol): conv + linear multiply-adds at 224; tolerance = half the last printed digit
REFERENCE = {
    "shufflenet_v1_g3": (1_864_728, 0.1375 * G, 50_000),  # [M] megvii ShuffleNetV1 network.py 1.0x g=3, no FC bias
    "shufflenet_v2_x0_5": (1_366_792, 0.0405 * G, 50_000),  # [M][S:tv] torchvision shufflenetv2.py
    "shufflenet_v2_x1_0": (2_278_604, 0.1449 * G, 50_000),  # [M][S:tv] torchvision shufflenetv2.py
    "shufflenet_v2_x1_5": (3_503_624, 0.2958 * G, 50_000),  # [M][S:tv] torchvision shufflenetv2.py
    "shufflenet_v2_x2_0": (7_393_996, 0.5833 * G, 50_000),  # [M][S:tv] torchvision shufflenetv2.py
    "shufflenet_v2_x0_5_megvii": (1_365_792, 0.0405 * G, 50_000),  # [M] megvii ShuffleNetV2, no FC bias
    "shufflenet_v2_x1_0_megvii": (2_278_760, 0.1458 * G, 50_000),  # [M] megvii ShuffleNetV2
    "shufflenet_v2_x1_5_megvii": (3_506_720, 0.2990 * G, 50_000),  # [M] megvii ShuffleNetV2
    "shufflenet_v2_x2_0_megvii": (7_402_600, 0.5908 * G, 50_000),  # [M] megvii ShuffleNetV2
}
NAMES = [row.name for row in BACKBONES]
# v1's stem must stay a multiple of its 3 groups: 24 * 0.5 rounds to 16, 24 * 2.0 is 48 (Megvii's 2.0x)
WIDTH = {"shufflenet_v1_g3": 2.0}
SMALL = 32  # stem 4x and three stride-2 stages 8x: 32 px keeps a 1x1 map


def test_v1_with_a_classifier_bias_is_pytorchcv():
    # [M] pytorchcv 0.0.74 shufflenet_g3_w1 adds an FC bias: 1,865,728 params
    spec = get("shufflenet_v1_g3")
    head = spec.head[0]
    biased = dataclasses.replace(spec, head=(Block(head.cell, dataclasses.replace(head.args, bias=True)),))
    assert count(biased).params == 1_865_728


def test_megvii_split_matches_the_paper_figure():
    # ShuffleNet v2 2.0x: paper / README 591 M FLOPs is met only by Megvii's split (torchvision: 583 M)
    assert round(count(get("shufflenet_v2_x2_0_megvii")).macs / 10**6) == 591
    assert round(count(get("shufflenet_v2_x2_0")).macs / 10**6) == 583


def test_splits_agree_at_0_5x_except_the_classifier_bias():
    # at 0.5x each stage's input is exactly half its output, so C_in == C_out / 2 and the splits coincide
    tv, megvii = get("shufflenet_v2_x0_5"), get("shufflenet_v2_x0_5_megvii")
    assert tv.stages == megvii.stages
    assert count(tv).params - count(megvii).params == 1000


@pytest.mark.parametrize("name", NAMES)
def test_width_multiplier_keeps_the_spec_valid_and_exact(name):
    spec = get(name)
    assert multiply(spec) == spec  # the table is written in the canonical rows `multiply` emits
    assert_exact_network(multiply(spec, WIDTH.get(name, 0.5), resolution=SMALL))


def test_v1_at_twice_the_width_is_megvii_2_0x():
    # Megvii ShuffleNetV1 network.py, model_size 2.0x: stage widths 480 / 960 / 1920, mid = out // 4
    wide = multiply(get("shufflenet_v1_g3"), 2.0)
    assert [s.blocks[0].args.out_channels for s in wide.stages] == [480, 960, 1920]
    assert [s.blocks[0].args.mid_channels for s in wide.stages] == [120, 240, 480]
    assert wide.stem[0].args.out_channels == 48
