"""A search on a supernet with an accuracy predictor against searches that score every candidate, at five
strategy seeds.

Claim tested (issue "One-shot search", cost): a search over 1,000 candidates that scores only its first 50
on the supernet and predicts the rest (`--predictor 50`: 4 rounds, each scoring 4 of the predicted front
and refitting) finds networks as good as the same strategy scoring every one of 1,000 candidates, and
better than scoring as many candidates (66) as the predictor search scores.

Steps, in this process on one torch thread, on the supernet `experiments/oneshot.py` trained on the default
data (WORK/supernet_default_250: its weights, scored with 250 calibration images), budget 300M, evolution
(population 50, tournament 10), seeds 0-4, each of:
- `direct66`: 66 candidates, each scored on the supernet;
- `predictor`: 1,000 candidates, 50 scored first, the rest predicted (`nas search --predictor 50`);
- `direct1000`: 1,000 candidates, each scored on the supernet.
Reported per search: its CPU seconds, the supernet validation accuracy of its best network (what a search
selects on, and is biased upward by the selection), that network's supernet accuracy on the 1,000 test
images (unbiased: the test images play no part in the selection), and the hypervolume of its front.

Run: .venv/bin/python experiments/predictor_search.py --work WORK   (WORK of experiments/oneshot.py; about
25 minutes, most of it the direct1000 searches; writes experiments/predictor_search.md and .json)
"""
from __future__ import annotations

import argparse
import json
import shutil
import statistics
import sys
from functools import partial
from pathlib import Path
from typing import Any

import torch
from scipy.stats import wilcoxon

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from experiments.oneshot import BUDGET, SPACE, Cache, timed  # noqa: E402
from nas.search.records import records  # noqa: E402
from nas.search.run import search  # noqa: E402
from nas.search.study import load_run  # noqa: E402

HERE = Path(__file__).resolve().parent
VARIANTS = {"direct66": {"trials": 66}, "predictor": {"trials": 1000, "predictor": 50},
            "direct1000": {"trials": 1000}}


def one(work: Path, variant: str, seed: int) -> dict[str, Any]:
    """One search, timed, and what it found."""
    run = work / "predictor_search" / f"{variant}_{seed}"
    shutil.rmtree(run, ignore_errors=True)  # an interrupted search of this script: it starts again
    settings = {"space": SPACE, "supernet": str(work / "supernet_default_250"), "strategy": "evolution",
                "population": 50, "sample_size": 10, "max_proposals": 20_000, "cpus_per_trial": 2,
                "budget": BUDGET, "seed": seed, "run_dir": str(run)} | VARIANTS[variant]
    result, cpu, wall = timed(lambda: search(**settings))
    scored = [r for r in records(load_run(str(run))[0]) if r.status == "trained"]
    best = max(scored, key=lambda r: (r.accuracy, -r.macs))
    return {"cpu": cpu, "wall": wall, "scored": len(scored), "best_val": best.accuracy,
            "best_test": best.test_accuracy, "best_macs": best.macs, "hypervolume": result.summary["hypervolume"],
            "front": len(result.front), "predictor": result.summary.get("predictor")}


def report(results: dict[str, Any]) -> str:
    runs = results["runs"]
    lines = ["# A search with an accuracy predictor against searches that score every candidate", "",
             "Command: `nohup .venv/bin/python experiments/predictor_search.py --work WORK` (WORK of "
             "`experiments/oneshot.py`; its 3-epoch `elastic_mbv3` supernet on the default data, scored with 250 "
             "calibration images). Budget 300M, evolution (population 50, tournament 10), seeds 0-4.", "",
             "| search | supernet scores | CPU-s | best val (selected on) | best test | hypervolume |",
             "| --- | ---: | ---: | ---: | ---: | ---: |"]
    mean = {}
    for variant in VARIANTS:
        rows = [runs[f"{variant}/{s}"] for s in results["seeds"]]
        mean[variant] = {k: statistics.mean(r[k] for r in rows) for k in
                         ("scored", "cpu", "best_val", "best_test", "hypervolume")}
        m = mean[variant]
        lines.append(f"| {variant} | {m['scored']:.0f} | {m['cpu']:.0f} | {m['best_val']:.4f} | "
                     f"{m['best_test']:.4f} | {m['hypervolume']:.4f} |")
    lines += ["", "Means over the seeds. Per seed (best test accuracy / hypervolume):", "",
              "| seed | " + " | ".join(VARIANTS) + " |", "| ---: |" + " ---: |" * len(VARIANTS)]
    for s in results["seeds"]:
        lines.append(f"| {s} | " + " | ".join(f"{runs[f'{v}/{s}']['best_test']:.3f} / "
                                             f"{runs[f'{v}/{s}']['hypervolume']:.3f}" for v in VARIANTS) + " |")
    lines += ["", "Paired over the seeds (two-sided Wilcoxon signed-rank; with 5 seeds p cannot fall below 0.06):",
              ""]
    for a, b in (("predictor", "direct66"), ("predictor", "direct1000")):
        for key in ("best_test", "hypervolume"):
            x = [runs[f"{a}/{s}"][key] for s in results["seeds"]]
            y = [runs[f"{b}/{s}"][key] for s in results["seeds"]]
            wins = sum(p > q for p, q in zip(x, y))
            ties = sum(p == q for p, q in zip(x, y))
            p = wilcoxon(x, y).pvalue if any(p != q for p, q in zip(x, y)) else 1.0
            lines.append(f"- {a} against {b}, {key.replace('_', ' ')}: higher in {wins} of {len(x)} seeds "
                         f"({ties} tied), mean difference {statistics.mean(x) - statistics.mean(y):+.4f}, p = {p:.2f}")
    return "\n".join(lines) + "\n"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--work", required=True, help="the WORK directory of experiments/oneshot.py")
    parser.add_argument("--seeds", type=int, default=5)
    args = parser.parse_args()
    torch.set_num_threads(1)
    work = Path(args.work)
    cache = Cache(work / "predictor_search.jsonl")
    seeds = list(range(args.seeds))
    runs = {}
    for variant in VARIANTS:
        for seed in seeds:
            runs[f"{variant}/{seed}"] = cache.get(f"{variant}/{seed}", partial(one, work, variant, seed))
    results = {"seeds": seeds, "runs": runs}
    (HERE / "predictor_search.json").write_text(json.dumps(results, indent=1) + "\n")
    text = report(results)
    (HERE / "predictor_search.md").write_text(text)
    sys.stdout.write(text)


if __name__ == "__main__":
    main()
