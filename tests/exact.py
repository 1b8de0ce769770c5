"""The exactness oracle: build on the meta device, let PyTorch count, compare with our analytic count.

`FlopCounterMode` counts 2 FLOPs per multiply-add, so `2 * macs` must equal its total; parameters must
equal `sum(numel)`; the output shape must equal the shape our cost walk predicts. Meta tensors carry
shapes only, so even a 600px EfficientNet-B7 costs no memory and no arithmetic.
"""
from __future__ import annotations

from typing import Any

import torch
from torch.utils.flop_counter import FlopCounterMode

from search_spaces import cells
from search_spaces.cost import Shape
from search_spaces.counting import count
from search_spaces.network import build
from search_spaces.spec import NetSpec

BATCH = 2  # not 1, so that a cost that forgets the batch or mixes it in is caught


def torch_count(module: torch.nn.Module, *inputs: Any) -> tuple[int, int, Any]:
    """(FLOPs as FlopCounterMode counts them, parameter count, output) of one eval forward pass."""
    module.eval()
    with FlopCounterMode(display=False) as counter, torch.no_grad():
        out = module(*inputs)
    return counter.get_total_flops(), sum(p.numel() for p in module.parameters()), out


def assert_exact_cell(name: str, args: Any, shape: Shape | list[Shape], num_classes: int = 10) -> None:
    """One cell: analytic macs, params and output shape equal PyTorch's on the built module."""
    cell = cells.get(name)
    with torch.device("meta"):
        if cell.role == "neck":
            cost, out = cell.cost(args, shape)
            module = cell.build(args, [s.c for s in shape])
            inputs = ([torch.empty(BATCH, s.c, s.h, s.w) for s in shape],)
        else:
            extra = (num_classes,) if cell.role == "head" else ()
            cost, out = cell.cost(args, shape, *extra)
            module = cell.build(args, shape.c, *extra)
            inputs = (torch.empty(BATCH, shape.c, shape.h, shape.w),)
        flops, params, y = torch_count(module, *inputs)
    assert flops == 2 * BATCH * cost.macs, f"{name} {args}: torch {flops} != 2*{BATCH}*{cost.macs}"
    assert params == cost.params, f"{name} {args}: torch params {params} != {cost.params}"
    if cell.role == "neck":
        assert [tuple(t.shape) for t in y] == [(BATCH, s.c, s.h, s.w) for s in out]
    elif cell.role == "head":
        assert tuple(y.shape) == (BATCH, num_classes)
    else:
        assert tuple(y.shape) == (BATCH, out.c, out.h, out.w), f"{name} {args}: {tuple(y.shape)} != {out}"


def assert_exact_network(spec: NetSpec) -> tuple[int, int]:
    """A whole network: `2 * count.macs` and `count.params` equal PyTorch's; returns (macs, params)."""
    cost = count(spec)
    with torch.device("meta"):
        module = build(spec)
        flops, params, _ = torch_count(module, torch.empty(BATCH, spec.in_channels, spec.resolution, spec.resolution))
    assert flops == 2 * BATCH * cost.macs, f"torch {flops} != 2*{BATCH}*{cost.macs}"
    assert params == cost.params, f"torch params {params} != {cost.params}"
    return cost.macs, cost.params
