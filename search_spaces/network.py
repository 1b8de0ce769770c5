"""From a NetSpec to a PyTorch module (`build`), by the same walk over the blocks as the cost walk.

Module layout: children `stem`, `s1`..`sN` (blocks `b1`..), then `head` or `neck`. The cost walk itself
(`count`, `walk`, `rows_cost`, `stage_shapes`) lives in `search_spaces.counting`.
"""
from __future__ import annotations

from collections import OrderedDict
from typing import Iterator

from torch import Tensor, nn

from search_spaces import cells
from search_spaces.cost import Shape
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
    """A built NetSpec: stem, stages s1..sN, then a head (logits) or a neck (a list of feature maps)."""

    def __init__(self, stem: nn.Module, stages: list[nn.Module], head: nn.Module | None, neck: nn.Module | None):
        super().__init__()
        self.stem = stem
        self.num_stages = len(stages)
        for s, stage in enumerate(stages, 1):
            self.add_module(f"s{s}", stage)
        self.head = head
        self.neck = neck

    def forward(self, x: Tensor) -> Tensor | list[Tensor]:
        x = self.stem(x)
        features = []
        for s in range(1, self.num_stages + 1):
            x = getattr(self, f"s{s}")(x)
            features.append(x)
        if self.neck is not None:
            return self.neck(features)
        return self.head(x)


def _sequence(rows: tuple[Block, ...], shape: Shape) -> tuple[nn.Sequential, Shape]:
    """Modules b1.. of a row sequence and the shape they output (the same walk as `count`)."""
    modules: OrderedDict[str, nn.Module] = OrderedDict()
    for block in rows:
        cell = cells.get(block.cell)
        for args in _expand(block):
            modules[f"b{len(modules) + 1}"] = cell.build(args, shape.c)
            shape = cell.cost(args, shape)[1]
    return nn.Sequential(modules), shape


def build(spec: NetSpec, init: bool = True) -> Network:
    """The PyTorch module of a spec, initialised as torchvision initialises its CNNs (`init=False`: left as
    PyTorch's layers made it, for weights about to be loaded)."""
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
    if init:
        init_weights(net)
    apply_settings(net, spec)
    return net


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
    """Kaiming-normal convs, unit BN, small-normal linears (torchvision's ResNet/MobileNet scheme)."""
    for m in module.modules():
        if isinstance(m, nn.Conv2d):
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
