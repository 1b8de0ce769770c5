"""The Inception family as data: GoogLeNet, BN-Inception, Inception-v3, Inception-v4, Inception-ResNet-v2.

Stages follow the output strides a detection neck takes (4, 8, 16, 32; timm's feature_info where timm
defines the network); the stride-2 module or pool that opens a stage belongs to it. The auxiliary
classifiers (GoogLeNet's aux1/aux2 after 4a and 4d, Inception-v3's AuxLogits after Mixed_6e) are the specs'
`aux` heads: built only for training (`build(spec, aux=True)`), never part of the deployed count.
"""
from __future__ import annotations

from types import MappingProxyType

from search_spaces.backbones.base import Backbone, Reference
from search_spaces.cells.conv import AdaptivePoolArgs, ConvArgs, PoolArgs
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
from search_spaces.settings import Norm
from search_spaces.spec import AuxHead, Block, NetSpec, Stage

TF_NORM = Norm(eps=1e-3)  # BatchNorm eps of the TF-ported Inception nets (torchvision BasicConv2d, timm norm_eps)

# GoogLeNet modules 3a..5b (torchvision): ch1x1, (ch3x3red, ch3x3), (ch5x5red, ch5x5), pool_proj
GOOGLENET_MODULES = MappingProxyType({
    "3a": (64, (96, 128), (16, 32), 32), "3b": (128, (128, 192), (32, 96), 64),
    "4a": (192, (96, 208), (16, 48), 64), "4b": (160, (112, 224), (24, 64), 64),
    "4c": (128, (128, 256), (24, 64), 64), "4d": (112, (144, 288), (32, 64), 64),
    "4e": (256, (160, 320), (32, 128), 128), "5a": (256, (160, 320), (32, 128), 128),
    "5b": (384, (192, 384), (48, 128), 128),
})

# BN-Inception modules (Cadene bninception.py): ch1x1, (3x3 reduce, 3x3), (reduce, 3x3, 3x3), pool
# projection (0: pass-through), pool, stride
BN_INCEPTION_MODULES = MappingProxyType({
    "3a": (64, (64, 64), (64, 96, 96), 32, "avg", 1), "3b": (64, (64, 96), (64, 96, 96), 64, "avg", 1),
    "3c": (0, (128, 160), (64, 96, 96), 0, "max", 2),
    "4a": (224, (64, 96), (96, 128, 128), 128, "avg", 1), "4b": (192, (96, 128), (96, 128, 128), 128, "avg", 1),
    "4c": (160, (128, 160), (128, 160, 160), 128, "avg", 1), "4d": (96, (128, 192), (160, 192, 192), 128, "avg", 1),
    "4e": (0, (128, 192), (192, 256, 256), 0, "max", 2),
    "5a": (352, (192, 320), (160, 224, 224), 128, "avg", 1), "5b": (352, (192, 320), (192, 224, 224), 128, "max", 1),
})


# GoogLeNet's auxiliary classifier (torchvision googlenet.py InceptionAux; Szegedy et al. 2015, section 5): a 4x4
# average pool (torchvision: adaptive; the paper: 5x5 stride 3, the same at 224), 1x1 conv to 128 with BN and ReLU,
# fc 2048 -> 1024, ReLU, dropout 0.7, fc to the classes; its loss weighs 0.3 (the paper)
GOOGLENET_AUX_HEAD = (Block("conv", ConvArgs(128, 1)), Block("classifier", ClassifierArgs(4, (1024,), dropout=0.7)))
GOOGLENET_AUX_WEIGHT = 0.3


def _googlenet_aux(pool: Block) -> tuple[AuxHead, ...]:
    """aux1 after inception 4a and aux2 after 4d: blocks 2 and 5 of stage 3 (its max pool is block 1)."""
    return tuple(AuxHead(3, block, (pool, *GOOGLENET_AUX_HEAD), GOOGLENET_AUX_WEIGHT) for block in (2, 5))


def _googlenet(names: str, kernel_size: int) -> list[Block]:
    return [Block("inception_v1", InceptionV1Args(*GOOGLENET_MODULES[n], kernel_size=kernel_size))
            for n in names.split()]


def googlenet_spec(kernel_size: int = 3) -> NetSpec:
    """torchvision's GoogLeNet (kernel_size=3 in the "5x5" branches) or the paper's (kernel_size=5), with the
    auxiliary classifiers (torchvision's adaptive pool, or the paper's 5x5/3 average pool)."""
    pool = PoolArgs(3, 2, 0, ceil_mode=True)
    aux_pool = Block("adaptive_avgpool", AdaptivePoolArgs(4)) if kernel_size == 3 else Block("avgpool", PoolArgs(5, 3))
    return NetSpec(
        stem=(Block("conv", ConvArgs(64, 7, 2)), Block("maxpool", pool)),
        stages=(
            Stage((Block("conv", ConvArgs(64, 1)), Block("conv", ConvArgs(192, 3)))),
            Stage((Block("maxpool", pool), *_googlenet("3a 3b", kernel_size))),
            Stage((Block("maxpool", pool), *_googlenet("4a 4b 4c 4d 4e", kernel_size))),
            Stage((Block("maxpool", PoolArgs(2, 2, 0, ceil_mode=True)), *_googlenet("5a 5b", kernel_size))),
        ),
        head=(Block("classifier", ClassifierArgs(dropout=0.2)),),
        resolution=224,
        norm=TF_NORM,
        aux=_googlenet_aux(aux_pool),
    )


def _bn_inception(names: str) -> list[Block]:
    blocks = []
    for n in names.split():
        ch1x1, ch3x3, ch3x3dbl, pool_proj, pool, stride = BN_INCEPTION_MODULES[n]
        blocks.append(Block("bn_inception", BNInceptionArgs(ch1x1, ch3x3, ch3x3dbl, pool_proj, pool, stride)))
    return blocks


def inception_v2_spec() -> NetSpec:
    """BN-Inception as Cadene's `bninception` (Caffe port): every conv keeps its bias before BN."""
    pool = PoolArgs(3, 2, 0, ceil_mode=True)
    return NetSpec(
        stem=(Block("conv", ConvArgs(64, 7, 2, bias=True)), Block("maxpool", pool)),
        stages=(
            Stage((Block("conv", ConvArgs(64, 1, bias=True)), Block("conv", ConvArgs(192, 3, bias=True)))),
            Stage((Block("maxpool", pool), *_bn_inception("3a 3b"))),
            Stage(tuple(_bn_inception("3c 4a 4b 4c 4d"))),
            Stage(tuple(_bn_inception("4e 5a 5b"))),
        ),
        head=(Block("classifier", ClassifierArgs()),),
        resolution=224,
    )


def _valid(out_channels: int, stride: int = 1) -> Block:
    """An unpadded 3x3 conv-BN-ReLU, as in the v3 / v4 / Inception-ResNet-v2 stems."""
    return Block("conv", ConvArgs(out_channels, 3, stride, padding=0))


STEM = (_valid(32, 2), _valid(32), Block("conv", ConvArgs(64, 3)))  # 299 -> 149 -> 147 -> 147
MAXPOOL = Block("maxpool", PoolArgs(3, 2, 0))
STEM_2 = (MAXPOOL, Block("conv", ConvArgs(80, 1)), _valid(192))  # 147 -> 73 -> 73 -> 71


# Inception-v3's auxiliary classifier after Mixed_6e (torchvision inception.py InceptionAux): 5x5 stride-3
# average pool, 1x1 conv to 128, 5x5 conv to 768 (unpadded: 5x5 -> 1x1), each with BN and ReLU, global pool, fc;
# its loss weighs 0.4 (TF-slim train_image_classifier.py, which trained the released Inception-v3)
INCEPTION_V3_AUX = AuxHead(3, 5, (
    Block("avgpool", PoolArgs(5, 3)), Block("conv", ConvArgs(128, 1)), Block("conv", ConvArgs(768, 5, padding=0)),
    Block("classifier", ClassifierArgs())), weight=0.4)


def inception_v3_spec() -> NetSpec:
    """torchvision / timm Inception-v3, with its auxiliary classifier (AuxLogits) for training."""
    def b(c7: int, repeats: int = 1) -> Block:
        return Block("inception_b", InceptionBArgs(192, (c7, c7, 192), (c7, c7, c7, c7, 192), 192), repeats)

    def a(pool_proj: int, repeats: int = 1) -> Block:
        return Block("inception_a", InceptionAArgs(64, (48, 64), (64, 96, 96), pool_proj), repeats)

    return NetSpec(
        stem=STEM,
        stages=(
            Stage(STEM_2),
            Stage((MAXPOOL, a(32), a(64, 2))),  # Mixed_5b..5d: 35x35
            Stage((Block("reduction_a", ReductionAArgs(384, (64, 96, 96))), b(128), b(160, 2), b(192))),
            Stage((Block("reduction_b", ReductionBArgs((192, 320), (192, 192, 192, 192))),
                   Block("inception_v3_c", InceptionV3CArgs(320, (384, 384), (448, 384, 384), 192), 2))),
        ),
        head=(Block("classifier", ClassifierArgs(dropout=0.5)),),
        resolution=299,
        norm=TF_NORM,
        aux=(INCEPTION_V3_AUX,),
    )


def inception_v4_spec() -> NetSpec:
    """timm's Inception-v4 (TF-slim port)."""
    return NetSpec(
        stem=STEM,
        stages=(
            Stage((Block("inception_v4_stem_pool", StemPoolArgs(96, pool_first=True)),)),  # 73x73x160
            Stage((Block("inception_v4_stem_conv", StemConvArgs((64, 96), (64, 64, 64, 96))),
                   Block("inception_v4_stem_pool", StemPoolArgs(192, pool_first=False)),  # 35x35x384
                   Block("inception_a", InceptionAArgs(96, (64, 96), (64, 96, 96), 96, 3, False), 4))),
            Stage((Block("reduction_a", ReductionAArgs(384, (192, 224, 256))),  # 17x17x1024
                   Block("inception_b", InceptionBArgs(
                       384, (192, 224, 256), (192, 192, 224, 224, 256), 128, count_include_pad=False), 7))),
            Stage((Block("reduction_b", ReductionBArgs((192, 192), (256, 256, 320, 320))),  # 8x8x1536
                   Block("inception_v4_c", InceptionV4CArgs(256, (384, 256), (384, 448, 512, 256), 256), 3))),
        ),
        head=(Block("classifier", ClassifierArgs()),),
        resolution=299,
        norm=TF_NORM,
    )


def inception_resnet_v2_spec() -> NetSpec:
    """timm's Inception-ResNet-v2 (TF-slim port)."""
    block8 = ResnetBArgs(192, (192, 224, 256), kernel_size=3, scale=0.2)
    return NetSpec(
        stem=STEM,
        stages=(
            Stage(STEM_2),
            Stage((MAXPOOL, Block("inception_a", InceptionAArgs(96, (48, 64), (64, 96, 96), 64, 5, False)),
                   Block("inception_resnet_a", ResnetAArgs(32, (32, 32), (32, 48, 64), 0.17), 10))),  # 35x35x320
            Stage((Block("reduction_a", ReductionAArgs(384, (256, 256, 384))),  # 17x17x1088
                   Block("inception_resnet_b", ResnetBArgs(192, (128, 160, 192), 7, 0.1), 20))),
            Stage((Block("inception_resnet_reduction_b", ResnetReductionBArgs((256, 384), (256, 288), (256, 288, 320))),
                   Block("inception_resnet_b", block8, 9),  # 8x8x2080
                   Block("inception_resnet_b", ResnetBArgs(192, (192, 224, 256), 3, 1.0, "none")),
                   Block("conv", ConvArgs(1536, 1)))),
        ),
        head=(Block("classifier", ClassifierArgs()),),
        resolution=299,
        norm=TF_NORM,
    )


BACKBONES = (
    Backbone("googlenet", "inception", 224, googlenet_spec, Reference(
        source="torchvision 0.28 googlenet, aux_logits=False (as the pretrained builder returns it); aux heads apart",
        params=6_624_904, macs=1_498_376_192,
        paper="Szegedy et al. 2015: about 6.8 M params, 1.5 G multiply-adds (recalled, unverified)",
        top1=69.778,
        note="torchvision uses 3x3 instead of 5x5 in the '5x5' branches (vision#906) and adds BN; see "
             "googlenet_5x5. Its aux heads (aux1, aux2: 6,379,984 params, 8,372,224 MACs) are the spec's "
             "training-only aux heads, counted apart (count_with_aux, nas count), as in tv num_params; a "
             "weights=None torchvision build keeps them (13,004,888 params). transform_input is input scaling "
             "with no parameters.",
    )),
    Backbone("googlenet_5x5", "inception", 224, lambda: googlenet_spec(kernel_size=5), Reference(
        source="torchvision googlenet with real 5x5 convs in branch3 (the paper's module), BN kept; aux heads "
               "with the paper's 5x5/3 average pool",
        params=7_005_832, macs=1_582_700_000, macs_tol=50_000,
        paper="Szegedy et al. 2015: about 6.8 M params, 1.5 G multiply-adds (recalled, unverified)",
        note="The paper's network without LRN and with BN after every conv; 6,990,272 conv+fc weights, "
             "6,998,552 paper-style (weights and biases, no BN). The paper's Table 1 per-layer params are "
             "themselves slightly inconsistent (4a recomputes to 376 K vs the printed 364 K).",
    )),
    Backbone("inception_v2", "inception", 224, inception_v2_spec, Reference(
        source="Cadene pretrainedmodels 0.7.4 bninception (Caffe BN-Inception by Yuanjun Xiong)",
        params=11_295_240, macs=2_032_600_064,
        paper="Ioffe & Szegedy 2015 (BN-Inception): an ensemble reaches 4.9 % top-5 val error, 4.8 % test; "
              "no params or multiply-adds quoted",
        top1=73.522,
        note="Figures measured on the Cadene file (torch 2.13, random weights, FlopCounterMode / 2 at 224). "
             "It follows the paper's appendix table: 5x5 replaced by two 3x3s, modules 3c and 4e reduce the "
             "grid with stride-2 3x3s beside a max-pool pass-through, 5b pools with max. Every conv keeps a "
             "bias before its BN (Caffe): 10,016 params that a bias-free port would not have. Cadene's final "
             "pool is AvgPool2d(7), ours is global, the same at 224. TF-slim's inception_v2 is a different "
             "network (separable 7x7 stem).",
    )),
    Backbone("inception_v3", "inception", 299, inception_v3_spec, Reference(
        source="torchvision 0.28 inception_v3 without AuxLogits (= timm inception_v3); AuxLogits apart",
        params=23_834_568, macs=5_713_200_000, macs_tol=50_000,
        paper="Szegedy et al. 2016: <25 M params, 5 billion multiply-adds; 21.2 % top-1 error single crop",
        top1=77.294,
        note="torchvision's num_params 27,161,264 includes AuxLogits (3,326,696 params: 1x1 to 128, 5x5 to "
             "768, fc), the spec's training-only aux head (5,683,200 MACs), counted apart; the deployed count "
             "is the eval network, timm's count. transform_input is parameter-free input scaling.",
    )),
    Backbone("inception_v4", "inception", 299, inception_v4_spec, Reference(
        source="timm inception_v4 (TF-slim port via Cadene; pretrainedmodels inceptionv4 is identical)",
        params=42_679_816, macs=12_254_000_000, macs_tol=50_000,
        paper="Szegedy et al. 2017: no params or FLOPs given; 20.0 % top-1 error single crop (recalled)",
        top1=80.144,
        note="Measured on the pretrainedmodels 0.7.4 file: 12,253,974,624 MACs. timm's benchmark 12.28 G is "
             "fvcore's total, which adds BN and pooling.",
    )),
    Backbone("inception_resnet_v2", "inception", 299, inception_resnet_v2_spec, Reference(
        source="timm inception_resnet_v2 (TF-slim port via Cadene; pretrainedmodels inceptionresnetv2 identical)",
        params=55_843_464, macs=13_155_800_000, macs_tol=50_000,
        paper="Szegedy et al. 2017: no params or FLOPs given; 19.9 % top-1 error single crop (recalled)",
        top1=80.434,
        note="Measured on the pretrainedmodels 0.7.4 file: 13,155,794,016 MACs. The residual 1x1 convs keep "
             "their bias (no BN); the last block8 has scale 1 and no ReLU. timm-bench 13.18 G is fvcore's "
             "total with BN and pooling.",
    )),
)
