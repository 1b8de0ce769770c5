"""Per-trial overhead of a search: wall time per trial beyond its training, one trial at a time.

Claim (issue item 8): a search spends under 100 ms per trial beyond the trial's own training (Ray's start
excluded), once Ray Tune reuses its worker between trials.

Method: a search (`nas.search.run.search`) of `--trials` candidates of a tiny space of 3x3-conv networks on
synthetic data (36 training images, batch 32: one step per training run, one epoch), FIFO, one trial at a
time (`max_concurrent=1`), no backbones seeded. The trial function is wrapped (in the worker) to log, per trial,
its process id (one id for all: the worker was reused), its wall time inside the worker, and the time spent in
`evaluate` and in `fit` (the training run: the model built, one step, validation and test). The driver
timestamps each recorded trial (the progress callback, after the study was told). Per trial:

- period: time between consecutive recorded trials (the first is left out: it includes the worker's start);
- overhead: period minus the trial's `fit` time (what the search adds to a training run);
- split into: in the worker outside `fit` (spec parsing, counting, placement, building the network, reports)
  and outside the worker (Ray Tune's scheduling, the searcher's study queries, SQLite writes).

Run: .venv/bin/python experiments/bench_trials.py --trials 20  (writes experiments/bench_trials.md)
"""
from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import optuna  # noqa: E402
import torch  # noqa: E402

from experiments.common import cpu_name  # noqa: E402
from nas.search import run as search_run  # noqa: E402
from nas.search import trial as trial_module  # noqa: E402
from nas.search.searcher import StudySearcher  # noqa: E402
from nas.training.data import DataSource  # noqa: E402
from nas.training.train import TrainConfig  # noqa: E402
from search_spaces.cells.conv import ConvArgs  # noqa: E402
from search_spaces.cells.head import ClassifierArgs  # noqa: E402
from search_spaces.spaces.base import Space  # noqa: E402
from search_spaces.spec import Block, NetSpec, Stage  # noqa: E402

HERE = Path(__file__).resolve().parent
NOTES = """## What the overhead was, and what was cut

Measured with this script on the same host (12 trials each, medians; the host was shared and loaded
throughout, its load average 3 to 10 on 2 cores, so each figure is within a factor of about 1.5):

| version | overhead per trial | what changed |
| --- | ---: | --- |
| before | 849 ms | (the issue measured about 1 s) |
| `release_memory` freezes what survives | 385 ms | the full `gc.collect()` after every trial walked the ~300,000 objects torch, Ray and Optuna hold: 350 to 700 ms |
| SQLite with WAL, `synchronous=NORMAL` | 122 to 157 ms | about a dozen commits per trial, 15 to 35 ms each with the rollback journal (fsyncs) |
| one read of the study per proposal | 104 ms (20 trials) | 5 full reads of the study per trial became 3 |

Ray Tune reuses the worker: one process id for every trial (`reuse_actors=True` with a function trainable,
the same resources for every trial). What remains is the searcher's bookkeeping in the study (the table
above: 11 attribute writes, each its own transaction, 3 reads of every trial, `ask` and `tell`: 60 to 100 ms
on this loaded host) and Ray Tune's own round trips (two results per trial, the actor reset: 20 to 40 ms).
One transaction for a trial's attributes would cut about 20 ms more; Optuna has no public call for it.
"""
LOG_ENV = "NAS_BENCH_TRIALS_LOG"


class Tiny(Space):
    """Two stages of 3x3 convs, widths 8..64: many distinct networks, each trained in milliseconds."""

    name = "tiny"

    def suggest(self, trial):
        stages = tuple(Stage((Block("conv", ConvArgs(trial.suggest_int(f"s{s}.width", 8, 64, step=4), 3, 2)),))
                       for s in (1, 2))
        return NetSpec(stem=(), stages=stages, head=(Block("classifier", ClassifierArgs()),), resolution=16,
                       num_classes=4)

    def encode(self, spec):
        return {f"s{s}.width": stage.blocks[0].args.out_channels for s, stage in enumerate(spec.stages, 1)}


def timed_trial(config, data=None, cells=()):
    """The search's trial function, timed in the worker (the log file's path comes with the environment)."""
    import nas.search.trial as module
    import nas.training.evaluate as evaluation

    if not hasattr(evaluation, "_bench_fit"):  # wrap `fit` once per worker process
        evaluation._bench_fit = evaluation.fit

        def fit(*args, **kwargs):
            start = time.perf_counter()
            try:
                return evaluation._bench_fit(*args, **kwargs)
            finally:
                evaluation._bench_seconds = time.perf_counter() - start

        evaluation.fit = fit
    start = time.perf_counter()
    getattr(module, "_original", module.trial_fn)(config, data, cells)
    wall = time.perf_counter() - start
    with open(os.environ[LOG_ENV], "a") as log:
        log.write(json.dumps({"number": config["number"], "pid": os.getpid(), "wall": wall,
                              "fit": getattr(evaluation, "_bench_seconds", 0.0), "end": time.time()}) + "\n")


TIMED = {  # (class, method) in the driver: the searcher's calls from Ray Tune, and the study operations in them
    "searcher.suggest": (StudySearcher, "suggest"),
    "searcher.on_trial_complete": (StudySearcher, "on_trial_complete"),
    "study.ask": (optuna.Study, "ask"),
    "study.tell": (optuna.Study, "tell"),
    "study.get_trials": (optuna.Study, "get_trials"),
    "trial.set_user_attr": (optuna.trial.Trial, "set_user_attr"),
}


def time_driver() -> dict[str, list[float]]:
    """Wrap TIMED to time every call: {name: [seconds per call]} (nested calls count in each wrapper)."""
    spent: dict[str, list[float]] = {name: [] for name in TIMED}
    for name, (cls, method) in TIMED.items():
        original = getattr(cls, method)

        def timed(self, *args, _original=original, _times=spent[name], **kwargs):
            start = time.perf_counter()
            try:
                return _original(self, *args, **kwargs)
            finally:
                _times.append(time.perf_counter() - start)

        setattr(cls, method, timed)
    return spent


def run(trials: int, run_dir: Path) -> tuple[list[dict], list[float], float, dict[str, list[float]]]:
    """Worker rows, driver timestamps of recorded trials, the search's wall time and the searcher's calls."""
    log = run_dir / "trials.jsonl"
    driver = time_driver()
    os.environ[LOG_ENV] = str(log)  # a local Ray's workers inherit the driver's environment
    trial_module._original = trial_module.trial_fn
    trial_module.trial_fn = timed_trial
    stamps: list[float] = []
    start = time.perf_counter()
    search_run.search(space=Tiny(), budget="1G", trials=trials, strategy="random", scheduler="fifo",
                      max_concurrent=1, seed_backbones=False, run_dir=str(run_dir / "run"),
                      data=DataSource("synthetic", resolution=16, channels=3, num_classes=4, size=40),
                      train=TrainConfig(epochs=1, batch_size=32, threads=1, device="cpu"), reference_resolution=None,
                      progress=lambda p: stamps.append(time.perf_counter()))
    total = time.perf_counter() - start
    rows = sorted((json.loads(line) for line in log.read_text().splitlines()), key=lambda r: r["number"])
    return rows, stamps, total, driver


def report(rows: list[dict], stamps: list[float], total: float, driver: dict[str, list[float]],
           args: argparse.Namespace) -> str:
    periods = [b - a for a, b in zip(stamps, stamps[1:])]
    fits = [r["fit"] for r in rows[1:len(periods) + 1]]
    overhead = [p - f for p, f in zip(periods, fits)]
    inside = [r["wall"] - r["fit"] for r in rows[1:]]
    outside = [o - i for o, i in zip(overhead, inside)]
    ms = lambda v: f"{statistics.median(v) * 1000:.0f}"  # noqa: E731
    lines = [
        "# Per-trial overhead of a search",
        "",
        f"Command: `.venv/bin/python experiments/bench_trials.py --trials {args.trials}`",
        "",
        f"Machine: {cpu_name()} ({os.cpu_count()} cores); torch {torch.__version__}, "
        f"Ray {__import__('ray').__version__}, Optuna {optuna.__version__}.",
        f"Setup: {args.trials} trials of a tiny conv space on synthetic 3x16x16 data, one training step each, "
        "one trial at a time, FIFO, SQLite study.",
        "",
        f"Search wall time {total:.1f} s for {len(rows)} trials; worker processes used: "
        f"{len({r['pid'] for r in rows})} (1: the worker was reused by every trial).",
        "",
        "| per trial (median over trials 2..N) | ms |",
        "| --- | ---: |",
        f"| period between recorded trials | {ms(periods)} |",
        f"| training run (`fit`) | {ms(fits)} |",
        f"| **overhead** (period - fit) | **{ms(overhead)}** |",
        f"| of which in the worker, outside `fit` | {ms(inside)} |",
        f"| of which outside the worker (Ray Tune and the searcher) | {ms(outside)} |",
        "",
        "In the driver, per trial (mean over all trials: total time / trials; calls per trial):",
        "",
        "| call | ms per trial | calls per trial |",
        "| --- | ---: | ---: |",
        *(f"| `{name}` | {sum(times) / len(rows) * 1000:.1f} | {len(times) / len(rows):.1f} |"
          for name, times in driver.items()),
        "",
        "Overhead per trial (ms): " + ", ".join(f"{o * 1000:.0f}" for o in overhead) + ".",
        "",
        NOTES,
    ]
    return "\n".join(lines) + "\n"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--trials", type=int, default=20)
    parser.add_argument("--output", default=str(HERE / "bench_trials.md"))
    args = parser.parse_args()
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    with tempfile.TemporaryDirectory() as tmp:
        text = report(*run(args.trials, Path(tmp)), args)
    Path(args.output).write_text(text)
    sys.stdout.write(text)


if __name__ == "__main__":
    main()
