"""DenseNet-BC 121 / 169 / 201 as torchvision defines them (growth rate 32, bn_size 4, 64 stem channels).

Stem: 7x7/2 conv (BN, ReLU) to 64 and a 3x3/2 max pool. Stage i is a transition (halving the channels,
for i > 1) then dense block i; the last stage ends with torchvision's `norm5` and the ReLU its forward
applies, so the head is global pooling and one linear layer.
"""
from __future__ import annotations

from search_spaces.backbones.base import Backbone, Reference
from search_spaces.cells.conv import BnActArgs, ConvArgs, PoolArgs
from search_spaces.cells.dense import DenseArgs, TransitionArgs
from search_spaces.cells.head import ClassifierArgs
from search_spaces.spec import Block, NetSpec, Stage

GROWTH_RATE = 32
BN_SIZE = 4  # bottleneck width = BN_SIZE * GROWTH_RATE
STEM_CHANNELS = 64

# Layers per dense block (torchvision `block_config`).
BLOCKS = {
    "densenet121": (6, 12, 24, 16),
    "densenet169": (6, 12, 32, 32),
    "densenet201": (6, 12, 48, 32),
}


def densenet(block_config: tuple[int, ...], growth_rate: int = GROWTH_RATE, bn_size: int = BN_SIZE,
             stem_channels: int = STEM_CHANNELS) -> NetSpec:
    """A DenseNet-BC spec: widths follow from the block sizes (each transition keeps channels // 2)."""
    stem = (Block("conv", ConvArgs(stem_channels, 7, 2)), Block("maxpool", PoolArgs(3, 2, 1)))
    channels, stages = stem_channels, []
    for i, layers in enumerate(block_config):
        blocks = []
        if i:
            channels //= 2
            blocks.append(Block("dense_transition", TransitionArgs(channels)))
        blocks.append(Block("dense", DenseArgs(layers, growth_rate, bn_size * growth_rate)))
        channels += layers * growth_rate
        stages.append(blocks)
    stages[-1].append(Block("bn_act", BnActArgs()))
    return NetSpec(
        stem=stem,
        stages=tuple(Stage(tuple(blocks)) for blocks in stages),
        head=(Block("classifier", ClassifierArgs()),),
        resolution=224,
    )


_NOTE_README = "official README (Torch, single crop) and the paper's table differ slightly"
BACKBONES = (
    Backbone("densenet121", "dense", 224, lambda: densenet(BLOCKS["densenet121"]), Reference(
        "torchvision 0.28 densenet121", 7_978_856, 2_834_200_000, 50_000,
        paper="about 8 M params (Fig. 3); 25.02 % top-1 error, 1 crop (recalled, unverified)", top1=74.434,
        note=_NOTE_README,
    )),
    Backbone("densenet169", "dense", 224, lambda: densenet(BLOCKS["densenet169"]), Reference(
        "torchvision 0.28 densenet169", 14_149_480, 3_359_800_000, 50_000,
        paper="23.80 % top-1 error, 1 crop (recalled, unverified)", top1=75.600, note=_NOTE_README,
    )),
    Backbone("densenet201", "dense", 224, lambda: densenet(BLOCKS["densenet201"]), Reference(
        "torchvision 0.28 densenet201", 20_013_928, 4_291_400_000, 50_000,
        paper="22.58 % top-1 error, 1 crop (recalled, unverified)", top1=76.896, note=_NOTE_README,
    )),
)
