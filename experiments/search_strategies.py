"""Does the default search strategy beat random search, and does a search find networks of its own?

Claims (issue "Every proposed network trains", item 6): over 5 seeds, searches of 40 training runs on the
default data and proxy (mobile space, 300M multiply-adds): (a) evolution's mean hypervolume is above random
search's (TPE beside them), compared seed by seed; (b) in at least 3 of 5 seeds the best network a search
proposed itself beats the best named backbone it seeded itself with (both trained in the same run by the
same proxy, ranked on validation accuracy); (c) the share of proposed networks that train to 3x chance.

Method: `nas.search.search(space="mobile", budget=300M, strategy=S, seed=s, trials=40)` with every other
setting at its default (the proxy recipe `nas.training.train.PROXY`, the default data and its validation
split, the space's default distribution, ASHA, 2 concurrent trials, the named backbones that fit the budget
queued first), for S in (evolution, random, tpe) and s in 0..4. Then the best proposed network of all runs
and the best seeded backbone are retrained with PROXY at training seeds 0, 1, 2 (validation and test
accuracy), so (b) is also checked beyond one training seed's noise.

The strategy "evolution_nofloor" is evolution as it was before its parents had to clear 3x chance (its
tournament breeds from near-chance networks too): an ablation, with `nas.search.records.NEAR_CHANCE` set
to 0 in this process (the sampler runs here, not in Ray's workers) for that run only.

Outputs (beside this file): NAME.md and NAME.json (`--out`, default search_strategies). Run directories go under
runs/experiments/search_strategies/ and are reused when a run finished there before, so an interrupted
script continues where it stopped.
Run: .venv/bin/python experiments/search_strategies.py [--trials 40] [--seeds 5] [--strategies a,b] [--out NAME]
(`--trials 12 --strategies evolution,evolution_nofloor,random --out main_command` is the README's main
command at several seeds)
"""
from __future__ import annotations

import argparse
import dataclasses
import json
import os
import platform
import shutil
import statistics
import time
from pathlib import Path
from typing import Any

from common import cpu_name, log
from scipy.stats import wilcoxon

from nas.search import records
from nas.search.config import SearchConfig
from nas.search.run import search
from nas.search.searcher import Progress
from nas.search.study import load_run, versions
from nas.search.trial import proxy_side
from nas.training.data import DataSource, load
from nas.training.evaluate import evaluate
from nas.training.train import PROXY
from search_spaces.counting import count
from search_spaces.spec import NetSpec, from_json

# Always a fresh local Ray: without this, ray.init() joins any `ray start --head` cluster on the machine (another
# job's) and nas.search.run._start_ray then fails ("num_cpus and num_gpus must not be provided").
os.environ.setdefault("RAY_ADDRESS", "local")
HERE = Path(__file__).resolve().parent
CONFIG: dict[str, Any] = {
    "space": "mobile",
    "budget": 300_000_000,  # multiply-adds of the deployed network (224 px ImageNet shape)
    "trials": 40,  # training runs per search: trained or failed (over-budget and duplicate proposals do not count)
    "strategies": ("evolution", "random", "tpe"),  # evolution is SearchConfig's default
    "seeds": (0, 1, 2, 3, 4),  # search seeds
    "retrain_seeds": (0, 1, 2),  # training seeds of the retraining runs
    "reference_resolution": 224,  # px: a candidate trains at data side x resolution / 224 (search default)
    "run_root": "runs/experiments/search_strategies",
    "train": dataclasses.asdict(PROXY),
    "data": dataclasses.asdict(DataSource()),
}
CHANCE3 = 0.30  # 3x chance on the 10 classes of the default data


def run_search(strategy: str, seed: int, trials: int) -> dict[str, Any]:
    """One search run: its summary, wall time and every trial; reused when already finished."""
    run_dir = Path(CONFIG["run_root"]) / f"{strategy}_seed{seed}_trials{trials}"
    done = run_dir / "done.json"
    if done.is_file():
        log(f"{strategy} seed {seed}: reusing the finished run in {run_dir}")
        return json.loads(done.read_text())
    shutil.rmtree(run_dir, ignore_errors=True)  # an unfinished run starts over (equal budgets, clean studies)

    def progress(p: Progress) -> None:
        r = p.last
        acc = "-" if r.accuracy is None else f"{r.accuracy:.3f}"
        log(f"{strategy} seed {seed}: trial {r.number} {r.status} val {acc} macs {r.macs or 0:,}; "
            f"training runs {p.training_runs}/{p.total}, best {p.best_accuracy}")

    start = time.perf_counter()
    nofloor = strategy == "evolution_nofloor"
    config = SearchConfig(space=CONFIG["space"], budget=CONFIG["budget"], strategy="evolution" if nofloor else strategy,
                          seed=seed, trials=trials, run_dir=str(run_dir))
    floor = records.NEAR_CHANCE
    if nofloor:
        records.NEAR_CHANCE = 0.0
    try:
        result = search(config, progress)
    finally:
        records.NEAR_CHANCE = floor
    study, _ = load_run(run_dir)
    epochs = {t.number: t.user_attrs.get("epochs") for t in study.get_trials(deepcopy=False)}
    rows = json.loads((run_dir / "trials.json").read_text())
    for row in rows:
        row["epochs"] = epochs[row["number"]]
    outcome = {"strategy": strategy, "seed": seed, "run_dir": str(run_dir),
               "wall_seconds": round(time.perf_counter() - start, 1), "summary": result.summary, "trials": rows}
    done.write_text(json.dumps(outcome, indent=1))
    return outcome


def _trained(run: dict[str, Any], named: bool | None = None) -> list[dict[str, Any]]:
    """A run's trained trials: all, only the seeded backbones (named=True) or only the proposed (False)."""
    return [t for t in run["trials"] if t["status"] == "trained" and t["accuracy"] is not None
            and (named is None or bool(t["named"]) == named)]


def _best(trials: list[dict[str, Any]]) -> dict[str, Any] | None:
    return max(trials, key=lambda t: (t["accuracy"], -t["macs"]), default=None)


def retrain(name: str, spec: NetSpec) -> dict[str, Any]:
    """Proxy-train `spec` with PROXY at each retraining seed, on the data as a search trial sees it."""
    data = load(DataSource())
    side = proxy_side(data.resolution, spec.resolution, CONFIG["reference_resolution"])
    runs = []
    for seed in CONFIG["retrain_seeds"]:
        metrics = evaluate(spec, dataclasses.replace(PROXY, seed=seed), data.resized(side))
        log(f"retrain {name} seed {seed}: val {metrics.accuracy} test {metrics.test_accuracy}")
        runs.append({"seed": seed, "accuracy": metrics.accuracy, "test_accuracy": metrics.test_accuracy,
                     "failure": metrics.failure, "train_seconds": round(metrics.train_seconds, 1)})
    return {"name": name, "macs": count(spec).macs, "resolution": spec.resolution,
            "proxy_side": side, "runs": runs}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--trials", type=int, default=CONFIG["trials"])
    parser.add_argument("--seeds", type=int, default=len(CONFIG["seeds"]))
    parser.add_argument("--strategies", default=",".join(CONFIG["strategies"]),
                        help="comma-separated: evolution, random, tpe, nsga2, evolution_nofloor (the ablation)")
    parser.add_argument("--out", default="search_strategies", help="the record's name: NAME.md and NAME.json here")
    parser.add_argument("--report", action="store_true", help="only rewrite the .md from the recorded .json")
    args = parser.parse_args()
    if args.report:
        (HERE / f"{args.out}.md").write_text(render(json.loads((HERE / f"{args.out}.json").read_text())))
        return
    CONFIG["trials"], CONFIG["seeds"] = args.trials, tuple(range(args.seeds))
    CONFIG["strategies"] = tuple(args.strategies.split(","))
    started = time.perf_counter()
    load_at_start = round(os.getloadavg()[0], 1)
    log(f"hardware: {cpu_name()}, {os.cpu_count()} cores; versions: {versions()}")
    runs = [run_search(s, seed, args.trials) for seed in CONFIG["seeds"] for s in CONFIG["strategies"]]
    proposed = _best([t for r in runs for t in _trained(r, named=False)])
    seeded = _best([t for r in runs for t in _trained(r, named=True)])
    retrained = [retrain(f"best proposed ({proposed['digest'][:12]})", from_json(proposed["spec"]))]
    if seeded:
        retrained.append(retrain(f"best seeded backbone ({seeded['named']})", from_json(seeded["spec"])))
    for run in runs:  # every trial's spec stays in its run directory
        for trial in run["trials"]:
            trial.pop("spec", None)
    results = {"config": CONFIG, "versions": versions(), "command": command(args),
               "hardware": {"cpu": cpu_name(), "cores": os.cpu_count(), "platform": platform.platform(),
                            "load_average_at_start": load_at_start},
               "total_wall_seconds": round(time.perf_counter() - started, 1), "runs": runs,
               "retrained": retrained}
    (HERE / f"{args.out}.json").write_text(json.dumps(results, indent=1) + "\n")
    (HERE / f"{args.out}.md").write_text(render(results))
    log(f"wrote {HERE / args.out}.md and {args.out}.json")


def command(args: argparse.Namespace) -> str:
    extra = ("" if args.trials == 40 else f" --trials {args.trials}") + ("" if args.seeds == 5 else f" --seeds {args.seeds}")
    extra += "" if args.strategies == "evolution,random,tpe" else f" --strategies {args.strategies}"
    extra += "" if args.out == "search_strategies" else f" --out {args.out}"
    return f".venv/bin/python experiments/search_strategies.py{extra}"


def spread(values: list[float], digits: int = 3) -> str:
    """'mean ± sample sd (min–max), n'."""
    if not values:
        return "-"
    sd = statistics.stdev(values) if len(values) > 1 else 0.0
    return f"{statistics.mean(values):.{digits}f} ± {sd:.{digits}f} ({min(values):.{digits}f}–{max(values):.{digits}f}), n={len(values)}"


def _by(runs: list[dict[str, Any]], strategy: str) -> dict[int, dict[str, Any]]:
    return {r["seed"]: r for r in runs if r["strategy"] == strategy}


def _paired(runs: list[dict[str, Any]], a: str, b: str) -> str:
    """Hypervolume of `a` minus `b`, seed by seed, with wins and a Wilcoxon signed-rank p-value."""
    ra, rb = _by(runs, a), _by(runs, b)
    seeds = sorted(set(ra) & set(rb))
    diffs = [ra[s]["summary"]["hypervolume"] - rb[s]["summary"]["hypervolume"] for s in seeds]
    p = wilcoxon(diffs).pvalue if len(diffs) >= 2 and any(diffs) else float("nan")
    return (f"{a} − {b}: " + ", ".join(f"{d:+.4f}" for d in diffs) + f" (mean {statistics.mean(diffs):+.4f}, "
            f"{sum(d > 0 for d in diffs)} of {len(diffs)} seeds higher, Wilcoxon p = {p:.3f})")


def _run_rows(runs: list[dict[str, Any]]) -> list[str]:
    lines = ["| strategy | seed | hypervolume | proposed: trained to 3x chance / all | best proposed (val) | "
             "best seeded (val) | proposed beats seeded | on the front: proposed / all | wall (min) |",
             "|---|---|---|---|---|---|---|---|---|"]
    for r in runs:
        proposed = [t for t in r["trials"] if not t["named"] and t["status"] in ("trained", "failed")]
        good = sum(t["accuracy"] is not None and t["accuracy"] >= CHANCE3 for t in proposed)
        bp, bs = _best(_trained(r, named=False)), _best(_trained(r, named=True))
        front = json.loads((Path(r["run_dir"]) / "pareto.json").read_text())
        mine = sum(not t["named"] for t in front)
        beats = "-" if not (bp and bs) else "yes" if bp["accuracy"] > bs["accuracy"] else "no"
        lines.append(f"| {r['strategy']} | {r['seed']} | {r['summary']['hypervolume']:.4f} | {good} / {len(proposed)} | "
                     f"{bp['accuracy'] if bp else 0:.3f} | {bs['accuracy'] if bs else 0:.3f} ({bs['named'] if bs else '-'}) | "
                     f"{beats} | {mine} / {len(front)} | {r['wall_seconds'] / 60:.1f} |")
    return lines


def _strategy_rows(runs: list[dict[str, Any]], names: list[str]) -> list[str]:
    lines = ["| strategy | hypervolume | best proposed (val) | proposed trained to 3x chance | seeds where proposed beats seeded |",
             "|---|---|---|---|---|"]
    for s in names:
        mine = list(_by(runs, s).values())
        hv = [r["summary"]["hypervolume"] for r in mine]
        best = [(_best(_trained(r, named=False)) or {"accuracy": 0.0})["accuracy"] for r in mine]
        proposed = [t for r in mine for t in r["trials"] if not t["named"] and t["status"] in ("trained", "failed")]
        good = sum(t["accuracy"] is not None and t["accuracy"] >= CHANCE3 for t in proposed)
        beats = sum(1 for r in mine if _best(_trained(r, False)) and _best(_trained(r, True))
                    and _best(_trained(r, False))["accuracy"] > _best(_trained(r, True))["accuracy"])
        lines.append(f"| {s} | {spread(hv, 4)} | {spread(best)} | {good} of {len(proposed)} "
                     f"({good / max(len(proposed), 1):.0%}) | {beats} of {len(mine)} |")
    return lines


def _retrain_rows(retrained: list[dict[str, Any]]) -> list[str]:
    lines = ["| network | MACs (M) | resolution | proxy side | val per training seed | val mean | test mean |",
             "|---|---|---|---|---|---|---|"]
    for n in retrained:
        vals = [r["accuracy"] for r in n["runs"] if r["accuracy"] is not None]
        tests = [r["test_accuracy"] for r in n["runs"] if r["test_accuracy"] is not None]
        cells = ", ".join("failed" if r["accuracy"] is None else f"{r['accuracy']:.3f}" for r in n["runs"])
        lines.append(f"| {n['name']} | {n['macs'] / 1e6:.1f} | {n['resolution']} | {n['proxy_side']} | {cells} | "
                     f"{spread(vals)} | {spread(tests)} |")
    return lines


def render(results: dict[str, Any]) -> str:
    """The Markdown report from the recorded results."""
    config, runs = results["config"], results["runs"]
    s = list(config["strategies"])
    hw = results["hardware"]
    return "\n".join([
        "# Search strategies: evolution, random and TPE, and what a search proposes itself",
        "",
        (f"**Claims tested:** over {len(config['seeds'])} seeds of {config['trials']} training runs per search "
         f"(mobile space, {config['budget']:,} multiply-adds, default data, proxy and distribution): evolution's mean "
         "hypervolume above random's, seed by seed; the best network a search proposed itself beats the best "
         "seeded backbone in at least 3 of 5 seeds; the share of proposals trained to 3x chance."),
        "",
        "```", results["command"], "```",
        "",
        (f"Hardware: {hw['cpu']}, {hw['cores']} cores ({hw['platform']}), load average {hw['load_average_at_start']} "
         f"at the start (other jobs shared the machine). Versions: {results['versions']}. Wall time "
         f"{results['total_wall_seconds'] / 3600:.1f} h. Validation accuracy ranks (a search never sees test "
         "accuracy). Hypervolume: the area dominated by a run's front in (MACs / budget, validation accuracy) "
         "against (1, 0)."),
        "",
        "## By strategy (mean ± sd over seeds)",
        "",
        *_strategy_rows(runs, s),
        "",
        "Paired by seed: " + "; ".join(_paired(runs, s[0], other) for other in s[1:]) + ".",
        "",
        "## Every run",
        "",
        *_run_rows(runs),
        "",
        "## The best proposed network and the best seeded backbone, retrained at three training seeds",
        "",
        *_retrain_rows(results["retrained"]),
        "",
    ]) + "\n"


if __name__ == "__main__":
    main()
