"""fpn_resnet50: torchvision's resnet_fpn_backbone('resnet50') figures, exactness, forward, JSON."""
import dataclasses

import pytest
import torch

from search_spaces.backbones import get, reference
from search_spaces.counting import count
from search_spaces.network import build

# Reference figures, typed here from outside our code (derivations, not our output):
RESNET50_PARAMS = 25_557_032  # torchvision resnet50 num_params [torchvision 0.28 models/resnet.py _meta]
RESNET50_MACS = 4_089_184_256  # torchvision 0.28 resnet50 conv+fc MACs at 224 [measured, fvcore 0.1.5]
FC_PARAMS, FC_MACS = 2048 * 1000 + 1000, 2048 * 1000  # the FC that resnet_fpn_backbone drops
RESNET50_BN_PARAMS = 2 * 26_560  # BN channels: 64 + 1408 + 3584 + 10240 + 11264 (stem, layer1..4 with downsample)
# torchvision FeaturePyramidNetwork(in_channels_list=[256, 512, 1024, 2048], out_channels=256), convs with bias:
FPN_PARAMS = (256 + 512 + 1024 + 2048) * 256 + 4 * 256 + 4 * (9 * 256 * 256 + 256)  # 3,344,384
FPN_MACS = 256 * (56 * 56 * 256 + 28 * 28 * 512 + 14 * 14 * 1024 + 7 * 7 * 2048) + 9 * 256 * 256 * (
    56 * 56 + 28 * 28 + 14 * 14 + 7 * 7)  # 2,841,968,640 at 224
# torchvision fasterrcnn_resnet50_fpn num_params 41,755,286 [torchvision 0.28 detection/faster_rcnn.py _meta]
# minus RPNHead (590,080 + 771 + 3,084) and TwoMLPHead + FastRCNNPredictor (12,846,080 + 1,049,600 + 93,275
# + 373,100): the backbone with FrozenBatchNorm2d (BN affine as buffers).
TV_FROZEN_BN_PARAMS = 41_755_286 - 593_935 - 14_362_055  # 26,799,296

EXPECTED = {
    "fpn_resnet50": (
        RESNET50_PARAMS - FC_PARAMS + FPN_PARAMS,  # 26,852,416: resnet_fpn_backbone with norm_layer=BatchNorm2d
        RESNET50_MACS - FC_MACS + FPN_MACS,  # 6,929,104,896
    ),
}


def test_frozen_bn_derivations_agree():
    # Two independent routes to torchvision's default (FrozenBatchNorm2d) backbone parameter count.
    assert TV_FROZEN_BN_PARAMS == RESNET50_PARAMS - FC_PARAMS - RESNET50_BN_PARAMS + FPN_PARAMS


@pytest.mark.parametrize("name", list(EXPECTED))
def test_count_matches_reference(name):
    params, macs = EXPECTED[name]
    cost = count(get(name))
    assert cost.params == params
    assert cost.macs == macs
    ref = reference(name)
    assert (ref.params, ref.macs, ref.macs_tol) == (params, macs, 0)
    assert cost.params - RESNET50_BN_PARAMS == TV_FROZEN_BN_PARAMS  # only the frozen BN affine differs


@pytest.mark.parametrize("name", list(EXPECTED))
def test_forward_returns_five_levels(name):
    torch.manual_seed(0)
    spec = dataclasses.replace(get(name), resolution=64)
    net = build(spec).eval()
    with torch.no_grad():
        levels = net(torch.randn(2, 3, 64, 64))
    assert [tuple(t.shape) for t in levels] == [(2, 256, s, s) for s in (16, 8, 4, 2, 1)]  # strides 4..64
    assert all(torch.isfinite(t).all() for t in levels)


