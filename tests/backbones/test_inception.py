"""GoogLeNet, BN-Inception, Inception-v3, Inception-v4 and Inception-ResNet-v2 against outside figures
(typed here from the reference implementations cited on each line, measured on them or read from their source,
never computed by our code): exact parameters, multiply-adds exact or within the printed rounding, exact
against PyTorch's own count, stage shapes as the reference sources print them, a real forward pass, and JSON.

[M]: measured on the named public implementation with random weights (parameter numels; fvcore
0.1.5 conv + linear multiply-adds; torch 2.13.0+cpu, torchvision 0.28.0, timm 1.0.31, pytorchcv 0.0.74).
[S:tv]: read from the `_meta` dict (num_params, _ops) in torchvision 0.28.0 torchvision/models/<file>.py."""
import math

import pytest

from search_spaces import count
from search_spaces.backbones import get, reference
from search_spaces.backbones.inception import BACKBONES
from search_spaces.cost import Shape
from search_spaces.counting import stage_shapes
from search_spaces.scale import multiply
from tests.exact import assert_exact_network

G = 10**9
# name: (params, macs, macs_tol): conv + linear multiply-adds; tolerance = half the last printed digit
REFERENCE = {
    # torchvision googlenet.py [M][S:tv], without aux; MACs exact: the fvcore count, 1,498,376,192 (`_ops` 1.498)
    "googlenet": (6_624_904, 1_498_376_192, 0),
    # [M] torchvision googlenet with its "5x5" branch made 5x5 (torchvision uses 3x3, vision#906), with BN
    "googlenet_5x5": (7_005_832, 1.5827 * G, 50_000),
    # measured on Cadene pretrainedmodels 0.7.4 models/bninception.py (torch 2.13, random weights,
    # FlopCounterMode total / 2, 1x3x224x224)
    "inception_v2": (11_295_240, 2_032_600_064, 0),
    # [M] torchvision inception_v3 without AuxLogits (= timm inception_v3); 5.7132 G at 299
    "inception_v3": (23_834_568, 5.7132 * G, 50_000),
    # [M] timm inception_v4 (TF port; pytorchcv inceptionv4 identical); 12.2540 G at 299
    "inception_v4": (42_679_816, 12.2540 * G, 50_000),
    # [M] timm inception_resnet_v2; 13.1558 G at 299
    "inception_resnet_v2": (55_843_464, 13.1558 * G, 50_000),
}
# exact MACs measured on Cadene pretrainedmodels 0.7.4 inceptionv4.py / inceptionresnetv2.py at 299 (the
# files timm's ports come from; same params as above), FlopCounterMode total / 2
EXACT_MACS = {"inception_v4": 12_253_974_624, "inception_resnet_v2": 13_155_794_016}
# with the training-only auxiliary classifiers: [M] torchvision googlenet(weights=None) build (aux_logits=True) and
# torchvision inception_v3 num_params [S:tv]
WITH_AUX = {"googlenet": 13_004_888, "inception_v3": 27_161_264}
NAMES = [row.name for row in BACKBONES]
# smallest sizes the nets take: v3/v4/Inception-ResNet-v2 need 75 (torchvision's minimum for v3); the
# stride-2 BN-Inception modules need an even map, which 64 gives


@pytest.mark.parametrize("name", sorted(EXACT_MACS))
def test_v4_and_inception_resnet_v2_macs_are_exact(name):
    assert count(get(name)).macs == EXACT_MACS[name]


@pytest.mark.parametrize("name", sorted(WITH_AUX))
def test_the_aux_difference_is_stated_in_the_note(name):
    # the aux heads are counted apart; the note names their exact size
    aux = WITH_AUX[name] - count(get(name)).params
    assert f"{aux:,}" in reference(name).note


# torchvision's auxiliary classifiers, parameter shapes typed from pytorch/vision torchvision/models/googlenet.py
# (InceptionAux: conv = BasicConv2d(in, 128, 1) [conv, bn]; fc1 Linear(2048, 1024); fc2 Linear(1024, classes);
# aux1 = InceptionAux(512), aux2 = InceptionAux(528)) and inception.py (InceptionAux: conv0 BasicConv2d(768, 128, 1),
# conv1 BasicConv2d(128, 768, 5), fc Linear(768, classes); AuxLogits = InceptionAux(768)); ours in the same order
TV_AUX = {
    "googlenet": [[(128, 512, 1, 1), (128,), (128,), (1024, 2048), (1024,), (1000, 1024), (1000,)],
                  [(128, 528, 1, 1), (128,), (128,), (1024, 2048), (1024,), (1000, 1024), (1000,)]],
    "googlenet_5x5": [[(128, 512, 1, 1), (128,), (128,), (1024, 2048), (1024,), (1000, 1024), (1000,)],
                      [(128, 528, 1, 1), (128,), (128,), (1024, 2048), (1024,), (1000, 1024), (1000,)]],
    "inception_v3": [[(128, 768, 1, 1), (128,), (128,), (768, 128, 5, 5), (768,), (768,), (1000, 768), (1000,)]],
}
AUX_WEIGHTS = {"googlenet": (0.3, 0.3), "googlenet_5x5": (0.3, 0.3), "inception_v3": (0.4,)}  # paper; TF-slim


@pytest.mark.parametrize("name", sorted(TV_AUX))
def test_aux_heads_match_torchvision_and_count_exactly_in_training(name):
    import torch

    from search_spaces.counting import count_with_aux
    from search_spaces.network import build
    from tests.exact import BATCH

    spec = get(name)
    with torch.device("meta"):
        net = build(spec, aux=True)
    assert [[tuple(p.shape) for p in head.parameters()] for head in net.aux] == TV_AUX[name]
    assert net.aux_weights == AUX_WEIGHTS[name]
    aux_params = sum(math.prod(shape) for head in TV_AUX[name] for shape in head)
    assert count_with_aux(spec).params == count(spec).params + aux_params == sum(p.numel() for p in net.parameters())
    assert count(spec).params + aux_params == WITH_AUX.get(name, count(spec).params + 6_379_984)
    from torch.utils.flop_counter import FlopCounterMode

    with torch.device("meta"), FlopCounterMode(display=False) as counter:
        logits, extra = net.train()(torch.empty(BATCH, 3, spec.resolution, spec.resolution))
    assert counter.get_total_flops() == 2 * BATCH * count_with_aux(spec).macs
    assert len(extra) == len(TV_AUX[name]) and all(t.shape == (BATCH, 1000) for t in extra)


@pytest.mark.parametrize("name,shapes", [
    # torchvision googlenet forward comments: 192x56x56, 480x28x28, 832x14x14, 1024x7x7
    ("googlenet", [Shape(192, 56, 56), Shape(480, 28, 28), Shape(832, 14, 14), Shape(1024, 7, 7)]),
    # Cadene bninception: conv2 192@56, 3b 320@28, 4d 608@14, 5b 1024@7
    ("inception_v2", [Shape(192, 56, 56), Shape(320, 28, 28), Shape(608, 14, 14), Shape(1024, 7, 7)]),
    # torchvision inception_v3 forward comments: 192x71x71 (Conv2d_4a), 288x35x35, 768x17x17, 2048x8x8
    ("inception_v3", [Shape(192, 71, 71), Shape(288, 35, 35), Shape(768, 17, 17), Shape(2048, 8, 8)]),
    # timm inception_v4 feature_info: 160 (reduction 4), 384 (8), 1024 (16), 1536 (32)
    ("inception_v4", [Shape(160, 73, 73), Shape(384, 35, 35), Shape(1024, 17, 17), Shape(1536, 8, 8)]),
    # timm inception_resnet_v2 feature_info: 192 (conv2d_4a), 320 (repeat), 1088 (repeat_1), 1536 (conv2d_7b)
    ("inception_resnet_v2", [Shape(192, 71, 71), Shape(320, 35, 35), Shape(1088, 17, 17), Shape(1536, 8, 8)]),
])
def test_stage_outputs_match_the_reference_feature_maps(name, shapes):
    assert stage_shapes(get(name)) == shapes


def test_googlenet_5x5_differs_only_in_the_5x5_kernels():
    # nine modules, each 5x5red * 5x5 * (25 - 9) more weights
    widths = [(16, 32), (32, 96), (16, 48), (24, 64), (24, 64), (32, 64), (32, 128), (32, 128), (48, 128)]
    extra = sum(r * c * 16 for r, c in widths)
    assert count(get("googlenet_5x5")).params - count(get("googlenet")).params == extra


@pytest.mark.parametrize("name", ["googlenet", "inception_v2", "inception_resnet_v2"])
def test_width_and_depth_multipliers_keep_the_count_exact(name):
    # every branch width goes through the one rounding rule (the cells' widen hook); identity at 1.0
    spec = get(name)
    assert multiply(spec) == spec
    half = multiply(spec, width=0.5, depth=0.5)
    assert count(half).params < count(spec).params / 3
    assert_exact_network(half)
