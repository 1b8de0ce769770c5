"""Reference weights: torchvision and timm state dicts in and out of our modules, by an explicit mapping.

`mapping(name)` pairs every entry of our state dict with the reference's name for it (`tv_names`,
`timm_names`: the reference's module names written out per family) and checks on a meta-device build that
both sides list the same number of modules. `load(name, state)` checks a reference state dict against it
(every expected tensor present with our shape, nothing else) and returns our module with those weights;
`export(name, net)` writes our weights under the reference's names. torchvision and timm are never imported.
"""
from __future__ import annotations

import functools
from collections import OrderedDict
from dataclasses import dataclass
from typing import Mapping

import torch
from torch import Tensor

from search_spaces import backbones
from search_spaces.errors import NasError
from search_spaces.network import Network, build
from search_spaces.weights import timm_names, tv_names
from search_spaces.weights.blocks import Names, block_infos, leaves


class WeightsError(NasError):
    """A checkpoint is unreadable, not a state dict, or not one of the named backbone's reference."""


@dataclass(frozen=True)
class Reference:
    """Where a backbone's weights come from: the definition (its builder), its leaf names, the prefixes of
    checkpoint tensors that belong to parts our spec leaves out (auxiliary classifiers, a detector's heads),
    and the key prefixes a checkpoint may add (DataParallel's `module.`, a detector's `backbone.`)."""

    source: str
    names: Names
    ignore: tuple[str, ...] = ()
    strip: tuple[str, ...] = ("module.",)


def _tv(builder: str, names: Names, ignore: tuple[str, ...] = ()) -> Reference:
    return Reference(f"torchvision {builder}", names, ignore)


def _timm(model: str, names: Names) -> Reference:
    return Reference(f"timm {model}", names)


REFERENCES: Mapping[str, Reference] = {
    "alexnet": _tv("alexnet", tv_names.alexnet), "vgg16": _tv("vgg16", tv_names.vgg),
    "vgg16_bn": _tv("vgg16_bn", tv_names.vgg), "squeezenet1_0": _tv("squeezenet1_0", tv_names.squeezenet),
    "squeezenet1_1": _tv("squeezenet1_1", tv_names.squeezenet),
    "googlenet": _tv("googlenet", tv_names.googlenet, ("aux1.", "aux2.")),
    "inception_v3": _tv("inception_v3", tv_names.inception_v3, ("AuxLogits.",)),
    **{n: _tv(n, tv_names.resnet) for n in ("resnet18", "resnet34", "resnet50", "resnet101", "resnet152",
                                            "resnext50_32x4d")},
    "fpn_resnet50": Reference("torchvision resnet_fpn_backbone('resnet50')", tv_names.fpn_resnet50,
                              ("rpn.", "roi_heads."), ("module.", "backbone.")),  # or fasterrcnn_resnet50_fpn's
    **{n: _tv(n, tv_names.densenet) for n in ("densenet121", "densenet169", "densenet201")},
    "mobilenet_v2": _tv("mobilenet_v2", tv_names.mobilenet_v2),
    "mobilenet_v3_large": _tv("mobilenet_v3_large", tv_names.mobilenet_v3),
    "mobilenet_v3_small": _tv("mobilenet_v3_small", tv_names.mobilenet_v3),
    **{f"shufflenet_v2_{s}": _tv(f"shufflenet_v2_{s}", tv_names.shufflenet_v2)
       for s in ("x0_5", "x1_0", "x1_5", "x2_0")},
    **{f"efficientnet_b{i}": _tv(f"efficientnet_b{i}", tv_names.efficientnet) for i in range(8)},
    "inception_v4": _timm("inception_v4", timm_names.inception_v4),
    "inception_resnet_v2": _timm("inception_resnet_v2", timm_names.inception_resnet_v2),
    "seresnet50": _timm("seresnet50", timm_names.seresnet),
    "legacy_seresnet50": _timm("legacy_seresnet50", timm_names.legacy_seresnet),
    "res2net50_26w_4s": _timm("res2net50_26w_4s", timm_names.res2net),
    "res2net101_26w_4s": _timm("res2net101_26w_4s", timm_names.res2net),
    "regnetx_600mf": _timm("regnetx_006", timm_names.regnet), "regnety_600mf": _timm("regnety_006", timm_names.regnet),
    "mobilenet_v1": _timm("mobilenetv1_100", timm_names.efficientnet_family),
    "mnasnet_a1": _timm("semnasnet_100", timm_names.efficientnet_family),
}


def reference(name: str) -> Reference:
    """The reference whose weights a backbone takes, or a WeightsError naming those that have one."""
    backbones.row(name)  # an unknown name: the SpecError listing the backbones
    if name not in REFERENCES:
        raise WeightsError(f"{name} has no torchvision or timm definition to take weights from; "
                           f"these do: {', '.join(REFERENCES)}")
    return REFERENCES[name]


@functools.cache
def _meta(name: str) -> Network:
    """The backbone built on the meta device: its module tree and tensor shapes, no memory."""
    with torch.device("meta"):
        return build(backbones.get(name))


def shapes(name: str) -> dict[str, tuple[int, ...]]:
    """Our state-dict keys of a backbone and their shapes."""
    return {k: tuple(v.shape) for k, v in _meta(name).state_dict().items()}


@functools.cache
def mapping(name: str) -> tuple[tuple[str, str], ...]:
    """(our state-dict key, the reference's key) for every tensor of the backbone, in our order."""
    spec, net = backbones.get(name), _meta(name)
    infos = block_infos(spec, net)
    theirs = reference(name).names(infos)
    ours = [f"{info.path}.{leaf}" if leaf else info.path for info in infos for leaf in info.leaves]
    if len(ours) != len(theirs) or len(ours) != len(leaves(net)):
        raise RuntimeError(f"{name}: the weight mapping names {len(theirs)} modules, ours has {len(ours)}")
    modules = dict(net.named_modules())
    pairs = []
    for mine, other in zip(ours, theirs):
        for key in modules[mine].state_dict():
            pairs.append((f"{mine}.{key}", f"{other}.{key}"))
    if [k for k, _ in pairs] != list(net.state_dict()):
        raise RuntimeError(f"{name}: the weight mapping does not follow our state dict order")
    return tuple(pairs)


def _shape(shape: tuple[int, ...] | torch.Size) -> str:
    return "(" + ", ".join(map(str, shape)) + ")"


def _strip(key: str, prefixes: tuple[str, ...]) -> str:
    for prefix in prefixes:
        key = key.removeprefix(prefix)
    return key


def _renamed(name: str, state: Mapping[str, Tensor]) -> OrderedDict[str, Tensor]:
    """Our state dict from a reference one: names mapped, shapes and the key set checked, one-line errors
    naming the first tensor that does not fit (a missing num_batches_tracked, absent from old files, is 0)."""
    ref, expected = reference(name), shapes(name)
    state = {_strip(k, ref.strip): v for k, v in state.items()}
    out: OrderedDict[str, Tensor] = OrderedDict()
    for mine, theirs in mapping(name):
        tensor = state.get(theirs)
        if tensor is None and theirs.endswith("num_batches_tracked"):
            tensor = torch.zeros((), dtype=torch.long)
        if not isinstance(tensor, Tensor):
            raise WeightsError(f"not a {ref.source} state dict: no tensor {theirs!r} (of {len(state)} in the file)")
        if tuple(tensor.shape) != expected[mine]:
            raise WeightsError(f"not a {ref.source} state dict: {theirs!r} has shape {_shape(tensor.shape)}, "
                               f"{name} needs {_shape(expected[mine])}")
        out[mine] = tensor
    known = {theirs for _, theirs in mapping(name)}
    extra = [k for k in state if k not in known and not k.startswith(ref.ignore)]
    if extra:
        raise WeightsError(f"not a {ref.source} state dict: it has {len(extra)} tensor(s) {name} does not, "
                           f"first {extra[0]!r}")
    return out


def load(name: str, state: Mapping[str, Tensor]) -> Network:
    """Our module of backbone `name` holding the weights of a reference state dict (torchvision or timm
    names, see `REFERENCES`); WeightsError if the state dict is for another network."""
    renamed = _renamed(name, state)
    net = build(backbones.get(name))
    net.load_state_dict(renamed)
    return net


def export(name: str, weights: torch.nn.Module | Mapping[str, Tensor]) -> OrderedDict[str, Tensor]:
    """Our module's weights (or its state dict) under the reference's names: a state dict the reference's
    module loads. WeightsError naming the first tensor that is not our backbone's."""
    state = weights.state_dict() if isinstance(weights, torch.nn.Module) else weights
    expected = shapes(name)
    for key, tensor in state.items():
        if key not in expected or not isinstance(tensor, Tensor) or tuple(tensor.shape) != expected[key]:
            found = "no such tensor" if key not in expected else f"needs {_shape(expected[key])}"
            raise WeightsError(f"not the weights of our {name}: {key!r} ({found})")
    out: OrderedDict[str, Tensor] = OrderedDict()
    for mine, theirs in mapping(name):
        if mine not in state:
            raise WeightsError(f"not the weights of our {name}: no tensor {mine!r}")
        out[theirs] = state[mine]
    return out
