"""The `mobile` space: MBConv-family networks (MobileNetV1-V3, MnasNet, ProxylessNAS, ANTNet, EfficientNet).

A stem conv (3x3/2), `stages` stages, a head. Each stage has a block kind (`dsconv`, `mbconv` or ANTNet's
`ant`), an activation and a stride (exactly four stride-2 stages, output stride 32 as in every MobileNet:
a stage's stride is a parameter only where both are still possible), then `s{s}.rows`
block rows. Row r (`s{s}.b{r}.*`) is torchvision's (t, c, n, s) row: its first block maps the stage input
to `out_channels` (with the stage stride if r == 1), its `repeats - 1` copies map out to out, and every
block expands to make_divisible(block input * `expand_ratio`) with the row's kernel, SE flag (mbconv) or
attention ratio (ant). SE widths follow `se.rule`: a quarter of the block input (EfficientNet, MnasNet) or
make_divisible(a quarter of the expanded width) (MobileNetV3). Consecutive identical mbconv/ant blocks
share one spec row; dsconv blocks get a row each (MobileNetV1's table).

Widths are multiples of 8, each row's base width within [half, twice] the previous one; `width_mult`
scales them (and the stem and head convs) with `scale_channels`, `depth_mult` scales each row's repeats
(ceil), as `search_spaces.scale.multiply` does. EfficientNet-B1..B7 are points through their explicit
widths, depths and resolution (encode tries multipliers 1.0 first).
The default search distribution holds `norm` at True and every stage at one row, `s{s}.rows` = 1 (`--free
NAME` draws one again, `--free all` every one): the stage is then MnasNet's and Once-for-All's unit, one
block kind, width, kernel, expansion and SE repeated `repeats` times, and every axis those searches
search is still searched (per-stage depth, kernel, expansion, width, SE; resolution and the multipliers).
Under the proxy (experiments/proxy_reliability.md, mobile: 20 draws with every parameter free against 20
from the default), networks without BN in their stem, head and ANT blocks failed or stayed near chance (mean
error 0.86 over 7 draws), and with BN but stages of several rows whose widths jump (down to 8 channels and
back) 10 of 13 reached 3x chance with a median of 0.56, against 19 of 20 and 0.945 with one row per stage.
"""
from __future__ import annotations

from dataclasses import dataclass
from types import MappingProxyType
from typing import Any

from search_spaces.cells.base import stride_one
from search_spaces.cells.conv import ConvArgs
from search_spaces.cells.head import ClassifierArgs
from search_spaces.cells.mbconv import AntArgs, ConvHeadArgs, DSConvArgs, MBConvArgs
from search_spaces.cost import Shape
from search_spaces.counting import rows_cost
from search_spaces.rounding import make_divisible, scale_channels
from search_spaces.spaces.base import Params, Space, check_budget
from search_spaces.spaces.declared import Choice, Float, Int
from search_spaces.spaces.multipliers import (
    Unreachable,
    base_depth,
    base_width,
    depth,
    encode_first,
)
from search_spaces.spec import Block, NetSpec, Stage

RESOLUTIONS = (96, 112, 128, 144, 160, 176, 192, 208, 224, 240, 256, 260, 288, 300, 320, 380, 456, 528, 600)
WIDTH_MULTS = (0.35, 0.5, 0.75, 1.0)  # wider and deeper networks are points through explicit widths
DEPTH_MULTS = (0.5, 0.75, 1.0)
KINDS = ("dsconv", "mbconv", "ant")
ACTIVATIONS = ("relu", "relu6", "hardswish", "silu")
KERNELS = (3, 5, 7)
RATIO_STEP = 0.25
RATIOS = tuple(1.0 + RATIO_STEP * i for i in range(21))  # 1.0 .. 6.0
ATTENTION_RATIOS = (64, 32, 24, 16, 12, 8)  # ANTNet's channel-attention reduction, cheapest first
DROPOUTS = (0.0, 0.2, 0.3, 0.4, 0.5)
STRIDE2 = 4  # stride-2 stages after the stem: output stride 32
MAX_WIDTH = 1024
MAX_REPEATS = 4
STEM = (16, 64, 8)
HEAD = (256, 2560, 64)
HIDDEN = (512, 2048, 256)


@dataclass(frozen=True)
class Style:
    """Network-wide choices every block shares."""

    width: float
    norm: bool  # BN in the stem, head conv and ant blocks (False: biases, ANTNet's reimplementation)
    se_rule: str  # "input" or "expanded"
    se_activation: str
    se_gate: str


@dataclass(frozen=True)
class Row:
    """One row's choices: what every block of the row shares."""

    kind: str
    out: int
    kernel: int
    activation: str
    ratio: float = 1.0
    se: bool = False
    attention: int = 0  # ant only: reduction ratio


def _block(row: Row, style: Style, in_channels: int, stride: int) -> tuple[str, Any]:
    """(cell, args) of one block of `row` on `in_channels` inputs."""
    if row.kind == "dsconv":
        return "dsconv", DSConvArgs(row.out, row.kernel, stride, row.activation)
    mid = make_divisible(in_channels * row.ratio)
    if row.kind == "ant":
        return "ant", AntArgs(row.out, mid, max(1, mid // row.attention), row.kernel, stride, 1, row.activation,
                              style.norm)
    se = 0
    if row.se:
        se = max(1, in_channels // 4) if style.se_rule == "input" else make_divisible(mid // 4)
    return "mbconv", MBConvArgs(row.out, mid, row.kernel, stride, row.activation, se, style.se_activation,
                                style.se_gate)


def _append(blocks: list[Block], cell: str, args: Any, count: int) -> None:
    """Add `count` blocks of `args`; a block equal to the previous row's copies joins that row (one row,
    repeated: torchvision's stride-2 first block and its stride-1 copies, as `scale.multiply` emits them)."""
    last = blocks[-1] if blocks else None
    if last is not None and last.cell == cell and (last.args == args or (
            last.args.stride != 1 and last.args.out_channels == args.out_channels and stride_one(last.args) == args)):
        blocks[-1] = Block(cell, last.args, last.repeats + count)
    else:
        blocks.append(Block(cell, args, count))


def _stride(downsamplings: int, stages_left: int) -> int | None:
    """The stride a stage must have (every network downsamples exactly four times after the stem), or None
    when it is free to choose."""
    if downsamplings == STRIDE2:
        return 1
    if STRIDE2 - downsamplings == stages_left:
        return 2
    return None


def _width_range(base_in: int) -> tuple[int, int, int]:
    """Base widths a row may take after a base width of `base_in`: [half, twice], step 8."""
    return max(8, base_in // 2 // 8 * 8), min(2 * base_in, MAX_WIDTH), 8


MAX_STAGES = 7
STAGE, ROW = "s <= stages", "s <= stages, r <= s{s}.rows"
PARAMETERS = (  # what `suggest` draws, in its order (`declared`; tests/spaces/test_declared.py holds them to it)
    Choice("resolution", RESOLUTIONS), Choice("width_mult", WIDTH_MULTS), Choice("depth_mult", DEPTH_MULTS),
    Choice("norm", (True, False)), Choice("se.rule", ("input", "expanded")), Choice("se.activation", ("relu", "silu")),
    Choice("se.gate", ("sigmoid", "hardsigmoid")), Int("stem.out_channels", *STEM),
    Choice("stem.activation", ACTIVATIONS + ("none",)), Int("stages", 4, MAX_STAGES),
    Choice("s{s}.kind", KINDS, when=STAGE), Choice("s{s}.activation", ACTIVATIONS, when=STAGE),
    Choice("s{s}.stride", (2, 1), when=STAGE + ", where either stride still leaves exactly four stride-2 stages"),
    Int("s{s}.rows", 1, 4, when=STAGE),
    Int("s{s}.b{r}.out_channels", 8, MAX_WIDTH, 8, when=ROW,
        note="within [half, twice] the previous row's base width (the stem's for s1.b1), at least 8"),
    Choice("s{s}.b{r}.kernel_size", KERNELS, when=ROW),
    Int("s{s}.b{r}.repeats", 1, MAX_REPEATS, when=ROW),
    Float("s{s}.b{r}.expand_ratio", 1.0, 6.0, RATIO_STEP, when=ROW + ", s{s}.kind mbconv or ant"),
    Choice("s{s}.b{r}.se", (False, True), when=ROW + ", s{s}.kind mbconv"),
    Choice("s{s}.b{r}.attention_ratio", ATTENTION_RATIOS, when=ROW + ", s{s}.kind ant"),
    Choice("head.conv", (False, True)), Int("head.out_channels", *HEAD, when="head.conv"),
    Choice("head.activation", ACTIVATIONS + ("none",), when="head.conv"), Int("head.hidden", 0, 1),
    Int("head.hidden_width", *HIDDEN, when="head.hidden = 1"), Choice("head.hidden_activation", ACTIVATIONS),
    Choice("head.dropout", DROPOUTS),
)


class MobileSpace(Space):
    """MobileNet / MnasNet / ProxylessNAS / ANTNet / EfficientNet networks, row by row."""

    name = "mobile"
    description = ("MBConv-family networks: per stage the block kind (dsconv, mbconv, ant), activation, stride and "
                   "rows; per row the width, repeats, kernel, expansion and SE; stem, head and global multipliers")
    # evidence: the module docstring
    defaults = MappingProxyType({"norm": True} | {f"s{s}.rows": 1 for s in range(1, MAX_STAGES + 1)})
    fixed_points = (
        "mobilenet_v1", "mobilenet_v2", "mobilenet_v3_large", "mobilenet_v3_small", "mnasnet_a1", "proxylessnas_mobile",
        "antnet", "efficientnet_b0", "efficientnet_b1", "efficientnet_b2", "efficientnet_b3", "efficientnet_b4",
        "efficientnet_b5", "efficientnet_b6", "efficientnet_b7",
    )

    def parameters(self) -> tuple:
        return PARAMETERS

    def suggest(self, trial: Any) -> NetSpec:
        resolution = trial.suggest_categorical("resolution", RESOLUTIONS)
        width = trial.suggest_categorical("width_mult", WIDTH_MULTS)
        deep = trial.suggest_categorical("depth_mult", DEPTH_MULTS)
        style = Style(width, trial.suggest_categorical("norm", (True, False)),
                      trial.suggest_categorical("se.rule", ("input", "expanded")),
                      trial.suggest_categorical("se.activation", ("relu", "silu")),
                      trial.suggest_categorical("se.gate", ("sigmoid", "hardsigmoid")))
        base = trial.suggest_int("stem.out_channels", *STEM[:2], step=STEM[2])
        channels = scale_channels(base, width)
        stem_act = trial.suggest_categorical("stem.activation", ACTIVATIONS + ("none",))
        stem = Block("conv", ConvArgs(channels, 3, 2, bias=not style.norm, norm=style.norm, activation=stem_act))
        cost, shape = rows_cost((stem,), Shape(3, resolution, resolution), "stem")  # RGB: NetSpec's in_channels
        macs = cost.macs
        stages, downsamplings = [], 0
        num_stages = trial.suggest_int("stages", 4, MAX_STAGES)
        for s in range(1, num_stages + 1):
            kind = trial.suggest_categorical(f"s{s}.kind", KINDS)
            activation = trial.suggest_categorical(f"s{s}.activation", ACTIVATIONS)
            stride = _stride(downsamplings, num_stages - s + 1)
            if stride is None:
                stride = trial.suggest_categorical(f"s{s}.stride", (2, 1))
            downsamplings += stride == 2
            blocks: list[Block] = []
            stage_in = shape
            for r in range(1, trial.suggest_int(f"s{s}.rows", 1, 4) + 1):
                base, row, repeats = self._row(trial, f"s{s}.b{r}", kind, activation, base, deep, width)
                _append(blocks, *_block(row, style, channels, stride if r == 1 else 1), 1)
                if repeats > 1:
                    _append(blocks, *_block(row, style, row.out, 1), repeats - 1)
                channels = row.out
                # the stage so far (each row's cost is kept on its block: NetSpec's walk will not redo it)
                cost, out = rows_cost(blocks, stage_in, f"s{s}")
                check_budget(trial, macs + cost.macs)  # a budgeted draw already over its budget stops here
            stages.append(Stage(tuple(blocks)))
            macs, shape = macs + cost.macs, out
        head = self._head(trial, style)
        return NetSpec(stem=(stem,), stages=tuple(stages), head=head, resolution=resolution)

    @staticmethod
    def _row(trial: Any, label: str, kind: str, activation: str, base_in: int, deep: float,
             width: float) -> tuple[int, Row, int]:
        """(base width, the row's choices, its block count) for row `label`."""
        low, high, step = _width_range(base_in)
        base = trial.suggest_int(f"{label}.out_channels", low, high, step=step)
        kernel = trial.suggest_categorical(f"{label}.kernel_size", KERNELS)
        repeats = depth(trial.suggest_int(f"{label}.repeats", 1, MAX_REPEATS), deep)
        if kind == "dsconv":
            return base, Row(kind, scale_channels(base, width), kernel, activation), repeats
        ratio = trial.suggest_float(f"{label}.expand_ratio", 1.0, 6.0, step=RATIO_STEP)
        se = kind == "mbconv" and trial.suggest_categorical(f"{label}.se", (False, True))
        attention = trial.suggest_categorical(f"{label}.attention_ratio", ATTENTION_RATIOS) if kind == "ant" else 0
        return base, Row(kind, scale_channels(base, width), kernel, activation, ratio, se, attention), repeats

    @staticmethod
    def _head(trial: Any, style: Style) -> tuple[Block, ...]:
        head = []
        if trial.suggest_categorical("head.conv", (False, True)):
            out = scale_channels(trial.suggest_int("head.out_channels", *HEAD[:2], step=HEAD[2]), style.width)
            activation = trial.suggest_categorical("head.activation", ACTIVATIONS + ("none",))
            head.append(Block("conv_head", ConvHeadArgs(out, activation, style.norm)))
        hidden = (trial.suggest_int("head.hidden_width", *HIDDEN[:2], step=HIDDEN[2]),) if trial.suggest_int("head.hidden", 0, 1) else ()
        classifier = ClassifierArgs(hidden=hidden, activation=trial.suggest_categorical("head.hidden_activation", ACTIVATIONS),
                                    dropout=trial.suggest_categorical("head.dropout", DROPOUTS))
        return tuple(head) + (Block("classifier", classifier),)

    def encode(self, spec: NetSpec) -> Params:
        return encode_first(self, spec, self._encode, WIDTH_MULTS, DEPTH_MULTS)

    def _encode(self, spec: NetSpec, width: float, deep: float) -> Params:
        stem = spec.stem[0].args
        mbconvs = [b.args for stage in spec.stages for b in stage.blocks if b.cell == "mbconv"]
        params: Params = {
            "resolution": spec.resolution, "width_mult": width, "depth_mult": deep, "norm": stem.norm,
            "se.rule": _se_rule(spec), "se.activation": mbconvs[0].se_activation if mbconvs else "relu",
            "se.gate": mbconvs[0].se_gate if mbconvs else "sigmoid", "stem.activation": stem.activation,
            "stages": len(spec.stages),
        }
        style = Style(width, stem.norm, params["se.rule"], params["se.activation"], params["se.gate"])
        channels, downsamplings, stages = stem.out_channels, 0, []
        for s, stage in enumerate(spec.stages, 1):
            blocks = [(b.cell, args) for b in stage.blocks for args in _copies(b)]
            first = blocks[0][1]
            params |= {f"s{s}.kind": blocks[0][0], f"s{s}.activation": first.activation}
            if _stride(downsamplings, len(spec.stages) - s + 1) is None:
                params[f"s{s}.stride"] = first.stride
            downsamplings += first.stride == 2
            stages.append(_parse_rows(blocks, channels, style, first.stride, deep))
            channels = stages[-1][-1][0].out
        bases = iter(_bases([stem.out_channels] + [row.out for rows in stages for row, _ in rows], width))
        params["stem.out_channels"] = next(bases)
        for s, rows in enumerate(stages, 1):
            params[f"s{s}.rows"] = len(rows)
            for r, (row, count) in enumerate(rows, 1):
                params |= _row_params(f"s{s}.b{r}", row, count, next(bases), deep)
        return params | _head_params(spec, width)


def _bases(widths: list[int], width: float) -> list[int]:
    """Base widths of the stem and of every row: each maps to its width under the multiplier and lies in
    the range its predecessor allows. Several bases can round to one width, so search depth-first."""
    dead: set[tuple[int, int]] = set()

    def search(i: int, low: int, high: int) -> list[int] | None:
        if i == len(widths):
            return []
        for base in range(low, high + 1, 8):
            if scale_channels(base, width) != widths[i] or (i, base) in dead:
                continue
            rest = search(i + 1, *_width_range(base)[:2])
            if rest is not None:
                return [base] + rest
            dead.add((i, base))
        return None

    found = search(0, STEM[0], STEM[1])
    if found is None:
        raise Unreachable(widths)
    return found


def _copies(block: Block) -> list[Any]:
    """The argument objects of each block of a spec row."""
    return [block.args] + [stride_one(block.args)] * (block.repeats - 1)


def _se_rule(spec: NetSpec) -> str:
    """"input" if every SE width is a quarter of its block input (EfficientNet), else "expanded"."""
    channels = spec.stem[0].args.out_channels
    for stage in spec.stages:
        for block in stage.blocks:
            a = block.args
            if block.cell == "mbconv" and a.se_channels and a.se_channels != max(1, channels // 4):
                return "expanded"
            channels = a.out_channels
    return "input"


def _candidates(cell: str, a: Any, in_channels: int) -> list[Row]:
    """Every row choice that could make block `a` on `in_channels` inputs (the grid ratio is not unique)."""
    if cell == "dsconv":
        return [Row(cell, a.out_channels, a.kernel_size, a.activation)]
    ratios = sorted((r for r in RATIOS if make_divisible(in_channels * r) == a.mid_channels),
                    key=lambda r: abs(in_channels * r - a.mid_channels))  # the exact ratio first
    if cell == "ant":
        return [Row(cell, a.out_channels, a.kernel_size, a.activation, r, attention=t)
                for r in ratios for t in ATTENTION_RATIOS if max(1, a.mid_channels // t) == a.attention_channels]
    return [Row(cell, a.out_channels, a.kernel_size, a.activation, r, se=a.se_channels > 0) for r in ratios]


def _parse_rows(blocks: list[tuple[str, Any]], channels: int, style: Style, stride: int,
                deep: float) -> list[tuple[Row, int]]:
    """Split a stage's blocks into rows: a first block, then its copies. Of the row choices that make the
    first block, take the one whose copies run longest, and cut the run into counts the depth reaches."""
    rows: list[tuple[Row, int]] = []
    i = 0
    while i < len(blocks):
        best, run = None, 0
        for row in _candidates(*blocks[i], channels):
            if _block(row, style, channels, stride if not rows else 1) != blocks[i]:
                continue
            copy, count = _block(row, style, row.out, 1), 1
            while i + count < len(blocks) and blocks[i + count] == copy:
                count += 1
            if count > run:
                best, run = row, count
        if best is None:
            raise Unreachable(blocks[i])
        rows += [(best, size) for size in _chunks(run, deep)]
        channels, i = best.out, i + run
    return rows


def _chunks(length: int, deep: float) -> list[int]:
    """The fewest row lengths (largest first) that the depth multiplier reaches and that sum to `length`."""
    sizes = {depth(n, deep) for n in range(1, MAX_REPEATS + 1)}
    best: dict[int, list[int]] = {0: []}
    for total in range(1, length + 1):
        options = [best[total - size] + [size] for size in sizes if total - size in best]
        if options:
            best[total] = min(options, key=len)
    if length not in best:
        raise Unreachable(length)
    return sorted(best[length], reverse=True)


def _row_params(label: str, row: Row, count: int, base: int, deep: float) -> Params:
    params: Params = {f"{label}.out_channels": base, f"{label}.kernel_size": row.kernel,
                      f"{label}.repeats": base_depth(count, deep, 1, MAX_REPEATS)}
    if row.kind != "dsconv":
        params[f"{label}.expand_ratio"] = row.ratio
    if row.kind == "mbconv":
        params[f"{label}.se"] = row.se
    if row.kind == "ant":
        params[f"{label}.attention_ratio"] = row.attention
    return params


def _head_params(spec: NetSpec, width: float) -> Params:
    *conv, classifier = spec.head
    c = classifier.args
    params: Params = {"head.conv": bool(conv), "head.hidden": len(c.hidden), "head.hidden_activation": c.activation,
                      "head.dropout": c.dropout}
    if conv:
        params |= {"head.out_channels": base_width(conv[0].args.out_channels, width, *HEAD),
                   "head.activation": conv[0].args.activation}
    if c.hidden:
        params["head.hidden_width"] = c.hidden[0]
    return params


SPACE = MobileSpace()
