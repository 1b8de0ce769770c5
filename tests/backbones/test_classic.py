"""AlexNet, VGG-16 (plain and BN) and SqueezeNet 1.0/1.1 against outside figures (typed here from the
reference implementations cited on each line, never computed by our code): exact parameters, multiply-adds
within the printed rounding, exact against PyTorch's own count, a real forward pass, and JSON.

[M]: measured on the named public implementation with random weights (parameter numels; fvcore
0.1.5 conv + linear multiply-adds; torch 2.13.0+cpu, torchvision 0.28.0, timm 1.0.31, pytorchcv 0.0.74).
[S:tv]: read from the `_meta` dict (num_params, _ops) in torchvision 0.28.0 torchvision/models/<file>.py."""

import pytest

from search_spaces import count
from search_spaces.backbones import get
from search_spaces.backbones.classic import BACKBONES
from search_spaces.cost import Shape
from search_spaces.counting import stage_shapes
from search_spaces.scale import multiply
from tests.exact import assert_exact_network

G = 10**9
# name: (params, macs, macs_tol): conv + linear multiply-adds at 224; tolerance = half the last printed digit
REFERENCE = {
    "alexnet": (61_100_840, 0.7142 * G, 50_000),  # [M][S:tv] torchvision alexnet.py, tv _ops 0.714
    "vgg16": (138_357_544, 15.4703 * G, 50_000),  # [M][S:tv] torchvision vgg.py
    "vgg16_bn": (138_365_992, 15.4703 * G, 50_000),  # [M][S:tv] torchvision vgg.py; BN adds no conv/linear MACs
    "squeezenet1_0": (1_248_424, 0.8189 * G, 50_000),  # [M][S:tv] torchvision squeezenet.py, at 224 (0.8327 G at 227)
    "squeezenet1_1": (1_235_496, 0.3492 * G, 50_000),  # [M][S:tv] torchvision squeezenet.py, at 224
}
NAMES = [row.name for row in BACKBONES]
SMALL = 64  # AlexNet's 11x11/4 conv and three 3x3/2 pools need 63 px to keep a 1x1 map; 64 suits all


def test_batchnorm_is_the_only_difference_between_vgg16_and_vgg16_bn():
    # torchvision vgg.py `_meta` num_params, vgg16_bn minus vgg16 [S:tv]: BN adds 8,448 params: two per channel
    # of the 13 convs, 2 * 4224
    assert count(get("vgg16_bn")).params - count(get("vgg16")).params == 8_448
    assert count(get("vgg16_bn")).macs == count(get("vgg16")).macs


def test_squeezenet_ceil_mode_pools_give_torchvision_map_sizes():
    # torchvision squeezenet1_0 at 224: conv 7x7/2 -> 109, ceil-mode pools -> 54 -> 27 -> 13
    assert stage_shapes(get("squeezenet1_0")) == [Shape(256, 54, 54), Shape(512, 27, 27), Shape(512, 13, 13)]
    # squeezenet1_1: conv 3x3/2 -> 111, then 55 -> 27 -> 13
    assert stage_shapes(get("squeezenet1_1")) == [Shape(128, 55, 55), Shape(256, 27, 27), Shape(512, 13, 13)]


def test_squeezenet_1_1_needs_about_2_4x_less_compute():
    # torchvision docstring: "2.4x less computation than SqueezeNet 1.0"; measured ratio 2.35 ([M] 0.8189 / 0.3492 G)
    ratio = count(get("squeezenet1_0")).macs / count(get("squeezenet1_1")).macs
    assert round(ratio, 2) == 2.35


@pytest.mark.parametrize("name", NAMES)
def test_width_multiplier_keeps_the_spec_valid_and_exact(name):
    spec = get(name)
    assert multiply(spec) == spec  # the table is written in the canonical rows `multiply` emits
    assert_exact_network(multiply(spec, 0.5, resolution=SMALL))
