"""Mobile backbones as tables: MobileNetV1/V2/V3, MnasNet-A1, ProxylessNAS-Mobile, ANTNet, EfficientNet-B0..B7.

Each table row is one torchvision/timm stage row. A row whose blocks change width becomes two spec rows,
the first block then its continuation copies (see `search_spaces.scale`), so every width is explicit.
EfficientNet-B1..B7 are `multiply(efficientnet_b0, w, d, r)` with the published (w, d, r) triples.
Figures (each row's `Reference`): parameters and conv + linear multiply-adds measured (fvcore 0.1.5, random
weights) on the implementation the row names (torchvision 0.28.0, timm 1.0.31, pytorchcv 0.0.74, the
dhananjaisharma10/ANTNet reimplementation), which equal torchvision's `_meta` num_params where it has the model;
paper columns from the papers, official READMEs and the ProxylessNAS training log; EfficientNet (w, d, r) from
tensorflow/tpu models/official/efficientnet/efficientnet_builder.py efficientnet_params.
"""
from __future__ import annotations

import dataclasses
from typing import Callable

from search_spaces.backbones.base import Backbone, Reference
from search_spaces.cells.conv import ConvArgs
from search_spaces.cells.head import ClassifierArgs
from search_spaces.cells.mbconv import AntArgs, ConvHeadArgs, DSConvArgs, MBConvArgs
from search_spaces.rounding import make_divisible
from search_spaces.scale import multiply
from search_spaces.settings import DropPath, Norm
from search_spaces.spec import Block, NetSpec, Stage

TF_NORM = Norm(eps=1e-3, momentum=0.01)  # torchvision's BN for MobileNetV3 and the TF-ported EfficientNet-B5..B7
# A stage row: (expand ratio, out channels, repeats, first stride, kernel, SE)
Row = tuple[float, int, int, int, int, bool]
SeRule = Callable[[int, int], int]  # (block input, expanded width) -> squeeze width


def efficientnet_se(in_channels: int, mid_channels: int) -> int:
    """EfficientNet / MnasNet: a quarter of the block *input* (TF's max(1, int(in * 0.25)))."""
    return max(1, in_channels // 4)


def mobilenet_v3_se(in_channels: int, mid_channels: int) -> int:
    """MobileNetV3: a quarter of the *expanded* width, made divisible by 8."""
    return make_divisible(mid_channels // 4)


def _stem(out_channels: int, activation: str) -> tuple[Block, ...]:
    return (Block("conv", ConvArgs(out_channels, 3, 2, activation=activation)),)


def _append(blocks: list[Block], cell: str, args: object, count: int) -> None:
    """Add `count` blocks of `args`, merging with an identical previous row (one row, repeated)."""
    if blocks and blocks[-1].cell == cell and blocks[-1].args == args:
        blocks[-1] = Block(cell, args, blocks[-1].repeats + count)
    elif count:
        blocks.append(Block(cell, args, count))


def _mb_rows(in_c: int, rows: list[Row], act: str, se_rule: SeRule, se_act: str, gate: str) -> tuple[Stage, int]:
    """One stage from stage rows: each row is its first block, then its stride-1 copies."""
    blocks: list[Block] = []
    for t, out, n, stride, k, se in rows:
        for count, (cin, s) in ((1, (in_c, stride)), (n - 1, (out, 1))):
            mid = round(cin * t)
            _append(blocks, "mbconv", MBConvArgs(out, mid, k, s, act, se_rule(cin, mid) if se else 0, se_act, gate),
                    count)
        in_c = out
    return Stage(tuple(blocks)), in_c


def _mb_net(stem: int, stages: list[list[Row]], act: str, head: tuple[Block, ...], se_rule: SeRule = efficientnet_se,
            se_act: str = "relu", gate: str = "sigmoid") -> NetSpec:
    """A 3x3/2 stem, the stages of inverted residuals, the head; at 224."""
    built, c = [], stem
    for rows in stages:
        stage, c = _mb_rows(c, rows, act, se_rule, se_act, gate)
        built.append(stage)
    return NetSpec(stem=_stem(stem, act), stages=tuple(built), head=head)


def _head(conv: int, act: str, hidden: tuple[int, ...] = (), dropout: float = 0.0) -> tuple[Block, ...]:
    return (Block("conv_head", ConvHeadArgs(conv, act)),
            Block("classifier", ClassifierArgs(hidden=hidden, activation=act, dropout=dropout)))


def mobilenet_v1() -> NetSpec:
    """timm mobilenetv1_100: 13 depthwise-separable convs, ReLU6, no head conv."""
    rows = [(64, 1, 1), (128, 2, 2), (256, 2, 2), (512, 6, 2), (1024, 2, 2)]  # (out, repeats, first stride)
    stages = tuple(Stage((Block("dsconv", DSConvArgs(c, 3, s, "relu6"), n),)) for c, n, s in rows)
    return NetSpec(stem=_stem(32, "relu6"), stages=stages, head=(Block("classifier", ClassifierArgs()),))


def mobilenet_v2() -> NetSpec:
    """torchvision mobilenet_v2: the seven (t, c, n, s) rows of the paper's Table 2."""
    rows = [(1, 16, 1, 1), (6, 24, 2, 2), (6, 32, 3, 2), (6, 64, 4, 2), (6, 96, 3, 1), (6, 160, 3, 2), (6, 320, 1, 1)]
    stages = [[(t, c, n, s, 3, False)] for t, c, n, s in rows]
    return _mb_net(32, stages, "relu6", _head(1280, "relu6", dropout=0.2))


# MobileNetV3 blocks (torchvision _mobilenet_v3_conf): (kernel, expanded, out, SE, activation, stride),
# grouped into stages by output stride.
V3_LARGE = [
    [(3, 16, 16, False, "relu", 1)],
    [(3, 64, 24, False, "relu", 2), (3, 72, 24, False, "relu", 1)],
    [(5, 72, 40, True, "relu", 2), (5, 120, 40, True, "relu", 1), (5, 120, 40, True, "relu", 1)],
    [(3, 240, 80, False, "hardswish", 2), (3, 200, 80, False, "hardswish", 1), (3, 184, 80, False, "hardswish", 1),
     (3, 184, 80, False, "hardswish", 1), (3, 480, 112, True, "hardswish", 1), (3, 672, 112, True, "hardswish", 1)],
    [(5, 672, 160, True, "hardswish", 2), (5, 960, 160, True, "hardswish", 1), (5, 960, 160, True, "hardswish", 1)],
]
V3_SMALL = [
    [(3, 16, 16, True, "relu", 2)],
    [(3, 72, 24, False, "relu", 2), (3, 88, 24, False, "relu", 1)],
    [(5, 96, 40, True, "hardswish", 2), (5, 240, 40, True, "hardswish", 1), (5, 240, 40, True, "hardswish", 1),
     (5, 120, 48, True, "hardswish", 1), (5, 144, 48, True, "hardswish", 1)],
    [(5, 288, 96, True, "hardswish", 2), (5, 576, 96, True, "hardswish", 1), (5, 576, 96, True, "hardswish", 1)],
]


def _v3(table: list[list[tuple]], last_conv: int, hidden: int) -> NetSpec:
    stages, c = [], 16
    for rows in table:
        blocks: list[Block] = []
        for k, mid, out, se, act, stride in rows:
            se_channels = mobilenet_v3_se(c, mid) if se else 0
            _append(blocks, "mbconv", MBConvArgs(out, mid, k, stride, act, se_channels, "relu", "hardsigmoid"), 1)
            c = out
        stages.append(Stage(tuple(blocks)))
    head = _head(last_conv, "hardswish", (hidden,), 0.2)
    return NetSpec(stem=_stem(16, "hardswish"), stages=tuple(stages), head=head, norm=TF_NORM)


def mobilenet_v3_large() -> NetSpec:
    """torchvision mobilenet_v3_large."""
    return _v3(V3_LARGE, 960, 1280)


def mobilenet_v3_small() -> NetSpec:
    """torchvision mobilenet_v3_small."""
    return _v3(V3_SMALL, 576, 1024)


def mnasnet_a1() -> NetSpec:
    """timm semnasnet_100 (MnasNet-A1): ReLU, SE on a quarter of the block input."""
    rows = [(1, 16, 1, 1, 3, False), (6, 24, 2, 2, 3, False), (3, 40, 3, 2, 5, True), (6, 80, 4, 2, 3, False),
            (6, 112, 2, 1, 3, True), (6, 160, 3, 2, 5, True), (6, 320, 1, 1, 3, False)]
    return _mb_net(32, [[row] for row in rows], "relu", _head(1280, "relu"))


def proxylessnas_mobile() -> NetSpec:
    """pytorchcv proxylessnas_mobile (the official config): ReLU6; its zero (skipped) blocks are left out."""
    stages = [
        [(1, 16, 1, 1, 3, False)],
        [(3, 32, 1, 2, 5, False), (3, 32, 1, 1, 3, False)],
        [(3, 40, 1, 2, 7, False), (3, 40, 1, 1, 3, False), (3, 40, 2, 1, 5, False)],
        [(6, 80, 1, 2, 7, False), (3, 80, 3, 1, 5, False), (6, 96, 1, 1, 5, False), (3, 96, 3, 1, 5, False)],
        [(6, 192, 2, 2, 7, False), (3, 192, 2, 1, 7, False), (6, 320, 1, 1, 7, False)],
    ]
    return dataclasses.replace(_mb_net(32, stages, "relu6", _head(1280, "relu6")), norm=Norm(eps=1e-3))


def antnet(groups: int = 1) -> NetSpec:
    """ANTNet as the public reimplementation (dhananjaisharma10/ANTNet) defines it: convs with bias, no BN,
    no activation after the stem and the last 1x1 conv; `groups` is g of the grouped projections."""
    outs = [16, 24, 32, 64, 96, 160, 320]
    repeats, expansions = [1, 2, 3, 4, 3, 3, 1], [1, 6, 6, 6, 6, 6, 6]
    ratios, strides = [8, 8, 12, 16, 24, 32, 64], [1, 2, 2, 2, 1, 2, 1]
    stages, c = [], 32
    for i, (out, n, t, r, s) in enumerate(zip(outs, repeats, expansions, ratios, strides)):
        g = 1 if i == 0 else groups  # the first stage's projection stays dense (the g=2 figure implies it)
        blocks: list[Block] = []
        for count, (cin, stride) in ((1, (c, s)), (n - 1, (out, 1))):
            _append(blocks, "ant", AntArgs(out, cin * t, cin * t // r, 3, stride, g, "relu6", norm=False), count)
        stages.append(Stage(tuple(blocks)))
        c = out
    stem = (Block("conv", ConvArgs(32, 3, 2, bias=True, norm=False, activation="none")),)
    head = (Block("conv_head", ConvHeadArgs(1280, "none", norm=False)), Block("classifier", ClassifierArgs()))
    return NetSpec(stem=stem, stages=tuple(stages), head=head)


def efficientnet_b0() -> NetSpec:
    """torchvision efficientnet_b0: SiLU, SE on a quarter of the block input, head conv 1280, dropout 0.2."""
    rows = [(1, 16, 1, 1, 3, True), (6, 24, 2, 2, 3, True), (6, 40, 2, 2, 5, True), (6, 80, 3, 2, 3, True),
            (6, 112, 3, 1, 5, True), (6, 192, 4, 2, 5, True), (6, 320, 1, 1, 3, True)]
    spec = _mb_net(32, [[row] for row in rows], "silu", _head(1280, "silu", dropout=0.2), se_act="silu")
    return dataclasses.replace(spec, drop_path=DropPath(0.2))  # torchvision stochastic_depth_prob, linear rule


# (width, depth, resolution, dropout): tensorflow/tpu efficientnet_builder.efficientnet_params
EFFICIENTNET = {
    "efficientnet_b1": (1.0, 1.1, 240, 0.2),
    "efficientnet_b2": (1.1, 1.2, 260, 0.3),
    "efficientnet_b3": (1.2, 1.4, 300, 0.3),
    "efficientnet_b4": (1.4, 1.8, 380, 0.4),
    "efficientnet_b5": (1.6, 2.2, 456, 0.4),
    "efficientnet_b6": (1.8, 2.6, 528, 0.5),
    "efficientnet_b7": (2.0, 3.1, 600, 0.5),
}
TF_PORTED = ("efficientnet_b5", "efficientnet_b6", "efficientnet_b7")  # torchvision's weights ported from TF


def efficientnet(name: str) -> NetSpec:
    """EfficientNet-B1..B7: B0 multiplied by the published (width, depth, resolution), with its dropout."""
    width, depth, resolution, dropout = EFFICIENTNET[name]
    spec = multiply(efficientnet_b0(), width, depth, resolution)
    conv, classifier = spec.head
    return dataclasses.replace(spec, head=(conv, dataclasses.replace(classifier, args=dataclasses.replace(
        classifier.args, dropout=dropout))), norm=TF_NORM if name in TF_PORTED else spec.norm)


G4 = 50_000  # tolerance of a GMACs figure printed to 4 decimals


def _row(name: str, resolution: int, make: Callable[[], NetSpec], reference: Reference) -> Backbone:
    return Backbone(name, "mobile", resolution, make, reference)


_EFFNET_REFERENCES = {  # name: (tv num_params, conv+fc GMACs at the paper resolution, paper, top-1 tv)
    "efficientnet_b1": (7_794_184, 686_800_000, "7.8 M / 0.70 B", 78.642),
    "efficientnet_b2": (9_109_994, 993_600_000, "9.2 M / 1.0 B", 80.608),
    "efficientnet_b3": (12_233_232, 1_827_100_000, "12 M / 1.8 B", 82.008),
    "efficientnet_b4": (19_341_616, 4_393_800_000, "19 M / 4.2 B", 83.384),
    "efficientnet_b5": (30_389_784, 10_266_400_000, "30 M / 9.9 B", 83.444),
    "efficientnet_b6": (43_040_704, 19_067_600_000, "43 M / 19 B", 84.008),
    "efficientnet_b7": (66_347_960, 37_745_884_192, "66 M / 37 B", 84.122),
}
_EFFNET_NOTES = {
    "efficientnet_b2": "torchvision evaluates B2 at 288 (its _ops 1.088 G); 0.9936 G is at the TF resolution 260.",
    "efficientnet_b4": "The paper's 4.2 B is 4-5 % below the code definition (4.39 G), pycls agrees with the paper.",
    "efficientnet_b5": "The paper's 9.9 B is 4-5 % below the code definition (10.27 G), pycls agrees with the paper.",
}


def _efficientnet_row(name: str) -> Backbone:
    params, macs, paper, top1 = _EFFNET_REFERENCES[name]
    tol = 0 if name == "efficientnet_b7" else G4
    note = "B0 multiplied by the published (w, d, r). " + _EFFNET_NOTES.get(name, "")
    reference = Reference(f"torchvision 0.28 {name}", params, macs, tol, paper, top1, note.strip())
    return _row(name, EFFICIENTNET[name][2], lambda: efficientnet(name), reference)


BACKBONES: tuple[Backbone, ...] = (
    _row("mobilenet_v1", 224, mobilenet_v1, Reference(
        "timm 1.0 mobilenetv1_100", 4_231_976, 568_700_000, G4,
        "569 M mult-adds, 4.2 M params, 70.6 % top-1", 75.388,
        "75.388 is timm's ra4 recipe (TF-slim checkpoint 70.9). timm uses ReLU6; the paper's ReLU changes no count.")),
    _row("mobilenet_v2", 224, mobilenet_v2, Reference(
        "torchvision 0.28 mobilenet_v2", 3_504_872, 300_800_000, G4, "3.4 M, 300 M MAdds", 71.878,
        "The paper's 3.4 M (TF 3.47 M) comes from the 1001-class TF head and whether BN is counted.")),
    _row("mobilenet_v3_large", 224, mobilenet_v3_large, Reference(
        "torchvision 0.28 mobilenet_v3_large", 5_483_032, 216_600_000, G4, "5.4 M, 219 M MAdds", 74.042,
        "TF README: 217 M MACs, 5.4 M, 75.2 %. The paper's figures are recalled, not verified.")),
    _row("mobilenet_v3_small", 224, mobilenet_v3_small, Reference(
        "torchvision 0.28 mobilenet_v3_small", 2_542_856, 56_510_400, 0, "2.5 M, 56 M MAdds", 67.668,
        "The TF model-zoo README's 66 M MACs / 2.9 M params disagree with both the code and the paper.")),
    _row("mnasnet_a1", 224, mnasnet_a1, Reference(
        "timm 1.0 semnasnet_100", 3_887_038, 311_600_000, G4, "3.9 M, 312 M MAdds (README table: 315.2 M), 75.2 % top-1", 75.452,
        "75.452 is timm's weights. torchvision mnasnet1_0 is the B1 variant without SE, not A1.")),
    _row("proxylessnas_mobile", 224, proxylessnas_mobile, Reference(
        "pytorchcv 0.0.74 proxylessnas_mobile", 4_080_512, 320_400_000, G4,
        "official log: 4.08 M params, 320.4 M FLOPs", 74.594,
        "Matches the official training log (mit-han-lab/proxylessnas logs/imagenet_mobile_log.txt).")),
    _row("antnet", 224, antnet, Reference(
        "dhananjaisharma10/ANTNet (third-party reimplementation, g=1)", 3_812_039, 313_900_000, G4,
        "3.7 M params (g=1), 72.8 % top-1", 72.8,
        "No official code; we match the reimplementation exactly (convs with bias and no BN, an expansion conv "
        "even at ratio 1, a 1x1 conv to 1280 without activation). Its 3.81 M is 0.11 M (3 %) above the "
        "paper's rounded 3.7 M; BN instead of biases would add 18 K, not remove it, so the gap lies in a "
        "layout the paper does not pin down (the attention convs hold 323 K here). Its MACs are an estimate.")),
    _row("efficientnet_b0", 224, efficientnet_b0, Reference(
        "torchvision 0.28 efficientnet_b0", 5_288_548, 385_800_000, G4, "5.3 M / 0.39 B", 77.692,
        "Paper v1 top-1 76.3, later revisions 77.1; torchvision's weights reach 77.692.")),
) + tuple(_efficientnet_row(name) for name in EFFICIENTNET)
