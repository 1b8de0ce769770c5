"""The residual family as data: ResNet, ResNet v1, ResNeXt, SE-ResNet, Res2Net, RegNet, DetNet, HetConv, and
ResNet-50 with Zhu et al.'s generalized attention (`resnet50_ga_0010`).

Every ResNet-like network here is `resnet_body` (the 7x7 stem and four stages of basic or bottleneck
blocks) with options, plus the global-pool + linear head. `resnet_body` is public because detection
backbones (an FPN on ResNet-50) reuse the same stem and stages. RegNets are pycls/timm's stage tables
(width, depth, group width), already quantised, written out as rows.
"""
from __future__ import annotations

import dataclasses
from typing import Any, Sequence

from search_spaces.backbones.base import Backbone, Reference
from search_spaces.cells.conv import ConvArgs, PoolArgs
from search_spaces.cells.generalized_attention import GeneralizedAttentionArgs
from search_spaces.cells.head import ClassifierArgs
from search_spaces.cells.res2net import Res2NetArgs
from search_spaces.cells.residual import BasicArgs, BottleneckArgs
from search_spaces.spec import Block, NetSpec, Stage

STEM = (Block("conv", ConvArgs(64, 7, 2)), Block("maxpool", PoolArgs(3, 2, 1)))  # 224 -> 112 -> 56
HEAD = (Block("classifier", ClassifierArgs()),)  # global average pool, linear to the classes


def resnet_body(
    depths: Sequence[int],
    basic: bool = False,
    width_per_group: int = 64,
    groups: int = 1,
    se_reduction: int = 0,
    **options: Any,
) -> tuple[tuple[Block, ...], tuple[Stage, ...]]:
    """ResNet's stem and stages: stage i has `depths[i]` blocks, width 64 * 2**i, stride 2 from stage 2.

    Bottleneck stages expand 4x with torchvision's bottleneck width int(planes * width_per_group / 64) *
    groups (ResNeXt-50 32x4d: groups=32, width_per_group=4). `se_reduction` r adds an SE gate of
    out_channels // r after the last conv (SE-ResNet); other `options` are BottleneckArgs fields applied
    to every block (stride_in_1x1=True for MSRA v1, conv="hetconv" with part=P, ...).
    """
    stages = []
    for i, depth in enumerate(depths):
        planes, stride = 64 * 2**i, 1 if i == 0 else 2
        if basic:
            args: Any = BasicArgs(planes, stride, se_channels=planes // se_reduction if se_reduction else 0)
            stages.append(Stage((Block("basic", args, depth),)))
            continue
        out = planes * 4
        mid = planes * width_per_group // 64 * groups
        se = out // se_reduction if se_reduction else 0
        args = BottleneckArgs(out, mid, stride, groups, se_channels=se, **options)
        stages.append(Stage((Block("bottleneck", args, depth),)))
    return STEM, tuple(stages)


def _resnet(depths: Sequence[int], **kwargs: Any) -> NetSpec:
    stem, stages = resnet_body(depths, **kwargs)
    return NetSpec(stem, stages, HEAD, resolution=224)


def _legacy_seresnet50() -> NetSpec:
    """Caffe SENet's SE-ResNet-50: stride in the first 1x1 and a ceil-mode max pool without padding."""
    stem = (Block("conv", ConvArgs(64, 7, 2)), Block("maxpool", PoolArgs(3, 2, 0, ceil_mode=True)))
    return dataclasses.replace(_resnet((3, 4, 6, 3), se_reduction=16, stride_in_1x1=True), stem=stem)


def _res2net(depths: Sequence[int], base_width: int = 26, scale: int = 4) -> NetSpec:
    """timm's Res2Net: the ResNet skeleton with Bottle2neck blocks (split width planes * base_width / 64)."""
    stages = []
    for i, depth in enumerate(depths):
        planes, stride = 64 * 2**i, 1 if i == 0 else 2
        args = Res2NetArgs(planes * 4, planes * base_width // 64, scale, stride, stage_first=True)
        stages.append(Stage((Block("res2net", args, depth),)))
    return NetSpec(STEM, tuple(stages), HEAD, resolution=224)


def _detnet59(stride_in_1x1: bool = False) -> NetSpec:
    """DetNet-59: ResNet-50's stem and stages 1-3, then two stages of three dilated (d=2) bottlenecks
    1024 -> 256 -> 1024 at stride 16, each opened by a block with a 1x1 projection at equal shapes."""
    stem, stages = resnet_body((3, 4, 6), stride_in_1x1=stride_in_1x1)
    dilated = BottleneckArgs(1024, 256, dilation=2, projection=True, stride_in_1x1=stride_in_1x1)
    extra = tuple(Stage((Block("bottleneck", dilated, 3),)) for _ in range(2))
    return NetSpec(stem, stages + extra, HEAD, resolution=224)


# RegNet stage rows (out width, depth, group width), from timm's generate_regnet (w0, wa, wm, depth, q=8)
# followed by adjust_widths_groups_comp, the same quantisation as pycls.
REGNETX_600MF = ((48, 1, 24), (96, 3, 24), (240, 5, 24), (528, 7, 24))  # w0=48, wa=36.97, wm=2.24, d=16
REGNETY_600MF = ((48, 1, 16), (112, 3, 16), (256, 7, 16), (608, 4, 16))  # w0=48, wa=32.54, wm=2.32, d=15


def _regnet(rows: Sequence[tuple[int, int, int]], se_ratio: float = 0.0, stem_width: int = 32) -> NetSpec:
    """A RegNet: 3x3/2 stem, then per row a stage of bottlenecks (ratio 1) with the 3x3 strided and grouped.

    RegNetY's SE sits after the 3x3 with round(block input width * se_ratio) channels, so a stage's
    first block (input: the previous width) and its copies differ and take separate rows.
    """
    stages, width_in = [], stem_width
    for width, depth, group_width in rows:
        first = BottleneckArgs(width, width, 2, width // group_width, se_channels=round(width_in * se_ratio),
                               se_position="mid")
        rest = dataclasses.replace(first, stride=1, se_channels=round(width * se_ratio))
        if depth == 1 or rest == dataclasses.replace(first, stride=1):  # copies are plain repeats
            stages.append(Stage((Block("bottleneck", first, depth),)))
        else:
            stages.append(Stage((Block("bottleneck", first), Block("bottleneck", rest, depth - 1))))
        width_in = width
    return NetSpec((Block("conv", ConvArgs(stem_width, 3, 2)),), tuple(stages), HEAD, resolution=224)


# The authors' released configuration (mmdetection configs/empirical_attention/faster-rcnn_r50-attn0010_fpn_1x_coco.py:
# GeneralizedAttention(spatial_range=-1, num_heads=8, attention_type='0010', kv_stride=2), stages (False, False,
# True, True), position 'after_conv2')
GA_0010 = GeneralizedAttentionArgs(heads=8, pattern="0010", kv_stride=2)


def with_attention(spec: NetSpec, attention: GeneralizedAttentionArgs, stages: Sequence[int] = (3, 4)) -> NetSpec:
    """`spec` with the generalized attention module after the 3x3 of every bottleneck of `stages` (1-based)."""
    rows = []
    for s, stage in enumerate(spec.stages, 1):
        if s in stages:
            stage = Stage(tuple(Block(b.cell, dataclasses.replace(b.args, generalized_attention=attention), b.repeats)
                                for b in stage.blocks))
        rows.append(stage)
    return dataclasses.replace(spec, stages=tuple(rows))


def _g(printed: float) -> tuple[int, int]:
    """(macs, macs_tol) of a figure printed in GMACs with four decimals."""
    return round(printed * 10**9), 50_000


TV = "torchvision 0.28"
V1_NOTE = ("the paper's figure is MSRA v1 (stride on the first 1x1); torchvision strides the 3x3 (v1.5): "
           "same parameters, more multiply-adds")

BACKBONES = (
    Backbone("resnet18", "resnet", 224, lambda: _resnet((2, 2, 2, 2), basic=True), Reference(
        f"{TV} resnet18", 11_689_512, *_g(1.8141), paper="1.8e9 FLOPs; params not given", top1=69.758,
        note="basic blocks: stride placement does not arise, so paper and torchvision agree")),
    Backbone("resnet34", "resnet", 224, lambda: _resnet((3, 4, 6, 3), basic=True), Reference(
        f"{TV} resnet34", 21_797_672, *_g(3.6638), paper="3.6e9 FLOPs; params not given", top1=73.314)),
    Backbone("resnet50", "resnet", 224, lambda: _resnet((3, 4, 6, 3)), Reference(
        f"{TV} resnet50 (v1.5)", 25_557_032, 4_089_184_256, paper="3.8e9 FLOPs", top1=76.130, note=V1_NOTE)),
    Backbone("resnet101", "resnet", 224, lambda: _resnet((3, 4, 23, 3)), Reference(
        f"{TV} resnet101 (v1.5)", 44_549_160, *_g(7.8014), paper="7.6e9 FLOPs", top1=77.374, note=V1_NOTE)),
    Backbone("resnet152", "resnet", 224, lambda: _resnet((3, 8, 36, 3)), Reference(
        f"{TV} resnet152 (v1.5)", 60_192_808, *_g(11.5136), paper="11.3e9 FLOPs", top1=78.312, note=V1_NOTE)),
    Backbone("resnet50_v1", "resnet", 224, lambda: _resnet((3, 4, 6, 3), stride_in_1x1=True), Reference(
        "torchvision resnet50 with the stride on the first 1x1 (MSRA ResNet v1), measured", 25_557_032,
        *_g(3.8580), paper="3.8e9 FLOPs", top1=75.3,
        note="top-1 from the MSRA README (24.7 % 1-crop error, Caffe weights); matches the paper's 3.8 G")),
    Backbone("resnext50_32x4d", "resnet", 224, lambda: _resnet((3, 4, 6, 3), groups=32, width_per_group=4),
             Reference(f"{TV} resnext50_32x4d", 25_028_904, *_g(4.2305), paper="25.0e6 params, 4.2e9 FLOPs",
                       top1=77.618, note="ResNeXt already strides the 3x3; the README's ~4.1 G is loose rounding")),
    Backbone("seresnet50", "resnet", 224, lambda: _resnet((3, 4, 6, 3), se_reduction=16), Reference(
        "timm 1.0 seresnet50 (stride on the 3x3)", 28_088_024, *_g(4.0917), paper="3.87 GFLOPs (Table 2)",
        note="the paper's 3.87 G is the Caffe stride-in-1x1 network (legacy_seresnet50: 3.8605 G)")),
    Backbone("legacy_seresnet50", "resnet", 224, _legacy_seresnet50, Reference(
        "timm 1.0 legacy_seresnet50 (Caffe SENet port, stride on the first 1x1)", 28_088_024, *_g(3.8605),
        paper="3.87 GFLOPs (Table 2), 23.29 % top-1 error", top1=77.65,
        note="3.8605 G conv+fc vs the paper's 3.87 G (recalled, beside 3.86 G for ResNet-50): SE's convs add "
             "only 2.5 M here, so the paper counts more of SE (gating) or rounds up; unverified")),
    Backbone("res2net50_26w_4s", "resnet", 224, lambda: _res2net((3, 4, 6, 3)), Reference(
        "timm 1.0 res2net50_26w_4s", 25_699_120, *_g(4.2552), paper="README: 25.70 M params, 4.2 GFLOPs",
        top1=77.994)),
    Backbone("res2net101_26w_4s", "resnet", 224, lambda: _res2net((3, 4, 23, 3)), Reference(
        "timm 1.0 res2net101_26w_4s", 45_206_688, *_g(8.0670), paper="README: 45.21 M params, 8.1 GFLOPs",
        top1=79.192)),
    Backbone("regnetx_600mf", "resnet", 224, lambda: _regnet(REGNETX_600MF), Reference(
        "timm 1.0 regnetx_006 (pycls RegNetX-600MF)", 6_196_040, *_g(0.6009), paper="pycls: 0.6 GF, 6.2 M",
        top1=73.904, note="pycls's own weights report 74.1 (25.9 % error); 73.904 is timm's evaluation")),
    Backbone("regnety_600mf", "resnet", 224, lambda: _regnet(REGNETY_600MF, se_ratio=0.25), Reference(
        "timm 1.0 regnety_006 (pycls RegNetY-600MF)", 6_055_160, *_g(0.6012), paper="pycls: 0.6 GF, 6.1 M",
        top1=75.274, note="pycls's own weights report 75.5 (24.5 % error); 75.274 is timm's evaluation")),
    Backbone("detnet59", "resnet", 224, _detnet59, Reference(
        "DetNet_pytorch detnet59 classification net (stride on the 3x3), measured", 18_372_648, *_g(5.0002),
        paper="abstract: 4.8 GFLOPs",
        note="the paper's 4.8 G is the MSRA stride-in-1x1 placement (detnet59_v1: 4.8460 G)")),
    Backbone("detnet59_v1", "resnet", 224, lambda: _detnet59(stride_in_1x1=True), Reference(
        "DetNet_pytorch detnet59 with the stride on the first 1x1 (MSRA style), measured", 18_372_648,
        *_g(4.8460), paper="abstract: 4.8 GFLOPs", note="matches the paper's figure")),
    Backbone("hetconv_resnet50", "resnet", 224, lambda: _resnet((3, 4, 6, 3), conv="hetconv", part=4),
             Reference("analytic: torchvision resnet50 (v1.5) with every bottleneck 3x3 a HetConv, P=4",
                       18_012_200, *_g(2.8561), paper="recalled, unverified: about 2.85 GFLOPs, -30 %",
                       note="HetConv touches only the 3x3s; the paper's ResNet-50 table is not verified")),
    Backbone("resnet50_ga_0010", "resnet", 224, lambda: with_attention(_resnet((3, 4, 6, 3)), GA_0010), Reference(
        "computed from the module definition: torchvision resnet50 (v1.5) with the authors' GeneralizedAttention "
        "(mmcv cnn/bricks/generalized_attention.py) after conv2 of stages 3 and 4, 8 heads, key content only "
        "('0010'), kv_stride 2 (mmdetection configs/empirical_attention)", 29_102_129, 4_154_264_576,
        paper="Zhu et al. 2019 (ICCV): detection only, no ImageNet figures; mmdetection's Faster R-CNN R-50 FPN 1x "
              "with this module: 39.1 box AP (configs/empirical_attention/README.md)",
        note="per block on C = 256 (stage 3, x6) and 512 (stage 4, x3) channels: 3C^2 + 2C + 1 parameters (key, "
             "value, projection; the key vector, projection bias, gamma); 2C^2 L + 2C L + C^2 multiply-adds with "
             "L = 7x7, 4x4 key positions at 224 (key and value 1x1 convs, vector . key, attention . value, the "
             "projection once per image: key content alone gives every query the same weights)")),
)
