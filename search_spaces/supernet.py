"""The supernet of an elastic space: one set of weights that runs every point of the space.

`Supernet(space)` is `build(space.largest())`, module for module (its state_dict has exactly the keys and
shapes of the largest network's), with a forward that runs any point: the first d blocks of each elastic
stage, the first C channels of every layer (expanded, SE and output widths), and the centre k x k of each
depthwise kernel, as Once-for-All and NNI's one-shot supernets slice them. Batch norms are sliced too: in
training they normalise with the batch's statistics and update the first C entries of the shared running
statistics, which is why a sub-network's statistics must be re-estimated before it is scored (see
`nas.training.oneshot.recalibrate_bn`).

`select(spec)` makes a point the active network; `extract(spec)` gives `build(spec)` (the plain module,
nothing elastic left) loaded with the weights that point inherits, so its outputs equal the supernet's in
that configuration and `count(spec)` is its exact cost. `sort_channels()` reorders every block's expanded
channels by importance (OFA's re-organisation), which leaves the largest network's function unchanged.
Specs may carry any input channels and class count: the supernet is made for a dataset's, and a point of
the space (RGB, 1000 classes) is read as the same network with the supernet's.
"""
from __future__ import annotations

import dataclasses
from typing import Any

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from search_spaces.cells.base import stride_one
from search_spaces.cells.mbconv import MBConvArgs
from search_spaces.errors import SpaceError
from search_spaces.network import build
from search_spaces.spaces.elastic import ElasticSpace
from search_spaces.spec import NetSpec

Config = tuple[tuple[MBConvArgs, ...], ...]  # the active blocks of each elastic stage


def _config(spec: NetSpec) -> Config:
    """The blocks of each elastic stage (s2..) of a point, rows expanded."""
    return tuple(tuple(a for b in stage.blocks for a in [b.args] + [stride_one(b.args)] * (b.repeats - 1))
                 for stage in spec.stages[1:])


def batch_norm(bn: nn.BatchNorm2d, x: Tensor) -> Tensor:
    """`bn` on the first x.shape[1] channels: its running statistics are updated in place in training."""
    c = x.shape[1]
    if c == bn.num_features:
        return bn(x)
    momentum = 0.0
    if bn.training and bn.track_running_stats:
        bn.num_batches_tracked.add_(1)
        momentum = bn.momentum if bn.momentum is not None else 1.0 / float(bn.num_batches_tracked)
    use_batch = bn.training or bn.running_mean is None
    stats = (None, None) if bn.running_mean is None else (bn.running_mean[:c], bn.running_var[:c])
    return F.batch_norm(x, *stats, bn.weight[:c], bn.bias[:c], use_batch, momentum, bn.eps)


def crop(weight: Tensor, kernel: int) -> Tensor:
    """The centre kernel x kernel of a conv weight (N, C, K, K)."""
    start = (weight.shape[-1] - kernel) // 2
    return weight[..., start:start + kernel, start:start + kernel] if start else weight


def conv_bn_act(layer: nn.Sequential, x: Tensor, out: int, kernel: int | None = None, stride: int | None = None,
                depthwise: bool = False) -> Tensor:
    """A `conv_bn_act` module (children conv, bn, act) on x with `out` output channels and the centre
    `kernel` of its kernel (the whole of it when None)."""
    conv: nn.Conv2d = layer.conv
    if depthwise:
        weight, groups = conv.weight[:out], out
    else:
        weight, groups = conv.weight[:out, :x.shape[1]], 1
    if kernel is not None:
        weight = crop(weight, kernel)
    k = weight.shape[-1]
    bias = None if conv.bias is None else conv.bias[:out]
    y = F.conv2d(x, weight, bias, stride or conv.stride, k // 2 if kernel is not None else conv.padding, 1, groups)
    if hasattr(layer, "bn"):
        y = batch_norm(layer.bn, y)
    return layer.act(y) if hasattr(layer, "act") else y


def squeeze_excite(se: nn.Module, x: Tensor, squeeze: int) -> Tensor:
    """A SqueezeExcite module on the first x.shape[1] channels with `squeeze` reduced channels."""
    c = x.shape[1]
    s = F.conv2d(se.pool(x), se.fc1.weight[:squeeze, :c], se.fc1.bias[:squeeze])
    s = F.conv2d(se.act(s), se.fc2.weight[:c, :squeeze], se.fc2.bias[:c])
    return x * se.gate(s)


def mbconv(block: nn.Module, a: MBConvArgs, x: Tensor) -> Tensor:
    """An MBConv module of the largest network run as the smaller block `a` (on x's channels)."""
    cin = x.shape[1]
    y = x if a.mid_channels == cin else conv_bn_act(block.expand, x, a.mid_channels)
    y = conv_bn_act(block.dw, y, a.mid_channels, a.kernel_size, a.stride, depthwise=True)
    if a.se_channels:
        y = squeeze_excite(block.se, y, a.se_channels)
    y = conv_bn_act(block.project, y, a.out_channels)
    return x + y if a.residual and a.stride == 1 and cin == a.out_channels else y


class Supernet(nn.Module):
    """Every point of an elastic space from the weights of its largest network."""

    def __init__(self, space: ElasticSpace, in_channels: int = 3, num_classes: int = 1000):
        super().__init__()
        if not isinstance(space, ElasticSpace):
            raise SpaceError(f"a supernet is made from an elastic space, not {type(space).__name__}")
        self.space = space
        self.largest = dataclasses.replace(space.largest(), in_channels=in_channels, num_classes=num_classes)
        net = build(self.largest)
        for name, child in net.named_children():
            self.add_module(name, child)
        self.stage_names = ["s1"] + space.stage_names()
        self.active: NetSpec = self.largest
        self._config: Config = _config(self.largest)

    @property
    def in_channels(self) -> int:
        return self.largest.in_channels

    @property
    def num_classes(self) -> int:
        return self.largest.num_classes

    def adapt(self, spec: NetSpec) -> NetSpec:
        """A point of the space as this supernet's network (its input channels and classes); SpaceError
        when it is not a point of the space."""
        if not isinstance(spec, NetSpec):
            raise SpaceError(f"a supernet runs NetSpecs, not {type(spec).__name__}")
        base = self.space.base
        if not self.space.contains(dataclasses.replace(spec, in_channels=base.in_channels,
                                                       num_classes=base.num_classes)):
            raise SpaceError(f"the network is not a point of space {self.space.name!r}, so this supernet cannot run it")
        return dataclasses.replace(spec, in_channels=self.in_channels, num_classes=self.num_classes)

    def select(self, spec: NetSpec, check: bool = True) -> NetSpec:
        """Make a point the active network of `forward`; returns it with the supernet's channels and
        classes. `check=False` skips the containment check, for points drawn from the space itself."""
        spec = self.adapt(spec) if check else dataclasses.replace(spec, in_channels=self.in_channels,
                                                                  num_classes=self.num_classes)
        self.active, self._config = spec, _config(spec)
        return spec

    def forward(self, x: Tensor) -> Tensor:
        x = self.s1(self.stem(x))
        for name, blocks in zip(self.stage_names[1:], self._config):
            stage = getattr(self, name)
            for j, args in enumerate(blocks):
                x = mbconv(stage[j], args, x)
        return self._head(x)

    def _head(self, x: Tensor) -> Tensor:
        first = self.head[0]
        if x.shape[1] == self.largest.stages[-1].blocks[-1].args.out_channels:
            return self.head(x)
        if hasattr(first, "conv"):  # conv_head on fewer inputs
            return self.head[1:](conv_bn_act(first, x, first.conv.out_channels))
        linear = next(m for m in first if isinstance(m, nn.Linear))  # a classifier on fewer inputs
        for name, m in first.named_children():
            x = F.linear(x, m.weight[:, :x.shape[1]], m.bias) if m is linear else m(x)
        return x

    def extract(self, spec: NetSpec) -> nn.Module:
        """`build(spec)` with the weights the point inherits from the supernet (copies, on its device)."""
        spec = self.adapt(spec)
        with torch.device("meta"):  # shapes only: every tensor is replaced by the inherited one
            module = build(spec, init=False)
        own = self.state_dict()
        # load_state_dict(assign=True) by hand: the same strictness (every key, every shape), a third of the time
        for prefix, m in module.named_modules():
            for table, wrap in ((m._parameters, nn.Parameter), (m._buffers, lambda t: t)):
                for name, meta in table.items():
                    if meta is not None:
                        table[name] = wrap(_slice(own[f"{prefix}.{name}" if prefix else name], meta.shape).clone())
        return module

    @torch.no_grad()
    def sort_channels(self, optimizer: torch.optim.Optimizer | None = None) -> None:
        """Reorder each elastic block's expanded channels (and its SE's squeeze channels) by importance,
        the L1 norm of the weights that read them (OFA's `re_organize_middle_weights`), so that the first
        C channels a smaller expansion keeps are the most important ones. The largest network computes the
        same function afterwards; an optimizer's per-parameter state (momentum) is reordered alike."""
        state = {} if optimizer is None else optimizer.state
        for name in self.stage_names[1:]:
            for block in getattr(self, name):
                _sort_block(block, state)


def _slice(source: Tensor, shape: torch.Size) -> Tensor:
    """The first entries of each dimension of `source` (the centre of a conv kernel's spatial ones)."""
    if source.shape == shape:
        return source
    if len(shape) != source.dim() or any(n > m for n, m in zip(shape, source.shape)):
        raise SpaceError(f"a {tuple(shape)} tensor cannot inherit from the supernet's {tuple(source.shape)}")
    if len(shape) == 4:
        source = crop(source, shape[-1])
    return source[tuple(slice(0, n) for n in shape)]


def _reorder(t: Tensor, order: Tensor, dim: int, state: Any) -> None:
    """Reorder `t` (and the tensors of its optimizer state of its shape) along `dim`, in place."""
    for u in [t] + [v for v in state.get(t, {}).values() if isinstance(v, Tensor) and v.shape == t.shape]:
        u.copy_(u.index_select(dim, order))


def _permute(layer: nn.Module, order: Tensor, dim: int, state: Any) -> None:
    """Reorder the channels of a conv (or a conv_bn_act's conv and BN) along `dim` of its weight."""
    conv = layer.conv if hasattr(layer, "conv") else layer
    _reorder(conv.weight, order, dim, state)
    if dim == 0:
        bn = getattr(layer, "bn", None)
        for t in (conv.bias,) + (() if bn is None else (bn.weight, bn.bias, bn.running_mean, bn.running_var)):
            if t is not None:
                _reorder(t, order, 0, state)


def _sort_block(block: nn.Module, state: Any) -> None:
    """Sort one MBConv's expanded channels by the L1 norm of the projection's weights on them."""
    if isinstance(block.expand, nn.Identity):
        return  # the expanded channels are the block's input: their order is the previous layer's
    order = block.project.conv.weight.abs().sum(dim=(0, 2, 3)).argsort(descending=True)
    se: Any = block.se
    if not isinstance(se, nn.Identity):
        squeeze = se.fc2.weight.abs().sum(dim=(0, 2, 3)).argsort(descending=True)
        _permute(se.fc1, squeeze, 0, state)
        _permute(se.fc2, squeeze, 1, state)
        _permute(se.fc1, order, 1, state)
        _permute(se.fc2, order, 0, state)
    _permute(block.expand, order, 0, state)
    _permute(block.dw, order, 0, state)
    _permute(block.project, order, 1, state)
