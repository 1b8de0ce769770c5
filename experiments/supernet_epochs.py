"""Does a longer-trained supernet rank its sub-networks better? The one-shot experiment's 30, again.

Claim tested (issue "One-shot search", ranking target): experiments/oneshot.md trained its supernets for 3
epochs and found Kendall tau 0.152 (default data, recalibrated on 250 images) against a noise ceiling of
0.266, and 0.288 against 0.362 on the harder setting; longer training is the obvious lever. Here each data
setting's supernet is trained again, from scratch, for each of `--epochs` (the same recipe and sandwich
rule: `SupernetJob` defaults, the proxy `PROXY` with that many epochs), and the same 30 sub-networks
(`experiments.oneshot.pick`) are scored on it recalibrated on 250 images (the default). Tau is taken with
the stand-alone accuracies that experiments/oneshot.json recorded for them (two training seeds; their
mean), so only the supernet differs; FLOPs alone and the 3-epoch supernet are given beside.

Run: .venv/bin/python experiments/supernet_epochs.py --work DIR [--epochs 6]   (writes supernet_epochs.md and
.json here; about 20 minutes on one core of the development machine; a rerun reuses finished supernets)
"""
from __future__ import annotations

import argparse
import dataclasses
import json
import platform
import sys
import time
from pathlib import Path
from typing import Any

import torch
from scipy.stats import kendalltau

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from experiments.bench_train import cpu_name  # noqa: E402
from experiments.oneshot import SETTINGS, SPACE, pick, timed  # noqa: E402
from nas.training import train as train_module  # noqa: E402
from nas.training.data import load  # noqa: E402
from nas.training.oneshot import CALIBRATION_IMAGES, calibration_images, score  # noqa: E402
from nas.training.supernet import SupernetJob, load_supernet, train_supernet  # noqa: E402

HERE = Path(__file__).resolve().parent
RECORDED = HERE / "oneshot.json"
IMAGES = CALIBRATION_IMAGES  # the recalibration sample a search uses (250)


def tau(values: list[float], target: list[float]) -> list[float]:
    return [float(v) for v in kendalltau(values, target)]


def setting(name: str, recorded: dict[str, Any], epochs: int, work: Path) -> dict[str, Any]:
    """One supernet of `epochs` on the setting `name`, its scores of the recorded sub-networks and the taus."""
    source = SETTINGS[name]
    proxy = dataclasses.replace(train_module.PROXY, device="cpu", threads=1)
    run_dir = work / f"{name}_{epochs}"
    job = SupernetJob(space=SPACE, run_dir=str(run_dir), data=source, train=dataclasses.replace(proxy, epochs=epochs))
    _, cpu, wall = timed(lambda: train_supernet(job, resume=run_dir.exists()))
    trained, data = load_supernet(job.run_dir), load(source)
    sample = calibration_images(data, IMAGES)
    specs = {s.digest(): s for s in pick(len(recorded["rows"]))}
    rows = [r for r in recorded["rows"] if r["alone_0"]["val"] is not None and r["alone_1"]["val"] is not None]
    scores = [score(trained.supernet, specs[r["digest"]], data, True, sample) for r in rows]
    seeds = [[r[f"alone_{s}"]["val"] for r in rows] for s in (0, 1)]
    mean = [(a + b) / 2 for a, b in zip(*seeds)]
    return {"setting": name, "epochs": epochs, "train_cpu": cpu, "train_wall": wall,
            "history": trained.history, "scores": scores, "n": len(rows),
            "tau": {"mean of seeds": tau(scores, mean), "seed 0": tau(scores, seeds[0]), "seed 1": tau(scores, seeds[1])},
            "tau_3_epochs": tau([r["recal_250"] for r in rows], mean),
            "tau_flops": tau([r["macs"] for r in rows], mean), "ceiling": tau(*seeds)}


def render(results: dict[str, Any]) -> str:
    lines = ["# A longer-trained supernet: ranking of the one-shot experiment's sub-networks", "",
             "```", results["command"], "```", "",
             f"Machine: {results['machine']}. Space `{SPACE}`; the sub-networks, their stand-alone accuracies (two "
             "training seeds of the proxy) and the 3-epoch supernet's scores are experiments/oneshot.json's. "
             f"Scores: validation accuracy on the supernet, BN recalibrated on {IMAGES} training images.", "",
             "| setting | supernet epochs | training CPU-s | tau with the mean of seeds (p) | with seed 0 | with seed 1 "
             "| 3-epoch supernet | FLOPs alone | noise ceiling (seed 0 vs 1) |",
             "|---|---:|---:|---|---:|---:|---:|---:|---:|"]
    for r in results["runs"]:
        t = r["tau"]
        lines.append(f"| {r['setting']} | {r['epochs']} | {r['train_cpu']:.0f} | {t['mean of seeds'][0]:+.3f} "
                     f"({t['mean of seeds'][1]:.2g}) | {t['seed 0'][0]:+.3f} | {t['seed 1'][0]:+.3f} | "
                     f"{r['tau_3_epochs'][0]:+.3f} | {r['tau_flops'][0]:+.3f} | {r['ceiling'][0]:+.3f} |")
    return "\n".join(lines) + "\n"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--work", required=True, help="where the supernets go")
    parser.add_argument("--epochs", type=int, nargs="+", default=[6])
    args = parser.parse_args()
    torch.set_num_threads(1)
    recorded = {r["setting"]: r for r in json.loads(RECORDED.read_text())["ranking"]}
    work = Path(args.work)
    work.mkdir(parents=True, exist_ok=True)
    start = time.perf_counter()
    runs = [setting(name, recorded[name], epochs, work) for epochs in args.epochs for name in ("harder", "default")]
    results = {"machine": f"{cpu_name()}, one torch thread, torch {torch.__version__}, Python {platform.python_version()}",
               "command": ".venv/bin/python experiments/supernet_epochs.py --work WORK"
               + ("" if args.epochs == [6] else " --epochs " + " ".join(map(str, args.epochs))),
               "seconds": time.perf_counter() - start, "runs": runs}
    (HERE / "supernet_epochs.json").write_text(json.dumps(results, indent=1) + "\n")
    (HERE / "supernet_epochs.md").write_text(render(results))
    sys.stdout.write(render(results))


if __name__ == "__main__":
    main()
