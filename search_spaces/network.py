"""From a NetSpec to a PyTorch module (`build`), by the same walk over the blocks as the cost walk.

Module layout: children `stem`, `s1`..`sN` (blocks `b1`..), then `head` or `neck`, and `aux` (a list of
the auxiliary heads) only when built with `aux=True`. The cost walk itself (`count`, `walk`, `rows_cost`,
`stage_shapes`) lives in `search_spaces.counting`.
"""
from __future__ import annotations

from collections import OrderedDict
from typing import Iterator

from torch import Tensor, nn

from search_spaces import cells
from search_spaces.cost import Shape
from search_spaces.counting import aux_head_cost, block_shape
from search_spaces.errors import SpecError
from search_spaces.spec import Block, NetSpec


def _expand(block: Block) -> Iterator[object]:
    """The argument objects of each copy of a row."""
    yield block.args
    if block.repeats > 1:
        tail = cells.get(block.cell).repeat(block.args)
        for _ in range(block.repeats - 1):
            yield tail


class Network(nn.Module):
    """A built NetSpec: stem, stages s1..sN, then a head (logits) or a neck (a list of feature maps).

    Built with auxiliary heads, it returns (logits, [the logits of each auxiliary head, in the spec's order])
    in training mode, and the logits alone in eval mode, as torchvision's GoogLeNet does."""

    aux_weights: tuple[float, ...] = ()  # the loss weight of each auxiliary head (none unless built with them)

    def __init__(self, stem: nn.Module, stages: list[nn.Module], head: nn.Module | None, neck: nn.Module | None):
        super().__init__()
        self.stem = stem
        self.num_stages = len(stages)
        for s, stage in enumerate(stages, 1):
            self.add_module(f"s{s}", stage)
        self.head = head
        self.neck = neck
        self.aux: nn.ModuleList | None = None
        self._taps: dict[int, dict[int, list[int]]] = {}  # stage -> block -> auxiliary heads after it

    def attach_aux(self, heads: list[tuple[int, int, nn.Module]], weights: tuple[float, ...]) -> None:
        """Add auxiliary heads, each (stage, block, module), run after that block in training mode."""
        self.aux = nn.ModuleList(module for _, _, module in heads)
        self.aux_weights = weights
        for i, (stage, block, _) in enumerate(heads):
            self._taps.setdefault(stage, {}).setdefault(block, []).append(i)

    def forward(self, x: Tensor) -> Tensor | list[Tensor] | tuple[Tensor, list[Tensor]]:
        x = self.stem(x)
        features = []
        extra: list[Tensor] | None = [x] * len(self.aux) if self.aux is not None and self.training else None
        for s in range(1, self.num_stages + 1):
            stage = getattr(self, f"s{s}")
            x = self._tapped(stage, self._taps[s], x, extra) if extra and s in self._taps else stage(x)
            features.append(x)
        if self.neck is not None:
            return self.neck(features)
        return self.head(x) if extra is None else (self.head(x), extra)

    def _tapped(self, stage: nn.Module, taps: dict[int, list[int]], x: Tensor, extra: list[Tensor]) -> Tensor:
        """A stage block by block, running the auxiliary heads after the blocks they attach to."""
        assert self.aux is not None
        for i, block in enumerate(stage, 1):
            x = block(x)
            for k in taps.get(i, ()):
                extra[k] = self.aux[k](x)
        return x


def _sequence(rows: tuple[Block, ...], shape: Shape) -> tuple[nn.Sequential, Shape]:
    """Modules b1.. of a row sequence and the shape they output (the same walk as `count`)."""
    modules: OrderedDict[str, nn.Module] = OrderedDict()
    for block in rows:
        cell = cells.get(block.cell)
        for args in _expand(block):
            modules[f"b{len(modules) + 1}"] = cell.build(args, shape.c)
            shape = cell.cost(args, shape)[1]
    return nn.Sequential(modules), shape


def build(spec: NetSpec, aux: bool = False, init: bool = True) -> Network:
    """The PyTorch module of a spec, initialised as torchvision initialises its CNNs (`init=False`: left as
    PyTorch's layers made it, for weights about to be loaded); with `aux`, also its auxiliary heads (training
    only; SpecError when one does not fit the map it attaches to)."""
    stem, shape = _sequence(spec.stem, Shape(spec.in_channels, spec.resolution, spec.resolution))
    stages, widths = [], []
    for stage in spec.stages:
        module, shape = _sequence(stage.blocks, shape)
        stages.append(module)
        widths.append(shape.c)
    head = None
    if spec.head:
        modules: OrderedDict[str, nn.Module] = OrderedDict()
        for i, block in enumerate(spec.head, 1):
            cell = cells.get(block.cell)
            modules[f"b{i}"] = cell.build(block.args, shape.c, spec.num_classes)
            shape = cell.cost(block.args, shape, spec.num_classes)[1]
        head = nn.Sequential(modules)
    neck = None if spec.neck is None else cells.get(spec.neck.cell).build(spec.neck.args, widths)
    net = Network(stem, stages, head, neck)
    if aux and spec.aux:
        net.attach_aux([(h.stage, h.block, _aux_module(spec, i)) for i, h in enumerate(spec.aux, 1)],
                       tuple(h.weight for h in spec.aux))
    if init:
        init_weights(net)
    apply_settings(net, spec)
    return net


def _aux_module(spec: NetSpec, index: int) -> nn.Sequential:
    """Auxiliary head aux`index`: its body rows b1.., then its head row."""
    head = spec.aux[index - 1]
    aux_head_cost(spec, head, index)  # SpecError naming the head when it does not fit
    module, shape = _sequence(head.layers[:-1], block_shape(spec, head.stage, head.block))
    last = head.layers[-1]
    module.add_module(f"b{len(module) + 1}", cells.get(last.cell).build(last.args, shape.c, spec.num_classes))
    return module


def apply_settings(net: Network, spec: NetSpec) -> None:
    """The spec's BatchNorm eps and momentum on every BN layer, and its stochastic depth on every stage
    block with a residual branch (those with a `drop_path` attribute), by the spec's per-block rule."""
    for m in net.modules():
        if isinstance(m, nn.modules.batchnorm._BatchNorm):
            m.eps, m.momentum = spec.norm.eps, spec.norm.momentum
    if not spec.drop_path.rate:
        return
    blocks = [b for s in range(1, net.num_stages + 1) for b in getattr(net, f"s{s}").children()]
    residual = [(b, p) for b, p in zip(blocks, spec.drop_path.rates(len(blocks))) if hasattr(b, "drop_path")]
    if not residual:
        raise SpecError(f"drop_path {spec.drop_path.rate:g} needs a block with a residual branch "
                        "(mbconv, basic, bottleneck, res2net, ant); this network has none")
    for block, p in residual:
        block.drop_path = p


def init_weights(module: nn.Module) -> None:
    """Kaiming-normal convs, unit BN, small-normal linears (torchvision's ResNet/MobileNet scheme); a conv
    that is the classifier (SqueezeNet's head) small-normal as well, as torchvision's SqueezeNet has it."""
    for m in module.modules():
        if isinstance(m, nn.Conv2d) and getattr(m, "classifier", False):
            nn.init.normal_(m.weight, 0, 0.01)
            nn.init.zeros_(m.bias)
        elif isinstance(m, nn.Conv2d):
            nn.init.kaiming_normal_(m.weight, mode="fan_out", nonlinearity="relu")
            if m.bias is not None:
                nn.init.zeros_(m.bias)
        elif isinstance(m, (nn.BatchNorm2d, nn.GroupNorm)) and m.weight is not None:
            nn.init.ones_(m.weight)
            nn.init.zeros_(m.bias)
        elif isinstance(m, nn.Linear):
            nn.init.normal_(m.weight, 0, 0.01)
            if m.bias is not None:
                nn.init.zeros_(m.bias)


GATES = ("SqueezeExcite", "SpatialAttention", "GeneralizedAttention")  # rescale or add to a path, not a layer of it
NORMS = (nn.modules.batchnorm._BatchNorm, nn.GroupNorm, nn.LayerNorm)


def _path(module: nn.Module) -> Iterator[nn.Module]:
    """The weight layers (convs, linears) and norms of a network in registration order (the order of the
    forward pass within every cell), attention gates left out."""
    if type(module).__name__ in GATES:
        return
    if isinstance(module, (nn.Conv2d, nn.Linear) + NORMS):
        yield module
    for child in module.children():
        yield from _path(child)


def unnormed_run(module: nn.Module) -> int:
    """The longest run of weight layers with no norm between them: 1 or 2 in a network with a norm after
    every conv (the classifier, an SE-free head), the whole depth in a plain stack without norms."""
    run = longest = 0
    for m in _path(module):
        run = 0 if isinstance(m, NORMS) else run + 1
        longest = max(longest, run)
    return longest


def zero_init_last(module: nn.Module) -> int:
    """Start every residual block as its shortcut: each block with a `zero_init_last` method (basic,
    bottleneck and Res2Net blocks, MBConv and ANT blocks with an identity shortcut, ShuffleNet v1's stride-1
    unit, Inception-ResNet blocks) zeroes the last norm scale of its branch (its last conv where it has no
    norm). Returns the number of blocks that have the method."""
    blocks = [m for m in module.modules() if callable(getattr(m, "zero_init_last", None))]
    for m in blocks:
        m.zero_init_last()
    return len(blocks)
