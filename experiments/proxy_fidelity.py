"""Proxy fidelity: does the short proxy rank candidates as a 5x longer training does?

Claim (issue "Every proposed network trains", item 4): over 20 seeded in-budget `mobile` candidates at 300M
multiply-adds drawn from the search's default distribution, Kendall tau between the validation accuracy under
the default proxy recipe and under a 5x longer recipe is at least 0.6, or within 0.1 of the noise ceiling:
tau between two training seeds of the long recipe.

Method: the first N candidates of `space.samples(seed=0, budget, fixed=space.distribution())`, each trained as
a search trial trains it (`nas.training.evaluate.evaluate` on the default data resized to the trial's proxy
side, `nas.search.trial.proxy_side`) with PROXY (training seed 0), with PROXY at 5x the epochs (training
seeds 0 and 1). Rows are written after each training, and a rerun continues where it stopped.

Outputs (beside this file): proxy_fidelity.json (every training) and proxy_fidelity.md (table and figures).
Run: .venv/bin/python experiments/proxy_fidelity.py [--n 20] [--factor 5]
"""
from __future__ import annotations

import argparse
import dataclasses
import json
import os
import platform
import statistics
import time
from pathlib import Path
from typing import Any

from common import cpu_name, log
from scipy.stats import kendalltau

from nas.search.study import versions
from nas.search.trial import proxy_side
from nas.training.data import DataSource, load
from nas.training.evaluate import evaluate
from nas.training.train import PROXY
from search_spaces import spaces
from search_spaces.counting import count

HERE = Path(__file__).resolve().parent
OUT = HERE / "proxy_fidelity.json"
CONFIG: dict[str, Any] = {
    "space": "mobile",
    "budget": 300_000_000,  # multiply-adds of the deployed network
    "n": 20,  # candidates
    "sample_seed": 0,  # the seed of the candidate draws
    "factor": 5,  # the long recipe's epochs: factor x PROXY.epochs (its warm-up scales with it: it is in epochs)
    "reference_resolution": 224,  # a candidate trains at data side x resolution / 224, as in a search
    "train": dataclasses.asdict(PROXY),
    "data": dataclasses.asdict(DataSource()),
}


def recipes(factor: int) -> dict[str, Any]:
    """The three trainings of every candidate: the proxy, and the long recipe at two training seeds."""
    long = dataclasses.replace(PROXY, epochs=PROXY.epochs * factor)
    return {"proxy": PROXY, "long_seed0": long, "long_seed1": dataclasses.replace(long, seed=1)}


def run(n: int, factor: int) -> dict[str, Any]:
    """Train every candidate with every recipe (reusing what an earlier run recorded)."""
    space = spaces.get(CONFIG["space"])
    fixed = space.distribution()
    specs = []
    for spec in space.samples(CONFIG["sample_seed"], CONFIG["budget"], fixed=fixed):
        specs.append(spec)
        if len(specs) == n:
            break
    done = json.loads(OUT.read_text()) if OUT.is_file() else {}
    rows = {r["digest"] + r["recipe"]: r for r in done.get("rows", [])
            if done.get("config", {}).get("train") == CONFIG["train"]}
    data = load(DataSource())
    for recipe, config in recipes(factor).items():
        for i, spec in enumerate(specs):
            key = spec.digest() + recipe
            if key in rows:
                continue
            side = proxy_side(data.resolution, spec.resolution, CONFIG["reference_resolution"])
            metrics = evaluate(spec, config, data.resized(side))
            rows[key] = {"candidate": i, "digest": spec.digest(), "recipe": recipe, "macs": count(spec).macs,
                         "resolution": spec.resolution, "proxy_side": side, "accuracy": metrics.accuracy,
                         "test_accuracy": metrics.test_accuracy, "failure": metrics.failure,
                         "seconds": round(metrics.train_seconds, 1), "point": space.encode(spec)}
            log(f"{recipe} candidate {i}: val {metrics.accuracy} ({metrics.failure or 'trained'}) "
                f"in {metrics.train_seconds:.0f} s at {side} px")
            save(rows, fixed)
    return save(rows, fixed)


def save(rows: dict[str, Any], fixed: dict[str, Any]) -> dict[str, Any]:
    results = {"config": CONFIG, "fixed": fixed, "versions": versions(), "command": command(),
               "hardware": {"cpu": cpu_name(), "cores": os.cpu_count(), "platform": platform.platform()},
               "rows": sorted(rows.values(), key=lambda r: (r["recipe"], r["candidate"]))}
    OUT.write_text(json.dumps(results, indent=1) + "\n")
    return results


def command() -> str:
    extra = "".join(f" --{k} {CONFIG[k]}" for k, default in (("n", 20), ("factor", 5)) if CONFIG[k] != default)
    return f".venv/bin/python experiments/proxy_fidelity.py{extra}"


def tau(results: dict[str, Any], a: str, b: str) -> tuple[float, int]:
    """Kendall tau-b between two recipes' validation accuracies over the candidates both trained (a failed
    training counts as accuracy 0: it ranks below every trained network)."""
    by = {(r["recipe"], r["candidate"]): (r["accuracy"] or 0.0) for r in results["rows"]}
    both = sorted({c for (rec, c) in by if rec == a} & {c for (rec, c) in by if rec == b})
    value = kendalltau([by[a, c] for c in both], [by[b, c] for c in both]).statistic
    return float(value), len(both)


def render(results: dict[str, Any]) -> str:
    """The Markdown report."""
    config = results["config"]
    proxy, ceiling = tau(results, "proxy", "long_seed0"), tau(results, "long_seed0", "long_seed1")
    mean_of = {rec: statistics.mean(r["accuracy"] or 0.0 for r in results["rows"] if r["recipe"] == rec)
               for rec in ("proxy", "long_seed0", "long_seed1")}
    seconds = {rec: sum(r["seconds"] for r in results["rows"] if r["recipe"] == rec)
               for rec in ("proxy", "long_seed0", "long_seed1")}
    met = proxy[0] >= 0.6 or proxy[0] >= ceiling[0] - 0.1
    lines = [
        "# Proxy fidelity: the default proxy against a 5x longer training",
        "",
        (f"**Claim tested:** over {config['n']} seeded in-budget `{config['space']}` candidates at "
         f"{config['budget']:,} multiply-adds (the search's default distribution, fixed: {results['fixed']}), Kendall "
         f"tau between validation accuracy under the default proxy ({config['train']['epochs']} epochs) and under "
         f"{config['factor']}x the epochs is at least 0.6, or within 0.1 of the noise ceiling (tau between two "
         "training seeds of the long recipe)."),
        "",
        "```", results["command"], "```",
        "",
        f"Hardware: {results['hardware']['cpu']}, {results['hardware']['cores']} cores. Versions: {results['versions']}.",
        "",
        "| | Kendall tau | candidates |",
        "|---|---|---|",
        f"| proxy against long (seed 0) | {proxy[0]:.3f} | {proxy[1]} |",
        f"| long seed 0 against long seed 1 (noise ceiling) | {ceiling[0]:.3f} | {ceiling[1]} |",
        "",
        (f"**Result:** tau {proxy[0]:.3f} against a ceiling of {ceiling[0]:.3f}: the target "
         + ("is met." if met else "is not met.")),
        "",
        ("Mean validation accuracy: " + ", ".join(
            f"{k} {v:.3f} (n={sum(r['recipe'] == k for r in results['rows'])})" for k, v in mean_of.items())
         + "; training time: " + ", ".join(f"{k} {v / 60:.1f} min" for k, v in seconds.items()) + "."),
        "",
        "| candidate | MACs (M) | resolution | proxy side | proxy | long seed 0 | long seed 1 |",
        "|---|---|---|---|---|---|---|",
    ]
    by = {(r["recipe"], r["candidate"]): r for r in results["rows"]}
    for c in sorted({r["candidate"] for r in results["rows"]}):
        first = by.get(("proxy", c)) or by.get(("long_seed0", c))
        cells = [("-" if (rec, c) not in by else "failed" if by[rec, c]["accuracy"] is None
                  else f"{by[rec, c]['accuracy']:.3f}") for rec in ("proxy", "long_seed0", "long_seed1")]
        lines.append(f"| {c} | {first['macs'] / 1e6:.1f} | {first['resolution']} | {first['proxy_side']} | "
                     + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=CONFIG["n"])
    parser.add_argument("--factor", type=int, default=CONFIG["factor"])
    parser.add_argument("--report", action="store_true", help="only rewrite the .md from the recorded .json")
    args = parser.parse_args()
    CONFIG["n"], CONFIG["factor"] = args.n, args.factor
    started = time.perf_counter()
    results = json.loads(OUT.read_text()) if args.report else run(args.n, args.factor)
    (HERE / "proxy_fidelity.md").write_text(render(results))
    log(f"wrote {HERE / 'proxy_fidelity.md'} in {time.perf_counter() - started:.0f} s")


if __name__ == "__main__":
    main()
