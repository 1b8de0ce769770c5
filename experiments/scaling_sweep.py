"""Compound scaling sweeps: EfficientNet-B0 and ResNet-18 at phi 0..3, counted and proxy-trained.

Claim (issue "Compound scaling"): a sweep of phi 0..3 (EfficientNet's alpha, beta, gamma = 1.2, 1.1, 1.15) for
efficientnet_b0 and for resnet18 on the default data, with the command, the table and the plot. What the table
shows: how the multiply-adds and parameters grow with phi (counted exactly, closed form) and how the proxy
accuracy of each scaled network moves on the default data.

Method: `nas.search.sweeps.phi_sweep(base, [0, 1, 2, 3], train=True, config=SearchConfig(run_dir=...))` (one trial per
phi through the search machinery: random order, FIFO, the proxy recipe `nas.training.train.PROXY`, the default data),
then `nas.search.sweeps.write_sweep`. Each candidate trains at a proxy side proportional to its resolution
(`nas.search.trial.proxy_side`: data side x resolution / 224), so a phi 3 network (344 px) trains at 49 px on the
32 px data. One training run per phi (n = 1, training seed 0): no spread is claimed.

Outputs (beside this file): scaling_sweep.md (tables, command, hardware, versions), scaling_sweep.json (rows)
and scaling_sweep_<base>.png (accuracy against multiply-adds). Run directories (the studies) go under
runs/experiments/scaling_sweep/ and are reused when a sweep finished there before.
Run: .venv/bin/python experiments/scaling_sweep.py [--epochs 2]
"""
from __future__ import annotations

import argparse
import dataclasses
import json
import os
import platform
import shutil
import time
from itertools import pairwise
from pathlib import Path
from typing import Any

from common import cpu_name, log

from nas.search.config import SearchConfig
from nas.search.searcher import Progress
from nas.search.study import versions
from nas.search.sweeps import phi_sweep, write_sweep
from nas.search.trial import proxy_side
from nas.training.data import DataSource
from nas.training.train import PROXY
from scaling.compound import CompoundScaling
from search_spaces import backbones
from search_spaces.counting import count

# Always a fresh local Ray: without this, ray.init() joins any `ray start --head` cluster on the machine (another
# job's) and nas.search.run._start_ray then fails ("num_cpus and num_gpus must not be provided").
os.environ.setdefault("RAY_ADDRESS", "local")
HERE = Path(__file__).resolve().parent
CONFIG: dict[str, Any] = {
    "bases": ("efficientnet_b0", "resnet18"),
    "phis": (0, 1, 2, 3),
    "scaling": dataclasses.asdict(CompoundScaling()),  # depth alpha, width beta, resolution gamma per step of phi
    "data_side": 32,  # px of the default data (MNIST subset upsampled to 32x32)
    "reference_resolution": 224,  # px: a candidate trains at data_side x resolution / 224
    "run_root": "runs/experiments/scaling_sweep",
    "train": dataclasses.asdict(PROXY),  # epochs, images per batch, peak lr, ... (see nas.evaluate.TrainConfig)
    "data": dataclasses.asdict(DataSource()),
}


def log_trial(base: str):
    """Progress callback: one log line per recorded trial."""
    def progress(p: Progress) -> None:
        r = p.last
        log(f"{base}: trial {r.number} {r.status} acc {r.accuracy} macs {r.macs or 0:,} {r.failure or ''}")
    return progress


def sweep(base: str, epochs: int) -> dict[str, Any]:
    """The trained phi sweep of one base network; reused when already finished."""
    run_dir = Path(CONFIG["run_root"]) / f"{base}_epochs{epochs}"
    done = run_dir / "done.json"
    if done.is_file():
        log(f"{base}: reusing the finished sweep in {run_dir}")
        return json.loads(done.read_text())
    shutil.rmtree(run_dir, ignore_errors=True)
    config = SearchConfig(run_dir=str(run_dir), train=dataclasses.replace(PROXY, epochs=epochs))
    start = time.perf_counter()
    # a phi whose training fails is recorded as failed once, and the sweep ends (failures count as trials)
    rows = phi_sweep(backbones.get(base), list(CONFIG["phis"]), train=True, config=config,
                     progress=log_trial(base))
    wall = time.perf_counter() - start
    write_sweep(run_dir, rows, f"{base}: phi {', '.join(map(str, CONFIG['phis']))} (proxy accuracy on the default data)")
    trials = json.loads((run_dir / "trials.json").read_text())
    seconds = {t["macs"]: t["seconds"] for t in trials if t["status"] == "trained"}
    failures = {t["macs"]: t["failure"] for t in trials if t["status"] == "failed"}
    table = [dataclasses.asdict(r) | {"proxy_side": proxy_side(CONFIG["data_side"], r.resolution,
                                                                CONFIG["reference_resolution"]),
                                      "trial_seconds": seconds.get(r.macs), "failure": failures.get(r.macs)}
             for r in rows]
    outcome = {"base": base, "epochs": epochs, "run_dir": str(run_dir), "wall_seconds": round(wall, 1), "rows": table}
    done.write_text(json.dumps(outcome, indent=1))
    return outcome


def table(result: dict[str, Any]) -> list[str]:
    """One base's sweep as a Markdown table."""
    lines = [f"### {result['base']}", "",
             ("| phi | width | depth | resolution (px) | proxy side (px) | FLOPs (M multiply-adds) | params | "
             "proxy accuracy | status | trial time (s) |"),
             "|---|---|---|---|---|---|---|---|---|---|"]
    for r in result["rows"]:
        acc = "-" if r["accuracy"] is None else f"{r['accuracy']:.3f}"
        secs = "-" if r["trial_seconds"] is None else f"{r['trial_seconds']:.0f}"
        lines.append(f"| {r['phi']:g} | {r['width']:g} | {r['depth']:g} | {r['resolution']} | {r['proxy_side']} | "
                     f"{r['macs'] / 1e6:,.1f} | {r['params']:,} | {acc} | {r['status']} | {secs} |")
    failed = [f"phi {r['phi']:g}: {r['failure']}" for r in result["rows"] if r.get("failure")]
    if failed:
        lines += ["", "Failed (no accuracy; the sweep stops instead of retraining them): " + "; ".join(failed) + "."]
    return lines + ["", f"![{result['base']} sweep](scaling_sweep_{result['base']}.png)", ""]


def trend(result: dict[str, Any]) -> str:
    """One sentence: how the proxy accuracy moves over the trained phis, and which phis failed."""
    trained = [r for r in result["rows"] if r["accuracy"] is not None]
    failed = [f"{r['phi']:g}" for r in result["rows"] if r["accuracy"] is None]
    steps = " → ".join(f"{r['accuracy']:.3f}" for r in trained)
    phis = ", ".join(f"{r['phi']:g}" for r in trained)
    rising = all(a["accuracy"] <= b["accuracy"] for a, b in pairwise(trained))
    falling = all(a["accuracy"] >= b["accuracy"] for a, b in pairwise(trained))
    shape = "rises with phi" if rising else "falls with phi" if falling else "is not monotonic in phi"
    return (f"Reading: {result['base']}'s proxy accuracy {shape} ({steps} over phi "
            f"{phis})" + (f"; phi {', '.join(failed)} failed" if failed else "")
            + ". The proxy recipe is fixed (not retuned per size: the same peak learning rate and 2 epochs for every "
            "phi), and the proxy side grows with phi, so this measures how each scaled network fares under the "
            "search's proxy, not its ImageNet accuracy.")


def named_twins(result: dict[str, Any]) -> list[str]:
    """Rows whose params equal a named backbone of the same family (same width and depth multipliers)."""
    family = backbones.row(result["base"]).family
    named = {}
    for name in backbones.names():
        row = backbones.row(name)
        if row.family == family and name.startswith(result["base"].rstrip("0123456789")):
            named.setdefault(count(row.make()).params, (name, row.resolution))
    lines = []
    for r in result["rows"]:
        if r["params"] in named and named[r["params"]][0] != result["base"]:
            name, resolution = named[r["params"]]
            lines.append(f"phi {r['phi']:g} has the width and depth of {name} (same {r['params']:,} params), at "
                         f"{r['resolution']} px where {name} uses {resolution} px")
    return lines


def render(results: dict[str, Any]) -> str:
    """The Markdown report from the recorded results."""
    epochs = results["config"]["train"]["epochs"]
    lines = [
        "# Compound scaling: phi 0..3 for efficientnet_b0 and resnet18",
        "",
        ("**Claim tested:** the phi sweep (alpha, beta, gamma = 1.2, 1.1, 1.15) of both bases runs end to end on the "
        "default data, counted exactly and proxy-trained, with the table and the plot."),
        "",
        "## Command",
        "",
        "```", results["command"], "```",
        "",
        (f"Hardware: {results['hardware']['cpu']}, {results['hardware']['cores']} cores, shared with other jobs "
        f"(trial times depend on that load). Versions: {results['versions']}. "
        "Wall time per sweep: " + ", ".join(f"{r['base']} {r['wall_seconds'] / 60:.1f} min" for r in results["sweeps"])
        + "."),
        "",
        (f"Proxy recipe (`nas.training.train.PROXY`{'' if epochs == PROXY.epochs else f', epochs reduced to {epochs}'}): "
        f"`{json.dumps(results['config']['train'])}`; data `{json.dumps(results['config']['data'])}`."),
        ("FLOPs are multiply-adds of conv and linear weights at the network's own resolution. Each network trains "
        "once (n = 1, seed 0): no spread is measured here, so small differences between neighbouring phis may be "
        "run-to-run noise (experiments/search_strategies.md measures the seed spread of one network)."),
        "",
        "## Results",
        "",
    ]
    for result in results["sweeps"]:
        lines += table(result) + [trend(result), ""]
        twins = named_twins(result)
        if twins:
            lines += ["Cross-check against the named table: " + "; ".join(twins) + ".", ""]
    return "\n".join(lines) + "\n"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=int, default=PROXY.epochs)
    parser.add_argument("--report", action="store_true", help="only rewrite the .md from the recorded .json")
    args = parser.parse_args()
    if args.report:
        (HERE / "scaling_sweep.md").write_text(render(json.loads((HERE / "scaling_sweep.json").read_text())))
        return
    CONFIG["train"] = dataclasses.asdict(dataclasses.replace(PROXY, epochs=args.epochs))
    started, load = time.perf_counter(), os.getloadavg()[0]
    log(f"hardware: {cpu_name()}, {os.cpu_count()} cores, load {load:.1f}; versions: {versions()}")
    sweeps = []
    for base in CONFIG["bases"]:
        sweeps.append(sweep(base, args.epochs))
        shutil.copyfile(Path(sweeps[-1]["run_dir"]) / "sweep.png", HERE / f"scaling_sweep_{base}.png")
    extra = "" if args.epochs == PROXY.epochs else f" --epochs {args.epochs}"
    results = {"config": CONFIG, "command": f".venv/bin/python experiments/scaling_sweep.py{extra}",
               "hardware": {"cpu": cpu_name(), "cores": os.cpu_count(), "platform": platform.platform()},
               "load_average": round(load, 1), "versions": versions(),
               "total_wall_seconds": round(time.perf_counter() - started, 1), "sweeps": sweeps}
    (HERE / "scaling_sweep.json").write_text(json.dumps(results, indent=1) + "\n")
    (HERE / "scaling_sweep.md").write_text(render(results))
    log("wrote experiments/scaling_sweep.md, scaling_sweep.json and the PNGs")


if __name__ == "__main__":
    main()
