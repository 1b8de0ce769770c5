"""Every backbone with a torchvision or timm definition: the reference's weights in our module compute the
reference's function, and ours exported load back into the reference.

Claim (issue "Same function, not only the same shapes"): through `search_spaces.weights`, a reference state
dict loads into our module and both give the same outputs in eval mode; our weights exported under the
reference's names load into the reference (strict) and give the same outputs; BN eps/momentum and
EfficientNet's stochastic depth are the reference's. torchvision and timm are not dependencies of the
project, so this runs in a separate venv (torch 2.14.1 and torchvision 0.29.1 from this machine's disk):

    python3 -m venv /work/tvvenv && /work/tvvenv/bin/pip install torch==2.14.1 torchvision==0.29.1 networkx
    /work/tvvenv/bin/pip install timm && /work/tvvenv/bin/pip install --no-deps -e .
    /work/tvvenv/bin/python experiments/reference_weights.py

Reference weights are the reference's random init with every BN's affine parameters and running statistics
redrawn (running variances in [0.01, 0.1], small as trained ones are, so eps matters). One batch of two
images at the backbone's resolution, float64. "default BN" is our module with PyTorch's BN defaults (the
network before the settings existed) on the same weights: it shows what the settings change.
Also printed: the figures that tests/test_weights.py types (tensor count, SHA-256 of the reference's
"name shape" lines in its own order, first and last name).
"""
from __future__ import annotations

import dataclasses
import hashlib
import sys

import timm
import torch
import torchvision
from torchvision.models.detection.backbone_utils import resnet_fpn_backbone

from search_spaces import backbones
from search_spaces.network import build
from search_spaces.weights import REFERENCES, export, load

TIMM = {"inception_v4": "inception_v4", "inception_resnet_v2": "inception_resnet_v2", "seresnet50": "seresnet50",
        "legacy_seresnet50": "legacy_seresnet50", "res2net50_26w_4s": "res2net50_26w_4s",
        "res2net101_26w_4s": "res2net101_26w_4s", "regnetx_600mf": "regnetx_006", "regnety_600mf": "regnety_006",
        "mobilenet_v1": "mobilenetv1_100", "mnasnet_a1": "semnasnet_100"}


def reference_module(name: str, aux: bool = False) -> torch.nn.Module:
    """The reference's module (googlenet / inception_v3 with their aux heads when `aux`, as checkpoints are)."""
    if name in TIMM:
        return timm.create_model(TIMM[name], pretrained=False)
    if name == "fpn_resnet50":
        return resnet_fpn_backbone(backbone_name="resnet50", weights=None, norm_layer=torch.nn.BatchNorm2d,
                                   trainable_layers=5)
    kwargs = {"aux_logits": aux, "init_weights": True} if name in ("googlenet", "inception_v3") else {}
    return getattr(torchvision.models, name)(weights=None, **kwargs)


def redraw_bn(model: torch.nn.Module, generator: torch.Generator) -> None:
    """Trained-looking BN layers: affine weights near 1, biases and means near 0, small variances."""
    for m in model.modules():
        if isinstance(m, torch.nn.BatchNorm2d):
            c = m.num_features
            m.weight.data = 1 + 0.2 * torch.randn(c, generator=generator)
            m.bias.data = 0.1 * torch.randn(c, generator=generator)
            m.running_mean.data = 0.1 * torch.randn(c, generator=generator)
            m.running_var.data = 0.01 + 0.09 * torch.rand(c, generator=generator)


def outputs(model: torch.nn.Module, x: torch.Tensor) -> torch.Tensor:
    """Logits, or the FPN's maps concatenated (flattened), in eval mode."""
    with torch.no_grad():
        y = model.eval().double()(x)
    if isinstance(y, dict):
        y = list(y.values())
    return torch.cat([t.flatten() for t in y]) if isinstance(y, (list, tuple)) else y.flatten()


def rel(a: torch.Tensor, b: torch.Tensor) -> float:
    return ((a - b).abs().max() / b.abs().max()).item()


def key_figures(state: dict) -> tuple[int, str, str, str, str]:
    """(tensor count, SHA-256 of the "name shape" lines in the reference's order and sorted, first and
    last name)."""
    lines = [f"{k} {tuple(v.shape)}" for k, v in state.items()]
    sha = [hashlib.sha256("\n".join(ls).encode()).hexdigest()[:16] for ls in (lines, sorted(lines))]
    return len(state), sha[0], sha[1], next(iter(state)), list(state)[-1]


def drop_rates(name: str, theirs: torch.nn.Module, ours: torch.nn.Module) -> str:
    """torchvision's StochasticDepth probabilities against our blocks' drop_path, for EfficientNet."""
    if not name.startswith("efficientnet"):
        return ""
    tv = [m.p for m in theirs.modules() if type(m).__name__ == "StochasticDepth"]
    mine = [b.drop_path for s in range(1, ours.num_stages + 1) for b in getattr(ours, f"s{s}").children()]
    return f"{len(tv)} blocks, {'same' if tv == mine else 'DIFFER'} (last {tv[-1]:.4f})"


def compare(name: str) -> tuple[str, bool]:
    """One table row: load, forward, export, forward."""
    g = torch.Generator().manual_seed(0)
    theirs = reference_module(name, aux=True)
    redraw_bn(theirs, g)
    ours = load(name, theirs.state_dict())  # aux heads in the file are ignored, as a checkpoint's are
    res = backbones.get(name).resolution
    x = torch.randn(2, 3, res, res, generator=g, dtype=torch.float64)
    ref_out, our_out = outputs(theirs, x), outputs(ours, x)
    plain = build(dataclasses.replace(backbones.get(name), norm=type(backbones.get(name).norm)()))
    plain.load_state_dict(ours.state_dict())
    default_bn = rel(outputs(plain, x), ref_out)
    back = reference_module(name)  # reverse: our (random) weights exported into a fresh reference
    mine = build(backbones.get(name))
    back.load_state_dict(export(name, mine), strict=True)
    reverse = rel(outputs(back, x), outputs(mine, x))
    bn = {(m.eps, m.momentum) for m in theirs.modules() if isinstance(m, torch.nn.BatchNorm2d)}
    ours_bn = {(m.eps, m.momentum) for m in ours.modules() if isinstance(m, torch.nn.BatchNorm2d)}
    count, ordered, unordered, first, last = key_figures(back.state_dict())  # the reference as our spec has it
    forward = rel(our_out, ref_out)
    ok = forward < 1e-9 and reverse < 1e-9 and bn == ours_bn and len(export(name, ours)) == count
    row = (f"| {name} | {REFERENCES[name].source} | {forward:.1e} | {reverse:.1e} | {default_bn:.1e} | "
           f"{sorted(bn)} {'=' if bn == ours_bn else '!='} ours | {drop_rates(name, theirs, ours)} | "
           f"{count} | `{ordered}` `{unordered}` | `{first}` .. `{last}` |")
    return row, ok


def main() -> int:
    torch.set_num_threads(2)
    print(f"# torchvision {torchvision.__version__}, timm {timm.__version__}, torch {torch.__version__}, "
          f"python {sys.version.split()[0]}")
    print("| backbone | reference | ours vs reference (max rel.) | exported into reference vs ours | "
          "ours with default BN vs reference | BN (eps, momentum) | stochastic depth | tensors | "
          "key SHA-256 (in order, sorted) | "
          "first .. last key |")
    print("|---|---|---|---|---|---|---|---|---|---|")
    failures, names = 0, sys.argv[1:] or list(REFERENCES)
    for name in names:
        row, ok = compare(name)
        failures += not ok
        print(row, flush=True)
    print(f"\n{len(names) - failures} of {len(names)}: same function both ways (max relative difference "
          "< 1e-9 in float64), same BN settings, same tensor count.")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
