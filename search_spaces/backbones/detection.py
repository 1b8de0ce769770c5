"""Detection backbones: a classification body with a neck instead of a head (features, not logits).

`fpn_resnet50` is torchvision's `resnet_fpn_backbone(backbone_name="resnet50")` (the backbone of
`fasterrcnn_resnet50_fpn`): ResNet-50's stem and four stages (`resnet_body`, v1.5, no pool or FC), then an
FPN with 256 channels over the outputs of stages 1-4 (256, 512, 1024, 2048 channels) and the extra
max-pool level, so it returns five maps (strides 4, 8, 16, 32, 64).

torchvision builds it with FrozenBatchNorm2d, whose affine weight and bias are buffers, not parameters;
ours keeps trainable BatchNorm2d (the same network with `norm_layer=nn.BatchNorm2d`), so we count 53,120
more parameters (2 x 26,560 BN channels of ResNet-50). Multiply-adds are the same.
"""
from __future__ import annotations

from search_spaces.backbones.base import Backbone, Reference
from search_spaces.backbones.resnet import resnet_body
from search_spaces.cells.fpn import FpnArgs
from search_spaces.spec import Block, NetSpec

FPN_CHANNELS = 256


def fpn_resnet50(resolution: int = 224) -> NetSpec:
    """ResNet-50 v1.5 body with torchvision's FPN (256 channels, stages 1-4, LastLevelMaxPool)."""
    stem, stages = resnet_body((3, 4, 6, 3))
    neck = Block("fpn", FpnArgs(FPN_CHANNELS, (1, 2, 3, 4), bias=True, extra_pool=True))
    return NetSpec(stem, stages, neck=neck, resolution=resolution)


# Derived by hand from the torchvision 0.28 source and the ResNet-50 row of the reference table:
# body = resnet50 25,557,032 params - FC (2048 * 1000 + 1000) = 23,508,032 (BN trainable), and
# 4,089,184,256 MACs - FC 2,048,000 = 4,087,136,256 at 224.
# FPN params: laterals (256 + 512 + 1024 + 2048) * 256 + 4 * 256 = 984,064; outputs 4 * (9 * 256^2 + 256)
# = 2,360,320; total 3,344,384. FPN MACs at 224 (levels 56, 28, 14, 7): laterals 385,351,680, outputs
# 9 * 256^2 * (56^2 + 28^2 + 14^2 + 7^2) = 2,456,616,960; total 2,841,968,640.
_NOTE = (
    "torchvision's default resnet_fpn_backbone uses FrozenBatchNorm2d: its sum(p.numel()) is 26,799,296 "
    "(BN affine parameters are buffers there; with norm_layer=nn.BatchNorm2d it is ours, 26,852,416). "
    "Cross-check: fasterrcnn_resnet50_fpn num_params 41,755,286 minus RPN head 593,935 and box head + "
    "predictor 14,362,055 = 26,799,296. MACs at 224; detection runs at 800-1333 px, scale by area."
)

BACKBONES = (
    Backbone(
        "fpn_resnet50", "detection", 224, fpn_resnet50,
        Reference(
            source="torchvision 0.28 resnet_fpn_backbone(backbone_name='resnet50', norm_layer=nn.BatchNorm2d)",
            params=26_852_416,
            macs=6_929_104_896,
            paper="FPN (Lin et al. 2017) reports detection results, not backbone params or FLOPs",
            note=_NOTE,
        ),
    ),
)
