"""Streaming against in-memory data: images per second on a generated folder of real JPEG files.

Question (issue item 6): how fast does the streaming path (`nas.training.stream`: a DataLoader whose worker
processes decode and resize the JPEG files of each batch) train, against the same folder held in memory?
Decoding costs CPU time the in-memory path paid once: where the decoders have cores of their own (a GPU
machine) they can keep up; on a small CPU host they share the cores with training.

Method: `--images` JPEG files (PIL, quality 90) of 3 classes, 64 to 128 px on a side (smooth class-tinted
gradients with noise, so they compress as photos do), are written to a temporary folder. Then, at the data's
side `--side`:

- memory, load: seconds to decode the whole folder into memory (what the in-memory path pays once per process);
- loader alone: images per second of one epoch of streamed training batches, for each worker count;
- training: images per second of `fit` (one epoch of `examples/tiny_cnn.json` built for the data, batch 64,
  crop/flip on the device), in memory and streamed, in `--repeats` alternating rounds after a warm-up round
  (both see the same machine load); the median of each and the median of the paired ratios.

Run: .venv/bin/python experiments/bench_data.py  (writes experiments/bench_data.md)
"""
from __future__ import annotations

import argparse
import dataclasses
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from experiments.bench_train import cpu_name  # noqa: E402
from nas.specs import load_spec  # noqa: E402
from nas.training.data import DataSource, load  # noqa: E402
from nas.training.evaluate import adapt  # noqa: E402
from nas.training.stream import open_folder  # noqa: E402
from nas.training.train import TrainConfig, fit, resolve_device  # noqa: E402
from search_spaces.network import build  # noqa: E402

HERE = Path(__file__).resolve().parent
SPEC = HERE.parent / "examples" / "tiny_cnn.json"


def write_folder(root: Path, images: int, seed: int = 0) -> float:
    """`images` JPEG files in 3 class folders; returns the mean file size in kB."""
    from PIL import Image

    rng = np.random.default_rng(seed)
    sizes = []
    for i in range(images):
        label = i % 3
        folder = root / f"class_{label}"
        folder.mkdir(parents=True, exist_ok=True)
        w, h = (int(v) for v in rng.integers(64, 129, 2))
        ys, xs = np.mgrid[0:h, 0:w]
        angle = rng.uniform(0, np.pi)
        wave = np.sin((xs * np.cos(angle) + ys * np.sin(angle)) / rng.uniform(4, 16))
        pixels = rng.normal(110, 25, (h, w, 3)) + 40 * wave[..., None]
        pixels[..., label] += 60
        path = folder / f"{i:05d}.jpg"
        Image.fromarray(np.clip(pixels, 0, 255).astype(np.uint8)).save(path, quality=90)
        sizes.append(path.stat().st_size)
    return float(np.mean(sizes)) / 1000


def loader_rate(source: DataSource, workers: int, batch: int) -> float:
    """Images per second of one epoch of streamed training batches (decoded, on the CPU, no training)."""
    stream = open_folder(dataclasses.replace(source, workers=workers))
    start = time.perf_counter()
    images = sum(len(y) for _, y in stream.train_batches(batch, torch.Generator().manual_seed(0)))
    return images / (time.perf_counter() - start)


def train_rate(data, config: TrainConfig, device: torch.device) -> float:
    """Images per second of one epoch of `fit` (the trainer's own figure: training steps only)."""
    torch.manual_seed(0)
    model = build(adapt(load_spec(str(SPEC)), data)).to(device)
    if device.type == "cuda":
        model = model.to(memory_format=torch.channels_last)
    return fit(model, data, config).images_per_second


def run(args: argparse.Namespace, root: Path) -> dict:
    device = resolve_device(args.device)
    source = DataSource("folder", str(root), resolution=args.side)
    start = time.perf_counter()
    memory = load(dataclasses.replace(source, stream="memory"), device)
    results = {"load_seconds": time.perf_counter() - start, "loader": {}, "memory": [], "stream": []}
    for workers in args.loader_workers:
        results["loader"][workers] = loader_rate(source, workers, 64)
    streamed = open_folder(dataclasses.replace(source, workers=args.workers)).to(device)
    config = TrainConfig(epochs=1, batch_size=64, crop_padding=2, device=device.type, threads=args.threads)
    for round_ in range(args.repeats + 1):
        rates = train_rate(memory, config, device), train_rate(streamed, config, device)
        if round_ > 0:  # round 0 warms up allocators and kernels
            results["memory"].append(rates[0])
            results["stream"].append(rates[1])
    return results


def report(results: dict, args: argparse.Namespace, kb: float) -> str:
    med = statistics.median
    paired = [s / m for s, m in zip(results["stream"], results["memory"])]
    n = args.images
    lines = [
        "# Streaming against in-memory data: images per second on real JPEG files",
        "",
        f"Command: `.venv/bin/python experiments/bench_data.py --images {n} --side {args.side} --workers {args.workers} "
        f"--threads {args.threads} --device {args.device} --repeats {args.repeats}`",
        "",
        f"Machine: {cpu_name()} ({os.cpu_count()} cores, shared), device {args.device}, {args.threads} torch "
        f"thread(s); torch {torch.__version__}, Pillow {__import__('PIL').__version__}.",
        f"Data: {n:,} generated JPEG files (3 classes, 64-128 px, {kb:.1f} kB on average), decoded at "
        f"{args.side}x{args.side}. Network: tiny_cnn.json built for the data, batch 64, crop and flip on the device.",
        "",
        f"In memory, decoding the whole folder once: {results['load_seconds']:.1f} s "
        f"({n / results['load_seconds']:,.0f} images/s, one process).",
        "",
        "| loader alone (one epoch of training batches, no training) | images/s |",
        "| --- | ---: |",
    ]
    for workers, rate in results["loader"].items():
        lines.append(f"| streamed, {workers} worker process(es){' (decoding in the training process)' if workers == 0 else ''}"
                     f" | {rate:,.0f} |")
    lines += [
        "",
        f"| training (`fit`, one epoch, median of {args.repeats} alternating rounds) | images/s | min | max |",
        "| --- | ---: | ---: | ---: |",
    ]
    for name, label in (("memory", "in memory"), ("stream", f"streamed, {args.workers} worker process(es)")):
        values = results[name]
        lines.append(f"| {label} | {med(values):,.0f} | {min(values):,.0f} | {max(values):,.0f} |")
    lines += ["", f"Streamed / in memory (median of the paired rounds): **{med(paired):.2f}**; per round: "
              + ", ".join(f"{r:.2f}" for r in paired) + "."]
    return "\n".join(lines) + "\n"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--images", type=int, default=2000)
    parser.add_argument("--side", type=int, default=32)
    parser.add_argument("--workers", type=int, default=2, help="decoding processes of the streamed training rows")
    parser.add_argument("--loader-workers", type=int, nargs="+", default=[0, 1, 2])
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--output", default=str(HERE / "bench_data.md"))
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    with tempfile.TemporaryDirectory() as tmp:
        kb = write_folder(Path(tmp), args.images)
        text = report(run(args, Path(tmp)), args, kb)
    Path(args.output).write_text(text)
    sys.stdout.write(text)


if __name__ == "__main__":
    main()
