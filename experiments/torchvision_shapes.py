"""Every backbone that torchvision defines, tensor by tensor against torchvision's own module.

Claim (issue "Named backbones"): where torchvision defines the network, ours has the same parameter count,
the same parameter tensor shapes and the same multiply-adds. The tests compare counts against figures typed
from torchvision; this script compares the modules themselves. torchvision is not a dependency of the
project (its registry builds do not import beside the CPU torch here), so this runs in a separate venv:

    python3 -m venv /work/tvvenv && /work/tvvenv/bin/pip install torch==2.14.1 torchvision==0.29.1 networkx
    /work/tvvenv/bin/pip install --no-deps -e .
    /work/tvvenv/bin/python experiments/torchvision_shapes.py

Shapes are compared as multisets (sorted lists), since module names and registration order differ.
Both networks are built on the meta device and counted with FlopCounterMode on one image.
"""
from __future__ import annotations

import sys
from collections import Counter

import torch
import torchvision
from torch.utils.flop_counter import FlopCounterMode

from search_spaces import backbones
from search_spaces.counting import count
from search_spaces.network import build

# our name -> (torchvision builder, keyword arguments making the network our backbone reproduces)
TORCHVISION = {
    "alexnet": ("alexnet", {}), "vgg16": ("vgg16", {}), "vgg16_bn": ("vgg16_bn", {}),
    "squeezenet1_0": ("squeezenet1_0", {}), "squeezenet1_1": ("squeezenet1_1", {}),
    "googlenet": ("googlenet", {"aux_logits": False, "init_weights": False}),
    "inception_v3": ("inception_v3", {"aux_logits": False, "init_weights": False}),
    "resnet18": ("resnet18", {}), "resnet34": ("resnet34", {}), "resnet50": ("resnet50", {}),
    "resnet101": ("resnet101", {}), "resnet152": ("resnet152", {}), "resnext50_32x4d": ("resnext50_32x4d", {}),
    "densenet121": ("densenet121", {}), "densenet169": ("densenet169", {}), "densenet201": ("densenet201", {}),
    "mobilenet_v2": ("mobilenet_v2", {}), "mobilenet_v3_large": ("mobilenet_v3_large", {}),
    "mobilenet_v3_small": ("mobilenet_v3_small", {}),
    "shufflenet_v2_x0_5": ("shufflenet_v2_x0_5", {}), "shufflenet_v2_x1_0": ("shufflenet_v2_x1_0", {}),
    "shufflenet_v2_x1_5": ("shufflenet_v2_x1_5", {}), "shufflenet_v2_x2_0": ("shufflenet_v2_x2_0", {}),
    **{f"efficientnet_b{i}": (f"efficientnet_b{i}", {}) for i in range(8)},
}


def measure(model: torch.nn.Module, resolution: int) -> tuple[list[tuple[int, ...]], int, int]:
    """(sorted parameter shapes, parameter count, multiply-adds) of a meta-device model."""
    model.eval()
    with FlopCounterMode(display=False) as counter, torch.no_grad():
        model(torch.empty(1, 3, resolution, resolution, device="meta"))
    shapes = sorted(tuple(p.shape) for p in model.parameters())
    return shapes, sum(p.numel() for p in model.parameters()), counter.get_total_flops() // 2


def main() -> int:
    print(f"# torchvision {torchvision.__version__}, torch {torch.__version__}, python {sys.version.split()[0]}")
    print("| backbone | res | params (ours = tv) | multiply-adds (ours = tv) | tensor shapes | first difference |")
    print("|---|---|---|---|---|---|")
    failures = 0
    for name, (builder, kwargs) in TORCHVISION.items():
        spec = backbones.get(name)
        with torch.device("meta"):
            ours = measure(build(spec), spec.resolution)
            theirs = measure(getattr(torchvision.models, builder)(weights=None, **kwargs), spec.resolution)
        same = ours == theirs
        diff = "" if ours[0] == theirs[0] else str(sorted((Counter(ours[0]) - Counter(theirs[0])).elements())[:2]
                                                   ) + " vs " + str(sorted((Counter(theirs[0]) - Counter(ours[0])).elements())[:2])
        failures += not same
        print(f"| {name} | {spec.resolution} | {ours[1]:,} {'=' if ours[1] == theirs[1] else '!='} {theirs[1]:,} | "
              f"{ours[2]:,} {'=' if ours[2] == theirs[2] else '!='} {theirs[2]:,} | "
              f"{'same' if ours[0] == theirs[0] else 'DIFFER'} ({len(ours[0])} tensors) | {diff} |")
        assert count(spec).macs == ours[2]
    print(f"\n{len(TORCHVISION) - failures} of {len(TORCHVISION)} identical in parameter count, every tensor shape "
          f"and multiply-adds.")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
