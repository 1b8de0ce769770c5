"""One-shot search against stand-alone training: ranking, the extremes and the cost, in one run.

Claims tested (issue "One-shot search", item 6): a supernet of `elastic_mbv3` trained once on the default
data ranks its sub-networks like stand-alone proxy training does (Kendall tau >= 0.5 with BN recalibration,
or within 0.1 of the noise ceiling: the tau between two training seeds of the stand-alone proxy), both
without and with recalibration; the smallest and the largest inherited against stand-alone; supernet
training plus a search over 1,000 candidates costs less than a quarter of training 30 of them stand-alone;
a search for a new budget on the trained supernet takes minutes on the CPU; and the best sub-network found
under 300M, retrained stand-alone, is at least as accurate under the proxy as the best network a
multi-trial search finds with the same total compute.

Steps, all in this process on one torch thread (CPU seconds are this process's; wall seconds depend on the
machine's other load), for each data setting (the default data, and a harder one: the same MNIST subset with
1,000 training images):
1. train the supernet (`train_supernet`, the proxy recipe `nas.training.train.PROXY` read at run time, with
   `--supernet-epochs` epochs);
2. pick `--subnets` sub-networks spread across the FLOPs range (the smallest, the largest, and the sampled
   point nearest each of evenly spaced FLOPs between them);
3. score each on the supernet: BN statistics as trained, recalibrated on 1,000 and on 250 training images
   (validation accuracy, what a search ranks on);
4. train each stand-alone with the proxy at training seeds 0 and 1 (`evaluate`, at the side a search's
   trial uses), validation and test accuracy;
5. Kendall tau (scipy) of each supernet accuracy with the stand-alone ones, and between the two seeds.
Then, on the default data only: `nas search --supernet` at 300M over `--candidates` candidates in this process
(evolution, population 50, tournament 10) with `--retrain 3`; the same supernet at 150M through Ray tasks
(wall time); and a multi-trial search (`nas search`, its defaults: evolution, ASHA, two trials at a time) of
as many training runs as the one-shot path's CPU seconds buy at the mean stand-alone cost under 300M.
Last, the predictor steps: the 300M and 150M searches again with `--predictor` (`--predictor` scores,
the rest predicted) on the same weights scored with 250 calibration images; the 300M search's best three
retrained at seeds 0 and 1, the one best at seed 0 and the multi-trial best at seed 2; and the ranking of
the sub-networks by the search's predictor and by predictors fitted on `--draws` other draws of as many
scores of the first search.

Results are cached per step in WORK/cache.jsonl, so an interrupted run continues where it stopped (the
supernet resumes from its checkpoint); the timings kept are those of the run that measured them.
Run: .venv/bin/python experiments/oneshot.py --work DIR [--quick]   (writes experiments/oneshot.md and .json
unless --quick; about five hours on the loaded 2-core development machine)
"""
from __future__ import annotations

import argparse
import dataclasses
import json
import os
import platform
import resource
import sys
import time
from pathlib import Path
from typing import Any, Callable

import torch
from scipy.stats import kendalltau

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from experiments.bench_train import cpu_name  # noqa: E402
from nas.search.records import records  # noqa: E402
from nas.search.run import search  # noqa: E402
from nas.search.study import load_run  # noqa: E402
from nas.search.trial import proxy_side  # noqa: E402
from nas.training import train as train_module  # noqa: E402
from nas.training.data import DataSource, load  # noqa: E402
from nas.training.evaluate import evaluate  # noqa: E402
from nas.training.oneshot import calibration_images, score  # noqa: E402
from nas.training.supernet import SupernetJob, load_supernet, train_supernet  # noqa: E402
from search_spaces import spaces  # noqa: E402
from search_spaces.counting import count  # noqa: E402
from search_spaces.spec import from_json  # noqa: E402

HERE = Path(__file__).resolve().parent
SPACE = "elastic_mbv3"
BUDGET, SECOND_BUDGET = 300_000_000, 150_000_000
# 5,000 images: holdout 0.72 leaves 1,400 for training and validation, of which 0.286 (400) validate
SETTINGS = {"default": DataSource(), "harder": DataSource(holdout=0.72, validation=0.286)}
QUICK = {"quick": DataSource(holdout=0.9, validation=0.2)}  # 400 training and 100 validation images


class Cache:
    """Results by key in a JSON-lines file: a step done is not done again."""

    def __init__(self, path: Path):
        self.path, self.values = path, {}
        if path.exists():
            for line in path.read_text().splitlines():
                entry = json.loads(line)
                self.values[entry["key"]] = entry["value"]

    def get(self, key: str, make: Callable[[], Any]) -> Any:
        if key not in self.values:
            value = make()
            self.values[key] = value
            with open(self.path, "a") as f:
                f.write(json.dumps({"key": key, "value": value}) + "\n")
            print(f"{key}: {json.dumps(value)[:200]}", file=sys.stderr, flush=True)
        return self.values[key]


def timed(fn: Callable[[], Any]) -> tuple[Any, float, float]:
    """fn's result, this process's CPU seconds (Ray's workers not included) and wall seconds."""
    cpu, wall = time.process_time(), time.perf_counter()
    out = fn()
    return out, time.process_time() - cpu, time.perf_counter() - wall


def pick(n: int, seed: int = 0, pool: int = 3000) -> list[Any]:
    """The smallest and largest points and n - 2 sampled points nearest evenly spaced FLOPs between them."""
    space = spaces.get(SPACE)
    low, high = space.smallest(), space.largest()
    drawn = {s.digest(): s for s in (space.sample(seed * 100_000 + i) for i in range(pool))}
    drawn.pop(low.digest(), None)
    drawn.pop(high.digest(), None)
    lo, hi = count(low).macs, count(high).macs
    chosen = [low]
    for k in range(1, n - 1):
        target = lo + (hi - lo) * k / (n - 1)
        best = min(drawn.values(), key=lambda s: abs(count(s).macs - target))
        chosen.append(drawn.pop(best.digest()))
    return chosen + [high]


def standalone(spec: Any, data: Any, proxy: Any, seed: int) -> dict[str, Any]:
    """Proxy training as a search's trial does it (at its proxy side), timed."""
    side = proxy_side(data.resolution, spec.resolution, 224)
    metrics, cpu, wall = timed(lambda: evaluate(spec, dataclasses.replace(proxy, seed=seed), data.resized(side)))
    return {"val": metrics.accuracy, "test": metrics.test_accuracy, "failure": metrics.failure, "cpu": cpu,
            "wall": wall}


def supernet_scores(trained: Any, spec: Any, data: Any) -> dict[str, Any]:
    """Validation accuracy on the supernet as trained, and recalibrated on 1,000 and 250 images, timed."""
    out = {}
    for name, recal, n in (("as_trained", False, None), ("recal_1000", True, 1000), ("recal_250", True, 250)):
        sample = calibration_images(data, n) if n else None
        acc, cpu, wall = timed(lambda: score(trained.supernet, spec, data, recal, sample))
        out[name], out[f"{name}_cpu"] = acc, cpu
    out["test"] = score(trained.supernet, spec, data, True, calibration_images(data, 1000), split="test")
    return out


def ranking(name: str, source: DataSource, args: argparse.Namespace, cache: Cache, work: Path) -> dict[str, Any]:
    """Steps 1-5 for one data setting."""
    proxy = dataclasses.replace(train_module.PROXY, device="cpu", threads=1)
    epochs = args.supernet_epochs
    job = SupernetJob(space=SPACE, run_dir=str(work / f"supernet_{name}"), data=source,
                      train=dataclasses.replace(proxy, epochs=epochs))

    def train() -> dict[str, Any]:
        trained, cpu, wall = timed(lambda: train_supernet(job, resume=(work / f"supernet_{name}").exists()))
        return {"cpu": cpu, "wall": wall, "history": trained.history}
    supernet = cache.get(f"{name}/supernet", train)
    trained, data = load_supernet(job.run_dir), load(source)
    rows = []
    for i, spec in enumerate(pick(args.subnets)):
        row = {"id": i, "digest": spec.digest(), "macs": count(spec).macs, "resolution": spec.resolution,
               **cache.get(f"{name}/scores/{spec.digest()}", lambda: supernet_scores(trained, spec, data))}
        for seed in (0, 1):
            row[f"alone_{seed}"] = cache.get(f"{name}/alone/{seed}/{spec.digest()}",
                                             lambda: standalone(spec, data, proxy, seed))
        rows.append(row)
    return {"setting": name, "data": dataclasses.asdict(source), "images": {
        "train": len(data.train_y), "val": len(data.val_y), "test": len(data.test_y)}, "proxy": dataclasses.asdict(
        proxy), "supernet_epochs": epochs, "supernet": supernet, "rows": rows, "taus": taus(rows)}


def taus(rows: list[dict]) -> dict[str, list[float]]:
    """Kendall (tau, p) of each supernet accuracy and of FLOPs with each stand-alone accuracy, and seed 0 with
    seed 1 (the noise ceiling)."""
    done = [r for r in rows if r["alone_0"]["val"] is not None and r["alone_1"]["val"] is not None]
    seeds = {s: [r[f"alone_{s}"]["val"] for r in done] for s in (0, 1)}
    mean = [(a + b) / 2 for a, b in zip(seeds[0], seeds[1])]
    out = {"seed 0 vs seed 1 (noise ceiling)": list(kendalltau(seeds[0], seeds[1]))}
    for name in ("as_trained", "recal_1000", "recal_250", "macs"):
        values = [r[name] for r in done]
        for label, target in (("seed 0", seeds[0]), ("seed 1", seeds[1]), ("mean of seeds", mean)):
            out[f"{name} vs {label}"] = list(kendalltau(values, target))
    return {k: [float(v) for v in tau] for k, tau in out.items()}


def run_search(cache: Cache, key: str, **settings: Any) -> dict[str, Any]:
    """A search (the tool's path) timed, with its summary, front and study rows."""
    def go() -> dict[str, Any]:
        children = resource.getrusage(resource.RUSAGE_CHILDREN)
        result, cpu, wall = timed(lambda: search(**settings))
        after = resource.getrusage(resource.RUSAGE_CHILDREN)
        rows = records(load_run(result.run_dir)[0])
        trained = [r for r in rows if r.status == "trained"]
        return {"cpu": cpu, "wall": wall, "reaped_children_cpu": (after.ru_utime + after.ru_stime)
                - (children.ru_utime + children.ru_stime), "summary": {k: v for k, v in result.summary.items()
                                                                      if k not in ("train", "versions")},
                "front": [dataclasses.asdict(r) | {"spec": None} for r in result.front[:10]],
                "trained": len(trained), "trial_seconds": sum(r.seconds or 0 for r in trained),
                "best": min(((r.accuracy, r.spec, r.number, r.macs) for r in trained),
                            key=lambda b: (-b[0], b[3]), default=None)}
    return cache.get(key, go)


def searches(default: dict[str, Any], args: argparse.Namespace, cache: Cache, work: Path) -> dict[str, Any]:
    """The one-shot searches, the retraining of their best, and the multi-trial search of equal compute."""
    supernet = str(work / f"supernet_{default['setting']}")
    data, proxy = load(DataSource(**default["data"])), dataclasses.replace(train_module.PROXY, device="cpu")
    common = {"space": SPACE, "supernet": supernet, "strategy": "evolution", "population": 50, "sample_size": 10,
              "max_proposals": 20 * args.candidates}
    # the search in this process (cpus_per_trial = every core): its CPU seconds are all this process's
    found = run_search(cache, "search/300M", **common, budget=BUDGET, trials=args.candidates,
                       run_dir=str(work / "search_300M"), cpus_per_trial=os.cpu_count())
    retrain = run_search(cache, "search/300M/retrain", **common, budget=BUDGET, trials=args.candidates,
                         run_dir=str(work / "search_300M"), cpus_per_trial=os.cpu_count(), resume=True,
                         retrain=args.retrain)
    best = retrain["summary"]["retrained"][0]
    spec = from_json(found["best"][1])
    best_seed1 = cache.get("search/300M/best/seed1", lambda: standalone(spec, data, proxy, 1))
    second = run_search(cache, "search/150M", **common, budget=SECOND_BUDGET, trials=args.candidates,
                        run_dir=str(work / "search_150M"), cpus_per_trial=1)
    under = [r["alone_0"]["cpu"] for r in default["rows"] if r["macs"] <= BUDGET]
    per_run = sum(under) / len(under)
    oneshot_cpu = default["supernet"]["cpu"] + found["cpu"] + retrain["cpu"]
    runs = max(2, int(oneshot_cpu // per_run)) if not args.quick else 2
    multi = run_search(cache, "multitrial/300M", space=SPACE, budget=BUDGET, trials=runs,
                       run_dir=str(work / "multitrial_300M"), data=DataSource(**default["data"]))
    multi_spec = from_json(multi["best"][1])
    multi_seed1 = cache.get("multitrial/best/seed1", lambda: standalone(multi_spec, data, proxy, 1))
    return {"search_300M": found, "retrain": retrain, "best": best, "best_seed1": best_seed1, "search_150M": second,
            "standalone_cpu_under_budget": per_run, "oneshot_cpu": oneshot_cpu, "multitrial_runs": runs,
            "multitrial": multi, "multitrial_best_seed1": multi_seed1}


def scoring_copy(trained: Path, to: Path, images: int) -> str:
    """A copy of a supernet's run directory whose scoring recalibrates on `images` (the weights the same:
    calibration only scores), so that a search on it scores as on a supernet trained today."""
    if not to.exists():
        to.mkdir()
        (to / "checkpoint.pt").symlink_to((trained / "checkpoint.pt").resolve())
        settings = json.loads((trained / "supernet.json").read_text())
        settings["job"] |= {"calibration_images": images, "run_dir": str(to)}
        (to / "supernet.json").write_text(json.dumps(settings, indent=1))
    return str(to)


def predicted(default: dict[str, Any], multi: dict[str, Any], args: argparse.Namespace, cache: Cache,
              work: Path) -> dict[str, Any]:
    """The same searches with an accuracy predictor fitted on the first `--predictor` scores, the best three
    retrained stand-alone at two seeds, and the ranking of the sub-networks by such predictors."""
    from nas.search.predictor import Predictor, fit

    supernet = scoring_copy(work / f"supernet_{default['setting']}", work / "supernet_default_250", 250)
    data, proxy = load(DataSource(**default["data"])), dataclasses.replace(train_module.PROXY, device="cpu")
    common = {"space": SPACE, "supernet": supernet, "strategy": "evolution", "population": 50, "sample_size": 10,
              "max_proposals": 20 * args.candidates, "predictor": args.predictor, "cpus_per_trial": os.cpu_count()}
    found = run_search(cache, "predictor/300M", **common, budget=BUDGET, trials=args.candidates,
                       run_dir=str(work / "predictor_300M"))
    rows = sorted((r for r in records(load_run(str(work / "predictor_300M"))[0]) if r.status == "trained"),
                  key=lambda r: (-r.accuracy, r.macs))[:args.retrain]
    best = [{"number": r.number, "macs": r.macs, "supernet": r.accuracy, **{
        f"alone_{seed}": cache.get(f"predictor/300M/alone/{seed}/{r.digest}",
                                   lambda: standalone(from_json(r.spec), data, proxy, seed)) for seed in (0, 1)}}
        for r in rows]
    second = run_search(cache, "predictor/150M", **common, budget=SECOND_BUDGET, trials=args.candidates,
                        run_dir=str(work / "predictor_150M"))
    space = spaces.get(SPACE)
    subnets = pick(args.subnets)
    model = Predictor.from_dict(json.loads((work / "predictor_300M" / "predictor.json").read_text()))
    guesses = [model.predict(space, s) for s in subnets]
    scored = [r for r in records(load_run(str(work / "search_300M"))[0]) if r.status == "trained"]
    draws = []
    for seed in range(args.draws):  # predictors fitted on other draws of as many scores of the first search
        rng = torch.Generator().manual_seed(seed)
        chosen = [scored[i] for i in torch.randperm(len(scored), generator=rng)[:args.predictor].tolist()]
        other = fit(space, [from_json(r.spec) for r in chosen], [r.accuracy for r in chosen])
        draws.append([other.predict(space, s) for s in subnets])
    # a third training seed for the network picked among the retrained (on seed 0) and the multi-trial best
    chosen = max(best, key=lambda b: b["alone_0"]["val"])
    pick_spec = from_json(next(r.spec for r in rows if r.number == chosen["number"]))
    multi_spec = from_json(multi["best"][1])
    third = {"pick": cache.get(f"predictor/300M/alone/2/{pick_spec.digest()}",
                               lambda: standalone(pick_spec, data, proxy, 2)),
             "multitrial": cache.get("multitrial/best/seed2", lambda: standalone(multi_spec, data, proxy, 2))}
    return {"search_300M": found, "best": best, "search_150M": second, "subnet_predictions": guesses,
            "draw_predictions": draws, "seed2": third}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--work", required=True, help="where the supernets, searches and the cache go")
    parser.add_argument("--quick", action="store_true", help="a few minutes' check of the script (not recorded)")
    parser.add_argument("--subnets", type=int, default=30)
    parser.add_argument("--supernet-epochs", type=int, default=3)
    parser.add_argument("--candidates", type=int, default=1000)
    parser.add_argument("--retrain", type=int, default=3)
    parser.add_argument("--predictor", type=int, default=50, help="scores a predictor search fits on")
    parser.add_argument("--draws", type=int, default=20, help="predictors fitted on other draws of as many scores")
    args = parser.parse_args()
    if args.quick:
        args.subnets, args.supernet_epochs, args.candidates, args.retrain, args.predictor = 4, 1, 12, 1, 10
        args.draws = 2
    torch.set_num_threads(1)
    work = Path(args.work)
    work.mkdir(parents=True, exist_ok=True)
    cache = Cache(work / "cache.jsonl")
    start = time.perf_counter()
    settings = QUICK if args.quick else SETTINGS
    results = {"machine": {"cpu": cpu_name(), "cores": os.cpu_count(), "python": platform.python_version(),
                           "torch": torch.__version__}, "args": vars(args),
               "ranking": []}
    # the default setting first, then its searches, then the harder setting: an interrupted run has the
    # default data's claims (ranking, cost, search) recorded in its cache before the harder one starts
    for i, (name, source) in enumerate(settings.items()):
        results["ranking"].append(ranking(name, source, args, cache, work))
        if i == 0:
            results["search"] = searches(results["ranking"][0], args, cache, work)
            results["predictor"] = predicted(results["ranking"][0], results["search"]["multitrial"], args, cache,
                                             work)
    results["seconds"] = time.perf_counter() - start
    results["first_seconds"] = cache.get("run/first_seconds", lambda: results["seconds"])
    from experiments.oneshot_report import report

    text = report(results)
    if not args.quick:
        (HERE / "oneshot.json").write_text(json.dumps(results, indent=1) + "\n")
        (HERE / "oneshot.md").write_text(text)
    sys.stdout.write(text)


if __name__ == "__main__":
    main()
