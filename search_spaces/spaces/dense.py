"""The `dense` space: DenseNet-BC networks (torchvision's layout) by growth rate, block depths, compression.

Stem: 7x7/2 conv (BN, ReLU) to `stem.out_channels` and a 3x3/2 max pool. Stage s is a transition (for
s > 1: BN-ReLU-1x1 conv to `int(channels * compression)`, 2x2 average pool) then a dense block of
`s{s}.depth` layers, each adding `growth_rate` channels through a 1x1 bottleneck of
`bn_size * growth_rate`; the last stage ends with BN-ReLU, the head is global pooling and one linear layer.
`width_mult` scales the growth rate and the stem width (make_divisible), `depth_mult` the block depths.
"""
from __future__ import annotations

from typing import Any

from search_spaces.cells.conv import BnActArgs, ConvArgs, PoolArgs
from search_spaces.cells.dense import DenseArgs, TransitionArgs
from search_spaces.cells.head import ClassifierArgs
from search_spaces.rounding import scale_channels
from search_spaces.spaces.base import Params, Space
from search_spaces.spaces.declared import Choice, Int
from search_spaces.spaces.multipliers import base_depth, base_width, depth, encode_first
from search_spaces.spec import Block, NetSpec, Stage

WIDTH_MULTS = (0.5, 0.75, 1.0, 1.25)
DEPTH_MULTS = (1.0, 1.5, 2.0)
COMPRESSIONS = (0.5, 0.75, 1.0)  # DenseNet-BC's theta; 1.0 is DenseNet-B (no compression)
GROWTH = (8, 48, 4)
STEM = (16, 128, 16)
DEPTH = (2, 48, 2)


PARAMETERS = (  # what `suggest` draws, in its order (`declared`; tests/spaces/test_declared.py holds them to it)
    Int("resolution", 96, 320, 16), Choice("width_mult", WIDTH_MULTS), Choice("depth_mult", DEPTH_MULTS),
    Int("growth_rate", *GROWTH), Int("bn_size", 1, 4), Choice("compression", COMPRESSIONS), Int("stem.out_channels", *STEM),
    Int("stages", 3, 4), Int("s{s}.depth", *DEPTH, when="s <= stages"),
)

class DenseSpace(Space):
    """DenseNet-BC networks of 3 or 4 dense blocks."""

    name = "dense"
    description = "DenseNet-BC: growth rate, bottleneck size, block depths, compression, stem width"
    fixed_points = ("densenet121", "densenet169", "densenet201")

    def parameters(self) -> tuple:
        return PARAMETERS

    def suggest(self, trial: Any) -> NetSpec:
        resolution = trial.suggest_int("resolution", 96, 320, step=16)
        width = trial.suggest_categorical("width_mult", WIDTH_MULTS)
        deep = trial.suggest_categorical("depth_mult", DEPTH_MULTS)
        growth = scale_channels(trial.suggest_int("growth_rate", *GROWTH[:2], step=GROWTH[2]), width)
        bottleneck = trial.suggest_int("bn_size", 1, 4) * growth
        compression = trial.suggest_categorical("compression", COMPRESSIONS)
        channels = scale_channels(trial.suggest_int("stem.out_channels", *STEM[:2], step=STEM[2]), width)
        stem = (Block("conv", ConvArgs(channels, 7, 2)), Block("maxpool", PoolArgs(3, 2, 1)))
        stages = []
        for s in range(1, trial.suggest_int("stages", 3, 4) + 1):
            rows = []
            if s > 1:
                channels = int(channels * compression)
                rows.append(Block("dense_transition", TransitionArgs(channels)))
            layers = depth(trial.suggest_int(f"s{s}.depth", *DEPTH[:2], step=DEPTH[2]), deep)
            rows.append(Block("dense", DenseArgs(layers, growth, bottleneck)))
            channels += layers * growth
            stages.append(rows)
        stages[-1].append(Block("bn_act", BnActArgs()))
        return NetSpec(stem=stem, stages=tuple(Stage(tuple(rows)) for rows in stages),
                       head=(Block("classifier", ClassifierArgs()),), resolution=resolution)

    def encode(self, spec: NetSpec) -> Params:
        return encode_first(self, spec, self._encode, WIDTH_MULTS, DEPTH_MULTS)

    def _encode(self, spec: NetSpec, width: float, deep: float) -> Params:
        blocks = [stage.blocks[-2 if s == len(spec.stages) - 1 else -1] for s, stage in enumerate(spec.stages)]
        first = blocks[0].args
        stem = spec.stem[0].args.out_channels
        params: Params = {
            "resolution": spec.resolution, "width_mult": width, "depth_mult": deep,
            "growth_rate": base_width(first.growth_rate, width, *GROWTH),
            "bn_size": first.bottleneck_channels // first.growth_rate,
            "stem.out_channels": base_width(stem, width, *STEM), "stages": len(spec.stages),
            "compression": 0.5,
        }
        if len(spec.stages) > 1:
            entering = stem + first.layers * first.growth_rate
            out = spec.stages[1].blocks[0].args.out_channels
            params["compression"] = next((c for c in COMPRESSIONS if int(entering * c) == out), 0.5)
        for s, block in enumerate(blocks, 1):
            params[f"s{s}.depth"] = base_depth(block.args.layers, deep, *DEPTH)
        return params


SPACE = DenseSpace()
