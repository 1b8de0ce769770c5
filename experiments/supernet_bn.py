"""BN recalibration of supernet sub-networks, and channel sorting: what each changes in accuracy.

Claim: scored with the batch-norm statistics the shared supernet accumulated in training, sub-networks of a
sandwich-trained supernet are near chance or far below their potential; recalibrated on a fixed sample of
training images they are within a point or two of each other. Also measured: how many calibration images
it takes, how much a different sample of the same size moves a score, and whether sorting the expanded
channels by importance (OFA's re-organisation, `Supernet.sort_channels`) helps, post hoc or during training.
Hardware: whatever runs it (recorded in the output); torch on the CPU, one thread.
Run: python experiments/supernet_bn.py RUN [RUN ...]   (RUN: a `nas supernet train` run directory;
about 15 minutes per run on a loaded 2-core machine; the first run gets the full table)
"""
from __future__ import annotations

import itertools
import json
import platform
import sys

import torch

from nas.training.data import load
from nas.training.oneshot import calibration_images, score
from nas.training.supernet import load_supernet
from search_spaces.counting import count

SIZES = (50, 200, 1000, 2000, 4000)  # 4000: every training image of the default MNIST subset
RANDOM, SEED = 8, 123


def points(space):
    return [("largest", space.largest()), ("smallest", space.smallest())] + [
        (f"random {i}", spec) for i, spec in enumerate(itertools.islice(space.samples(SEED), RANDOM), 1)]


def describe(run: str, trained) -> None:
    j = trained.job
    print(f"{run}: {trained.space.name}, {trained.epochs_done} epoch(s) on {j.data.kind}, batch {j.train.batch_size}, "
          f"lr {j.train.lr} {j.train.schedule}, {j.random_subnets} random sub-networks a step, distill {j.distill}, "
          f"sort_channels {j.sort_channels}")


def full_table(run: str) -> list[dict]:
    trained = load_supernet(run)
    describe(run, trained)
    net, data = trained.supernet, load(trained.job.data)
    rows = []
    for name, spec in points(trained.space):
        row = {"network": name, "resolution": spec.resolution, "MFLOPs": round(count(spec).macs / 1e6, 1),
               "as trained": score(net, spec, data, recalibrate=False)}
        for n in SIZES:
            row[f"recal {min(n, len(data.train_y))}"] = score(net, spec, data, True, calibration_images(data, n))
        row["recal 1000 (other sample)"] = score(net, spec, data, True, calibration_images(data, 1000, seed=1))
        rows.append(row)
        print(json.dumps(row), file=sys.stderr, flush=True)
    net.sort_channels()  # post hoc: the trained supernet's expanded channels reordered by importance
    for row, (_, spec) in zip(rows, points(trained.space)):
        row["sorted post hoc, recal 1000"] = score(net, spec, data, True, calibration_images(data, 1000))
    return rows


def recalibrated(run: str) -> dict[str, float]:
    trained = load_supernet(run)
    describe(run, trained)
    data = load(trained.job.data)
    sample = calibration_images(data, 1000)
    return {name: score(trained.supernet, spec, data, True, sample) for name, spec in points(trained.space)}


def main(runs: list[str]) -> None:
    torch.set_num_threads(1)
    print(f"# supernet_bn: {platform.machine()}, python {platform.python_version()}, torch {torch.__version__}")
    rows = full_table(runs[0])
    print(f"\n{runs[0]}: validation accuracy with BN statistics as trained, then recalibrated on n training images")
    print("| " + " | ".join(rows[0]) + " |\n|" + "---|" * len(rows[0]))
    for row in rows:
        print("| " + " | ".join(f"{v:.3f}" if isinstance(v, float) and v <= 1 else str(v) for v in row.values()) + " |")
    if len(runs) > 1:
        columns = {run: recalibrated(run) for run in runs[1:]}
        print("\nrecalibrated on 1000 images, run by run")
        print("| network | " + " | ".join(runs) + " |\n|---|" + "---|" * len(runs))
        for row in rows:
            name = row["network"]
            print(f"| {name} | {row['recal 1000']:.3f} | " + " | ".join(f"{c[name]:.3f}" for c in columns.values()) + " |")


if __name__ == "__main__":
    if len(sys.argv) < 2:
        sys.exit("usage: python experiments/supernet_bn.py RUN [RUN ...]")
    main(sys.argv[1:])
