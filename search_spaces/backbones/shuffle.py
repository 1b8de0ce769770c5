"""ShuffleNet v1 (Megvii's official code) and v2 (torchvision, and Megvii's official channel split).

All share the stem (3x3/2 conv to 24 with BN and ReLU, 3x3/2 max pool) and three stages of 4, 8 and 4
units, each opening with a stride-2 unit. v2 ends its last stage with a 1x1 conv (BN, ReLU) to 1024 or 2048.
The two v2 definitions differ only in each stage's first unit: torchvision splits the output in half
(projection branch `out // 2`), Megvii's projection branch keeps the input width; Megvii's classifiers have
no bias, and its 2.0x has dropout 0.2 before the classifier.
"""
from __future__ import annotations

from search_spaces.backbones.base import Backbone, Reference
from search_spaces.cells.conv import ConvArgs, PoolArgs
from search_spaces.cells.head import ClassifierArgs
from search_spaces.cells.shuffle import ShuffleV1Args, ShuffleV2Args
from search_spaces.errors import check_choice
from search_spaces.spec import Block, NetSpec, Stage

REPEATS = (4, 8, 4)
STEM_CHANNELS = 24

# v2 stage output widths and the final 1x1 conv width, per width multiplier (torchvision = Megvii).
V2_WIDTHS = {
    "x0_5": ((48, 96, 192), 1024),
    "x1_0": ((116, 232, 464), 1024),
    "x1_5": ((176, 352, 704), 1024),
    "x2_0": ((244, 488, 976), 2048),
}


def _stem() -> tuple[Block, ...]:
    return (Block("conv", ConvArgs(STEM_CHANNELS, 3, 2)), Block("maxpool", PoolArgs(3, 2, 1)))


def shufflenet_v1(widths: tuple[int, ...] = (240, 480, 960), groups: int = 3) -> NetSpec:
    """Megvii ShuffleNet v1: bottleneck width out // 4; the first unit's first 1x1 is not grouped."""
    stages = tuple(
        Stage((Block("shuffle_v1", ShuffleV1Args(width, width // 4, groups, 2, ungrouped_first=(i == 0)),
                     repeats=repeats),))
        for i, (width, repeats) in enumerate(zip(widths, REPEATS))
    )
    head = Block("classifier", ClassifierArgs(bias=False))
    return NetSpec(stem=_stem(), stages=stages, head=(head,), resolution=224)


def shufflenet_v2(size: str, split: str = "torchvision") -> NetSpec:
    """ShuffleNet v2 at a width ("x0_5".."x2_0"); `split` "torchvision" or "megvii" picks the first units."""
    check_choice("shufflenet_v2", "size", size, V2_WIDTHS)
    check_choice("shufflenet_v2", "split", split, ("torchvision", "megvii"))
    widths, last = V2_WIDTHS[size]
    stages, channels = [], STEM_CHANNELS
    for width, repeats in zip(widths, REPEATS):
        proj = width // 2 if split == "torchvision" else channels
        stages.append([Block("shuffle_v2", ShuffleV2Args(width, width // 2, 2, proj), repeats=repeats)])
        channels = width
    stages[-1].append(Block("conv", ConvArgs(last, 1)))
    megvii = split == "megvii"
    head = ClassifierArgs(dropout=0.2 if megvii and size == "x2_0" else 0.0, bias=not megvii)
    return NetSpec(stem=_stem(), stages=tuple(Stage(tuple(s)) for s in stages), head=(Block("classifier", head),),
                   resolution=224)


def _v2(size: str, params: int, macs: int, paper: str, top1: float) -> Backbone:
    """A torchvision ShuffleNet v2 row."""
    return Backbone(f"shufflenet_v2_{size}", "shuffle", 224, lambda: shufflenet_v2(size), Reference(
        f"torchvision 0.28 shufflenet_v2_{size}", params, macs, 50_000, paper=paper, top1=top1,
        note="torchvision splits each stage's first unit C/2 + C/2; Megvii's official split is the _megvii row",
    ))


def _v2_megvii(size: str, params: int, macs: int, paper: str, top1: float) -> Backbone:
    """A Megvii ShuffleNet v2 row (official channel split, no classifier bias)."""
    return Backbone(f"shufflenet_v2_{size}_megvii", "shuffle", 224, lambda: shufflenet_v2(size, "megvii"),
                    Reference(
        f"megvii ShuffleNet-Series ShuffleNetV2 network.py, model_size {size[1:].replace('_', '.')}x", params, macs,
        50_000, paper=paper, top1=top1,
        note="each stage's first unit keeps C_in on the projection branch; the classifier has no bias",
    ))


BACKBONES = (
    Backbone("shufflenet_v1_g3", "shuffle", 224, shufflenet_v1, Reference(
        "megvii ShuffleNet-Series ShuffleNetV1 network.py, model_size 1.0x, group 3", 1_864_728, 137_500_000, 50_000,
        paper="140 MFLOPs, 32.6 % top-1 error (Table 2, recalled); no params published", top1=67.8,
        note="Megvii's classifier has no bias (pytorchcv adds one: 1,865,728); README: 138 M FLOPs, 1.9 M params",
    )),
    _v2("x0_5", 1_366_792, 40_500_000, "README: 41 M FLOPs, 1.4 M params; paper 39.7 % error (recalled)", 60.552),
    _v2("x1_0", 2_278_604, 144_900_000, "README: 146 M FLOPs, 2.3 M params", 69.362),
    _v2("x1_5", 3_503_624, 295_800_000, "README: 299 M FLOPs, 3.5 M params", 72.996),
    _v2("x2_0", 7_393_996, 583_300_000, "README: 591 M FLOPs, 7.4 M params (matched by the Megvii split)", 76.230),
    _v2_megvii("x0_5", 1_365_792, 40_500_000, "README: 41 M FLOPs, 1.4 M params", 61.1),
    _v2_megvii("x1_0", 2_278_760, 145_800_000, "README: 146 M FLOPs, 2.3 M params", 69.4),
    _v2_megvii("x1_5", 3_506_720, 299_000_000, "README: 299 M FLOPs, 3.5 M params", 72.6),
    _v2_megvii("x2_0", 7_402_600, 590_800_000, "README: 591 M FLOPs, 7.4 M params; paper 25.1 % error", 75.0),
)
