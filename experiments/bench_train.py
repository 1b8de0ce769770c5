"""Trainer overhead: images per second of `nas.training.train.fit` against a minimal hand-written PyTorch loop.

Claim: our proxy trainer (schedule set per step, decay groups, label smoothing, loss checks, accuracy
counters) trains the same module at >= 0.95x the speed of the plainest loop that does the same work:
the same model from the same initialisation, the same in-memory uint8 batches normalised per batch, the
same batch size and precision (`nas.training.device.autocast`; channels_last on CUDA), SGD with
Nesterov momentum. Augmentation is off for the comparison (the minimal loop has none); a third row shows
our trainer with crop augmentation on, for its cost.

Method: a warm-up epoch of each, then `repeats` rounds alternating ours and minimal (so both see the
same machine load), one epoch each; images per second over the training steps only. The ratio is the
median over rounds of ours / minimal within a round (paired, so load that changes between rounds cancels).
Run: .venv/bin/python experiments/bench_train.py  (writes experiments/bench_train.md)
"""
from __future__ import annotations

import argparse
import dataclasses
import os
import platform
import statistics
import sys
import time
from pathlib import Path

import torch
from torch import nn

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from nas.specs import load_spec  # noqa: E402
from nas.training.data import Data, DataSource, load, normalize  # noqa: E402
from nas.training.device import autocast  # noqa: E402
from nas.training.evaluate import adapt  # noqa: E402
from nas.training.train import (  # noqa: E402
    TrainConfig,  # noqa: E402
    fit,
    resolve_device,
)
from search_spaces.network import build  # noqa: E402

HERE = Path(__file__).resolve().parent
SETUP = {
    "spec": str(HERE.parent / "examples" / "tiny_cnn.json"),  # conv stem + 2 stages of 3x3 convs, 32x downsample
    "data": DataSource("synthetic", resolution=32, channels=3, num_classes=10, size=2048),  # images in memory
    "batch_size": 64,  # images per step
    "lr": 0.05,  # constant in the minimal loop; the peak of ours (same per-step work either way)
}


def minimal_epoch(model: nn.Module, data: Data, batch: int, lr: float, device: torch.device) -> float:
    """The plainest loop: shuffle, slice, normalise, forward, cross-entropy, backward, SGD step.
    Returns images per second."""
    opt = torch.optim.SGD(model.parameters(), lr=lr, momentum=0.9, nesterov=True, weight_decay=5e-5)
    loss_fn = nn.CrossEntropyLoss()
    cuda = device.type == "cuda"
    model.train()
    steps = len(data.train_y) // batch
    order = torch.randperm(len(data.train_y), device=device)
    _sync(device)
    start = time.perf_counter()
    for i in range(steps):
        idx = order[i * batch:(i + 1) * batch]
        x = normalize(data.train_x[idx], data)
        if cuda:
            x = x.contiguous(memory_format=torch.channels_last)
        with autocast(device):
            out = model(x)
        loss = loss_fn(out.float(), data.train_y[idx])
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
    _sync(device)
    return steps * batch / (time.perf_counter() - start)


def _sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def _fresh(spec, data: Data, device: torch.device) -> nn.Module:
    torch.manual_seed(0)
    model = build(adapt(spec, data)).to(device)
    return model.to(memory_format=torch.channels_last) if device.type == "cuda" else model


def run(repeats: int, threads: int, device_name: str) -> dict[str, list[float]]:
    """Images per second of each loop, `repeats` alternating rounds after one warm-up round."""
    torch.set_num_threads(threads)
    device = resolve_device(device_name)
    data = load(SETUP["data"], device)
    spec = load_spec(SETUP["spec"])
    ours = TrainConfig(epochs=1, batch_size=SETUP["batch_size"], lr=SETUP["lr"], crop_padding=0, flip=False,
                       device=device.type, threads=threads)
    augmented = dataclasses.replace(ours, crop_padding=4, flip=True)
    rates: dict[str, list[float]] = {"minimal loop": [], "nas.training.train.fit": [], "nas.training.train.fit + crop/flip": []}
    for round_ in range(repeats + 1):
        minimal = minimal_epoch(_fresh(spec, data, device), data, SETUP["batch_size"], SETUP["lr"], device)
        plain = fit(_fresh(spec, data, device), data, ours).images_per_second
        aug = fit(_fresh(spec, data, device), data, augmented).images_per_second
        if round_ > 0:  # round 0 warms up allocators and kernels
            for key, value in zip(rates, (minimal, plain, aug)):
                rates[key].append(value)
    return rates


def cpu_name() -> str:
    """The CPU model from /proc/cpuinfo (Linux), else what platform says."""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def report(rates: dict[str, list[float]], args: argparse.Namespace) -> str:
    """The markdown record: command, machine, versions, the table and the ratio."""
    base = statistics.median(rates["minimal loop"])
    lines = [
        "# Trainer throughput: nas.training.train.fit vs a minimal PyTorch loop",
        "",
        f"Command: `.venv/bin/python experiments/bench_train.py --repeats {args.repeats} --threads {args.threads} "
        f"--device {args.device}`",
        "",
        f"Machine: {cpu_name()} ({torch.get_num_threads()} of {os.cpu_count()} cores used), {args.threads} torch thread(s), device {args.device}; "
        f"torch {torch.__version__}, Python {platform.python_version()}.",
        f"Setup: {Path(SETUP['spec']).name} built for synthetic 3x32x32 data (10 classes, 2048 images), batch "
        f"{SETUP['batch_size']}, fp32, one epoch per run, {args.repeats} alternating rounds after a warm-up round.",
        "",
        "| loop | images/s (median) | min | max | ratio to minimal |",
        "| --- | ---: | ---: | ---: | ---: |",
    ]
    for name, values in rates.items():
        lines.append(f"| {name} | {statistics.median(values):.0f} | {min(values):.0f} | {max(values):.0f} | "
                     f"{statistics.median(values) / base:.3f} |")
    paired = [ours / minimal for ours, minimal in zip(rates["nas.training.train.fit"], rates["minimal loop"])]
    lines += ["", f"Ratio (ours / minimal, same work, median of the {len(paired)} paired rounds): "
              f"**{statistics.median(paired):.3f}** (target >= 0.95); per round: "
              + ", ".join(f"{r:.3f}" for r in paired) + "."]
    return "\n".join(lines) + "\n"


def main() -> None:
    """Run the benchmark and write its markdown record."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=9)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--output", default=str(HERE / "bench_train.md"))
    args = parser.parse_args()
    text = report(run(args.repeats, args.threads, args.device), args)
    Path(args.output).write_text(text)
    sys.stdout.write(text)


if __name__ == "__main__":
    main()
