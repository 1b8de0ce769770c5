"""The `classic` space: plain conv stacks (AlexNet, VGG) and SqueezeNet's fire modules.

`kind` picks the family (fire first: it is the cheaper one).

- plain: `stages` stages, each of rows of 3x3 (or 5x5) convs with a bias, BN when `norm`, then a max pool
  (`pool`: 2x2/2 as VGG or 3x3/2 as AlexNet). The first conv (s1.b1) also picks its kernel, stride and
  padding (AlexNet's 11x11/4 with padding 2); a row of a stride-1 'same' conv may repeat (VGG). The head
  pools to `head.pool_size` and runs `head.hidden` linear layers of `head.hidden_width`.
- fire: a 7x7 or 3x3 stride-2 stem conv (no padding), then stages that each open with a 3x3/2 ceil-mode
  max pool and holds rows of repeated fire modules (squeeze, and equal 1x1 / 3x3 expand widths);
  SqueezeNet's conv head, whose `head.activation` keeps SqueezeNet's ReLU on the class scores or leaves it
  out; BN after each conv when `norm`, the input added to each fire module whose widths agree (the repeats
  of a row) when `bypass` (SqueezeNet's simple bypass).

Row labels count the spec's rows: `s2.b1` is a stage's first row (for fire stages, b1 is the pool and the
fires are b2..). Widths are multiples of 16 (squeeze widths of 8) so that `width_mult` keeps them on the
grid; `depth_mult` multiplies the repeats of conv and fire rows.

The default search distribution holds `norm` and `bypass` at True and `head.activation` at none (`--free
NAME` draws one again). Under the proxy (experiments/proxy_reliability.md, classic: 15 draws with every
parameter free against 20 from the default), mean error without BN 0.90 against 0.54 with it, without the
bypass 0.72 against 0.29, with a ReLU on the class scores 0.77 against 0.47 without; 6 of 15 free draws
reached 3x chance against 18 of 20 from the default as it was then.

The default distribution also keeps the limit `max_plain_convs` = 16 (VGG-19's count; `--free
max_plain_convs` lifts it, `--fix max_plain_convs=N` moves it). The two misses of those 20 draws were plain
stacks of 20 and 33 convs without a shortcut, near chance at a fifth or four times the proxy's learning
rate and over 4 epochs as well (experiments/classic_plain.md). Over those 20 draws and 20 plain ones
(`--fix kind=plain`), networks of at most 16 plain convs reached 3x chance 29 times of 32 (median 0.958),
deeper ones 2 times of 8 (median 0.215); with the limit, 20 of 20 default draws reach it.
"""
from __future__ import annotations

from types import MappingProxyType
from typing import Any

from search_spaces.cells.conv import ConvArgs, PoolArgs
from search_spaces.cells.fire import FireArgs
from search_spaces.cells.head import ClassifierArgs, ConvClassifierArgs
from search_spaces.rounding import scale_channels
from search_spaces.spaces.base import Params, Space
from search_spaces.spaces.declared import Choice, Int
from search_spaces.spaces.limits import Limit
from search_spaces.spaces.multipliers import base_depth, base_width, depth, encode_first
from search_spaces.spec import Block, NetSpec, Stage

KINDS = ("fire", "plain")
WIDTH_MULTS = (0.25, 0.5, 0.75, 1.0)
DEPTH_MULTS = (1.0, 1.5, 2.0)  # 1.0 first: it is the cheapest
POOLS = {"max3": PoolArgs(3, 2), "max2": PoolArgs(2, 2)}  # AlexNet's overlapping pool, VGG's
FIRE_POOL = PoolArgs(3, 2, ceil_mode=True)
FIRST_KERNELS = (3, 5, 7, 11)
FIRST_STRIDES = (4, 2, 1)  # cheapest first
WIDTH = (16, 512, 16)  # conv widths: low, high, step
SQUEEZE = (8, 96, 8)
EXPAND = (32, 384, 16)
STEM = (32, 128, 16)
HIDDEN = (256, 4096, 256)
DROPOUTS = (0.0, 0.5)


PLAIN, FIRE = "kind plain", "kind fire"
PARAMETERS = (  # what `suggest` draws, in its order (`declared`; tests/spaces/test_declared.py holds them to it)
    Int("resolution", 160, 256, 16), Choice("width_mult", WIDTH_MULTS), Choice("depth_mult", DEPTH_MULTS),
    Choice("head.dropout", DROPOUTS), Choice("kind", KINDS),
    Choice("norm", (False, True)), Choice("pool", tuple(POOLS), when=PLAIN),
    Choice("s1.b1.stride", FIRST_STRIDES, when=PLAIN),
    Int("stages", 3, 5, when=PLAIN, note="at most 4 where s1.b1.stride is 4"),
    Int("stages", 2, 4, when=FIRE),
    Int("s{s}.rows", 1, 3, when="s <= stages"),
    Int("s{s}.b{r}.out_channels", *WIDTH, when=PLAIN + ", s <= stages, r <= s{s}.rows"),
    Choice("s1.b1.kernel_size", FIRST_KERNELS, when=PLAIN),
    Int("s1.b1.padding", 0, max(FIRST_KERNELS) // 2, when=PLAIN, note="at most s1.b1.kernel_size // 2 ('same')"),
    Choice("s{s}.b{r}.kernel_size", (3, 5), when=PLAIN + ", s <= stages, r <= s{s}.rows, every row but s1.b1"),
    Int("s{s}.b{r}.repeats", 1, 3, when="s <= stages; plain: r <= s{s}.rows, a stride-1 'same' conv row (s1.b1 only "
        "with stride 1 and padding kernel // 2); fire: 2 <= r <= s{s}.rows + 1"),
    Int("head.pool_size", 1, 7, when=PLAIN), Int("head.hidden", 0, 2, when=PLAIN),
    Int("head.hidden_width", *HIDDEN, when=PLAIN + ", head.hidden >= 1"),
    Choice("bypass", (False, True), when=FIRE), Choice("head.activation", ("relu", "none"), when=FIRE),
    Choice("stem.kernel_size", (3, 7), when=FIRE), Int("stem.out_channels", *STEM, when=FIRE),
    Int("s{s}.b{r}.squeeze_channels", *SQUEEZE, when=FIRE + ", s <= stages, 2 <= r <= s{s}.rows + 1 (b1 is the pool)"),
    Int("s{s}.b{r}.expand_channels", *EXPAND, when=FIRE + ", s <= stages, 2 <= r <= s{s}.rows + 1 (b1 is the pool)"),
)


def plain_convs(spec: NetSpec) -> int:
    """The convs of a network's plain stages (their rows' repeats); 0 for a fire network."""
    return sum(row.repeats for stage in spec.stages for row in stage.blocks if row.cell == "conv")


class ClassicSpace(Space):
    """AlexNet/VGG-style conv stacks and SqueezeNet-style fire networks."""

    name = "classic"
    description = ("plain conv stacks (AlexNet, VGG: rows of convs, max pools, an MLP head) and SqueezeNet "
                   "fire modules; widths, depths, kernels, BN, pooling and head")
    defaults = MappingProxyType({"norm": True, "bypass": True, "head.activation": "none"})  # evidence: the module docstring
    limits = MappingProxyType({"max_plain_convs": Limit(plain_convs, 16, upper=True, unit="convs in the plain stages")})
    fixed_points = ("alexnet", "vgg16", "vgg16_bn", "squeezenet1_0", "squeezenet1_1")

    def parameters(self) -> tuple:
        return PARAMETERS

    def suggest(self, trial: Any) -> NetSpec:
        resolution = trial.suggest_int("resolution", 160, 256, step=16)
        width = trial.suggest_categorical("width_mult", WIDTH_MULTS)
        deep = trial.suggest_categorical("depth_mult", DEPTH_MULTS)
        dropout = trial.suggest_categorical("head.dropout", DROPOUTS)
        fire = trial.suggest_categorical("kind", KINDS) == "fire"
        norm = trial.suggest_categorical("norm", (False, True))
        if fire:
            return self._fire(trial, resolution, width, deep, dropout, norm)
        return self._plain(trial, resolution, width, deep, dropout, norm)

    def _plain(self, trial: Any, resolution: int, width: float, deep: float, dropout: float, norm: bool) -> NetSpec:
        pool = Block("maxpool", POOLS[trial.suggest_categorical("pool", tuple(POOLS))])
        stages = []
        first_stride = trial.suggest_categorical("s1.b1.stride", FIRST_STRIDES)
        # a stride-4 first conv leaves too little map for five pools at 160 px
        num_stages = trial.suggest_int("stages", 3, 4 if first_stride == 4 else 5)
        for s in range(1, num_stages + 1):
            rows = []
            for b in range(1, trial.suggest_int(f"s{s}.rows", 1, 3) + 1):
                label = f"s{s}.b{b}"
                out = scale_channels(trial.suggest_int(f"{label}.out_channels", *WIDTH[:2], step=WIDTH[2]), width)
                kernel, stride, padding = 3, 1, None
                if (s, b) == (1, 1):
                    kernel = trial.suggest_categorical(f"{label}.kernel_size", FIRST_KERNELS)
                    stride = first_stride
                    pad = trial.suggest_int(f"{label}.padding", 0, kernel // 2)
                    padding = None if pad == kernel // 2 else pad
                else:
                    kernel = trial.suggest_categorical(f"{label}.kernel_size", (3, 5))
                repeats = 1
                if stride == 1 and padding is None:
                    repeats = depth(trial.suggest_int(f"{label}.repeats", 1, 3), deep)
                args = ConvArgs(out, kernel, stride, padding, bias=True, norm=norm)
                rows.append(Block("conv", args, repeats))
            stages.append(Stage(tuple(rows) + (pool,)))
        head = ClassifierArgs(pool_size=trial.suggest_int("head.pool_size", 1, 7),
                              hidden=self._hidden(trial), dropout=dropout)
        return NetSpec(stem=(), stages=tuple(stages), head=(Block("classifier", head),), resolution=resolution)

    @staticmethod
    def _hidden(trial: Any) -> tuple[int, ...]:
        layers = trial.suggest_int("head.hidden", 0, 2)
        return (trial.suggest_int("head.hidden_width", *HIDDEN[:2], step=HIDDEN[2]),) * layers if layers else ()

    def _fire(self, trial: Any, resolution: int, width: float, deep: float, dropout: float, norm: bool) -> NetSpec:
        bypass = trial.suggest_categorical("bypass", (False, True))
        logits = trial.suggest_categorical("head.activation", ("relu", "none"))
        kernel = trial.suggest_categorical("stem.kernel_size", (3, 7))
        out = scale_channels(trial.suggest_int("stem.out_channels", *STEM[:2], step=STEM[2]), width)
        stem = Block("conv", ConvArgs(out, kernel, 2, 0, bias=True, norm=norm))
        stages = []
        for s in range(1, trial.suggest_int("stages", 2, 4) + 1):
            rows = [Block("maxpool", FIRE_POOL)]
            for b in range(2, trial.suggest_int(f"s{s}.rows", 1, 3) + 2):
                squeeze = scale_channels(trial.suggest_int(f"s{s}.b{b}.squeeze_channels", *SQUEEZE[:2], step=SQUEEZE[2]), width)
                expand = scale_channels(trial.suggest_int(f"s{s}.b{b}.expand_channels", *EXPAND[:2], step=EXPAND[2]), width)
                repeats = depth(trial.suggest_int(f"s{s}.b{b}.repeats", 1, 3), deep)
                rows.append(Block("fire", FireArgs(squeeze, expand, expand, norm, bypass), repeats))
            stages.append(Stage(tuple(rows)))
        head = Block("conv_classifier", ConvClassifierArgs(dropout, logits))
        return NetSpec(stem=(stem,), stages=tuple(stages), head=(head,), resolution=resolution)

    def encode(self, spec: NetSpec) -> Params:
        return encode_first(self, spec, self._encode, WIDTH_MULTS, DEPTH_MULTS)

    def _encode(self, spec: NetSpec, width: float, deep: float) -> Params:
        head = spec.head[0].args
        params: Params = {"resolution": spec.resolution, "width_mult": width, "depth_mult": deep,
                          "head.dropout": head.dropout, "stages": len(spec.stages)}
        if spec.head[0].cell == "conv_classifier":
            stem = spec.stem[0].args
            fire = spec.stages[0].blocks[1].args
            params |= {"kind": "fire", "norm": stem.norm, "bypass": fire.bypass, "head.activation": head.activation,
                       "stem.kernel_size": stem.kernel_size,
                       "stem.out_channels": base_width(stem.out_channels, width, *STEM)}
            for s, stage in enumerate(spec.stages, 1):
                params[f"s{s}.rows"] = len(stage.blocks) - 1
                for b, row in enumerate(stage.blocks[1:], 2):
                    params[f"s{s}.b{b}.squeeze_channels"] = base_width(row.args.squeeze_channels, width, *SQUEEZE)
                    params[f"s{s}.b{b}.expand_channels"] = base_width(row.args.expand1x1_channels, width, *EXPAND)
                    params[f"s{s}.b{b}.repeats"] = base_depth(row.repeats, deep, 1, 3)
            return params
        first = spec.stages[0].blocks[0].args
        pool = spec.stages[0].blocks[-1].args
        params |= {"kind": "plain", "norm": first.norm, "pool": "max3" if pool.kernel_size == 3 else "max2",
                   "head.pool_size": head.pool_size, "head.hidden": len(head.hidden)}
        if head.hidden:
            params["head.hidden_width"] = head.hidden[0]
        for s, stage in enumerate(spec.stages, 1):
            params[f"s{s}.rows"] = len(stage.blocks) - 1
            for b, row in enumerate(stage.blocks[:-1], 1):
                params |= self._encode_row(f"s{s}.b{b}", row, (s, b) == (1, 1), width, deep)
        return params

    @staticmethod
    def _encode_row(label: str, row: Block, first: bool, width: float, deep: float) -> Params:
        a = row.args
        params = {f"{label}.out_channels": base_width(a.out_channels, width, *WIDTH),
                  f"{label}.kernel_size": a.kernel_size}
        if first:
            params[f"{label}.stride"] = a.stride
            params[f"{label}.padding"] = a.kernel_size // 2 if a.padding is None else a.padding
        if a.stride == 1 and a.padding is None:
            params[f"{label}.repeats"] = base_depth(row.repeats, deep, 1, 3)
        return params


SPACE = ClassicSpace()
