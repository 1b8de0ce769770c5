"""Classic plain CNNs as torchvision defines them: AlexNet, VGG-16 (with and without BN), SqueezeNet 1.0/1.1.

No cells of their own: `conv` with a bias and no BN (VGG-16-BN: BN after a conv that keeps its bias, as in
torchvision), `maxpool`, `fire`, and the `classifier` / `conv_classifier` heads. AlexNet and VGG stages are
torchvision's conv groups, each ending with its max pool (VGG's last pool feeds the classifier);
SqueezeNet's stages open with a max pool, since its last fire module feeds the classifier unpooled.
"""
from __future__ import annotations

from search_spaces.backbones.base import Backbone, Reference
from search_spaces.cells.conv import ConvArgs, PoolArgs
from search_spaces.cells.fire import FireArgs
from search_spaces.cells.head import ClassifierArgs, ConvClassifierArgs
from search_spaces.errors import check_choice
from search_spaces.spec import Block, NetSpec, Stage

MAXPOOL = Block("maxpool", PoolArgs(3, 2))  # AlexNet's overlapping 3x3/2 pool
CEIL_MAXPOOL = Block("maxpool", PoolArgs(3, 2, ceil_mode=True))  # SqueezeNet's (Caffe rounding)
VGG_POOL = Block("maxpool", PoolArgs(2, 2))

# VGG-16 (configuration "D"): per stage, (3x3 convs, width); each stage ends with a 2x2/2 max pool.
VGG16_STAGES = ((2, 64), (2, 128), (3, 256), (3, 512), (3, 512))

# SqueezeNet fire rows as (squeeze, expand 1x1, expand 3x3, repeats), per stage; each stage opens with a
# ceil-mode max pool. Identical consecutive fire modules are one row, as `multiply` writes them.
SQUEEZENET_1_0 = (
    ((16, 64, 64, 2), (32, 128, 128, 1)),  # fire2-4
    ((32, 128, 128, 1), (48, 192, 192, 2), (64, 256, 256, 1)),  # fire5-8
    ((64, 256, 256, 1),),  # fire9
)
SQUEEZENET_1_1 = (
    ((16, 64, 64, 2),),  # fire2-3
    ((32, 128, 128, 2),),  # fire4-5
    ((48, 192, 192, 2), (64, 256, 256, 2)),  # fire6-9
)
# version: (conv1 as (out_channels, kernel_size), with stride 2 and no padding; fire rows)
SQUEEZENET = {"1_0": ((96, 7), SQUEEZENET_1_0), "1_1": ((64, 3), SQUEEZENET_1_1)}


def plain_conv(out_channels: int, kernel_size: int = 3, stride: int = 1, padding: int | None = None,
               norm: bool = False, repeats: int = 1) -> Block:
    """A conv with a bias and ReLU, BN only when `norm` (the AlexNet/VGG layer), `repeats` times."""
    return Block("conv", ConvArgs(out_channels, kernel_size, stride, padding, bias=True, norm=norm), repeats)


def alexnet() -> NetSpec:
    """torchvision AlexNet (the 2014 single-tower "one weird trick" variant: 64-192-384-256-256, no LRN)."""
    return NetSpec(
        stem=(),
        stages=(
            Stage((plain_conv(64, 11, 4, 2), MAXPOOL)),
            Stage((plain_conv(192, 5), MAXPOOL)),
            Stage((plain_conv(384), plain_conv(256, repeats=2), MAXPOOL)),
        ),
        head=(Block("classifier", ClassifierArgs(pool_size=6, hidden=(4096, 4096), dropout=0.5)),),
        resolution=224,
    )


def vgg16(norm: bool = False) -> NetSpec:
    """torchvision VGG-16; `norm=True` is vgg16_bn (BN between each conv and its ReLU)."""
    stages = tuple(
        Stage((plain_conv(width, norm=norm, repeats=convs), VGG_POOL))
        for convs, width in VGG16_STAGES
    )
    head = Block("classifier", ClassifierArgs(pool_size=7, hidden=(4096, 4096), dropout=0.5))
    return NetSpec(stem=(), stages=stages, head=(head,), resolution=224)


def squeezenet(version: str) -> NetSpec:
    """torchvision SqueezeNet 1.0 (7x7/2 conv to 96) or 1.1 (3x3/2 conv to 64, earlier pools)."""
    check_choice("squeezenet", "version", version, SQUEEZENET)
    (width, kernel_size), table = SQUEEZENET[version]
    stages = tuple(
        Stage((CEIL_MAXPOOL,) + tuple(Block("fire", FireArgs(sq, e1, e3), n) for sq, e1, e3, n in rows))
        for rows in table
    )
    return NetSpec(
        stem=(plain_conv(width, kernel_size, 2, 0),),
        stages=stages,
        head=(Block("conv_classifier", ConvClassifierArgs(dropout=0.5)),),
        resolution=224,
    )


_TV = "torchvision 0.28 "
BACKBONES = (
    Backbone("alexnet", "classic", 224, alexnet, Reference(
        _TV + "alexnet", 61_100_840, 714_200_000, 50_000, paper="60 M params, 2012 two-tower net (recalled)",
        top1=56.522,
        note="torchvision is the 2014 single-tower variant (64-192-384-256-256, no LRN, no groups), not the 2012 "
             "grouped net (60,965,224 params); our classifier puts each dropout after its ReLU, which counts the same",
    )),
    Backbone("vgg16", "classic", 224, vgg16, Reference(
        _TV + "vgg16", 138_357_544, 15_470_300_000, 50_000, paper="138 M params, Table 2 (recalled); FLOPs not given",
        top1=71.592,
    )),
    Backbone("vgg16_bn", "classic", 224, lambda: vgg16(norm=True), Reference(
        _TV + "vgg16_bn", 138_365_992, 15_470_300_000, 50_000, paper="not in the paper (BN added later)",
        top1=73.360, note="BN adds 8,448 params and no conv/linear multiply-adds",
    )),
    Backbone("squeezenet1_0", "classic", 224, lambda: squeezenet("1_0"), Reference(
        _TV + "squeezenet1_0", 1_248_424, 818_900_000, 50_000,
        paper="1,248,424 params, Table 1; 57.5 % top-1 at 227 (recalled)", top1=58.092,
        note="evaluated at 224 as in torchvision (the Caffe original takes 227: 0.8327 G); ceil-mode pools",
    )),
    Backbone("squeezenet1_1", "classic", 224, lambda: squeezenet("1_1"), Reference(
        _TV + "squeezenet1_1", 1_235_496, 349_200_000, 50_000,
        paper="repo: 2.4x less computation than 1.0, slightly fewer params", top1=58.178,
    )),
)
