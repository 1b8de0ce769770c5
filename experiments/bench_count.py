"""Analytic counting against building the module and running FlopCounterMode.

Claim: `walk(spec)`, the pure cost walk behind `count()`, takes at most 0.2 ms (median) for ResNet-50 and
is at least 500x faster than `build(spec)` + one FlopCounterMode forward pass, with identical numbers.
(`count(spec)` itself is a lookup: a NetSpec keeps the result of the walk that validated it.)
Hardware: whatever runs it (recorded in the output); torch on the CPU, one thread.
Run: python experiments/bench_count.py   (about a minute)
"""
from __future__ import annotations

import platform
import statistics
import time

import torch
from torch.utils.flop_counter import FlopCounterMode

from search_spaces import backbones
from search_spaces.counting import count, walk
from search_spaces.network import build

SETTINGS = {"repeats_walk": 2000, "repeats_build": 5, "threads": 1, "batch": 1}


def median_seconds(fn, repeats: int) -> float:
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def torch_count(spec) -> tuple[int, int]:
    model = build(spec).eval()
    x = torch.zeros(SETTINGS["batch"], spec.in_channels, spec.resolution, spec.resolution)
    with FlopCounterMode(display=False) as counter, torch.no_grad():
        model(x)
    return counter.get_total_flops() // 2, sum(p.numel() for p in model.parameters())


def main() -> None:
    torch.set_num_threads(SETTINGS["threads"])
    print(f"# bench_count: {platform.processor() or platform.machine()}, python {platform.python_version()}, "
          f"torch {torch.__version__}, settings {SETTINGS}")
    print("| network | walk() median | count() median | build + FlopCounterMode median | speed-up | identical |")
    print("|---|---|---|---|---|---|")
    for name in ("resnet50", "mobilenet_v2"):
        spec = backbones.get(name)
        walked = median_seconds(lambda: walk(spec), SETTINGS["repeats_walk"])
        looked_up = median_seconds(lambda: count(spec), SETTINGS["repeats_walk"])
        built = median_seconds(lambda: torch_count(spec), SETTINGS["repeats_build"])
        cost = walk(spec)
        same = torch_count(spec) == (cost.macs, cost.params)
        print(f"| {name} | {walked * 1e3:.3f} ms | {looked_up * 1e6:.2f} us | {built * 1e3:.0f} ms | "
              f"{built / walked:,.0f}x | {same} |")


if __name__ == "__main__":
    main()
