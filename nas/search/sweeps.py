"""Compound-scaling runs: phi sweeps and the coefficient grid search, through the search's trial machinery.

Each is a study (SQLite in its run directory, resumable) over a `scaling.spaces` space, trained by Ray Tune
exactly like `nas search` trials. Without training, a sweep only counts (instant).
"""
from __future__ import annotations

import csv
import dataclasses
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable

from nas.files import writable_directory
from nas.search.config import SearchConfig, SearchError
from nas.search.records import STATUS, TrialStatus
from nas.search.run import search
from nas.search.searcher import Progress
from nas.search.study import load_run
from scaling.compound import CompoundScaling, feasible_grid, scale
from scaling.spaces import CoefficientSpace, PhiSpace, triple
from search_spaces.counting import count
from search_spaces.spec import NetSpec


@dataclass(frozen=True)
class SweepRow:
    """One scaled network: its multipliers, cost and (when trained) proxy accuracy."""

    phi: float | None
    coefficients: str  # alpha/beta/gamma
    width: float
    depth: float
    resolution: int
    macs: int
    params: int
    accuracy: float | None = None
    status: str = "counted"
    digest: str | None = None
    spec: str | None = None  # the scaled network's spec JSON: in sweep.json, not in sweep.csv


def _row(base: NetSpec, phi: float, scaling: CompoundScaling) -> SweepRow:
    depth, width, _ = scaling.coefficients(phi)
    spec = scale(base, phi, scaling)
    cost = count(spec)
    return SweepRow(phi, triple(scaling), round(width, 4), round(depth, 4), spec.resolution, cost.macs, cost.params,
                    digest=spec.digest(), spec=spec.to_json(indent=None))


RECORD = ("sweep.json", "sweep.csv", "study.db")  # what a sweep leaves in its run directory (the study if trained)


def check_sweep_dir(run_dir: str | Path, resume: bool) -> bool:
    """Before anything is computed: a run directory that holds a sweep is refused without `resume` (a sweep
    never overwrites another silently); True when it holds a study a trained sweep can resume."""
    found = [name for name in RECORD if (Path(run_dir) / name).is_file()]
    if found and not resume:
        raise SearchError(f"{run_dir} already holds a sweep ({', '.join(found)}); pass --resume to redo it there "
                          "(a trained sweep continues its study), or give another --run-dir")
    return "study.db" in found


def _accuracies(run_dir: Path, key: str) -> dict[Any, tuple[float | None, str]]:
    """Trial parameter value -> (accuracy, status) from a run's study (duplicates take their original's)."""
    study, _ = load_run(run_dir)
    found: dict[Any, tuple[float | None, str]] = {}
    for t in study.get_trials(deepcopy=False):
        status = t.user_attrs.get(STATUS, TrialStatus.FAILED.value)
        value = t.params.get(key)
        accuracy = t.values[0] if t.values and status in (TrialStatus.TRAINED, TrialStatus.DUPLICATE) else None
        if value is not None and (value not in found or found[value][0] is None):
            found[value] = (accuracy, status)
    return found


UNBOUNDED = 10**15  # a sweep trains every network of its list: no FLOPs budget applies


def _training_config(config: SearchConfig, trials: int) -> SearchConfig:
    """The sweep's study settings: every listed network trained once, in order, without early stopping. The
    budget is fixed (not the sweep's largest network), so a resumed sweep may add phi values."""
    return dataclasses.replace(config, budget=UNBOUNDED, trials=trials, strategy="random", seed_backbones=False,
                               scheduler="fifo")


def phi_sweep(base: NetSpec, phis: list[float], scaling: CompoundScaling = CompoundScaling(), train: bool = False,
              config: SearchConfig | None = None, progress: Callable[[Progress], None] | None = None) -> list[SweepRow]:
    """The base network at each phi: counted, and proxy-trained when `train` (one trial per phi)."""
    if not phis:
        raise SearchError("a phi sweep needs at least one phi, e.g. --phi 0 1 2")
    rows = [_row(base, phi, scaling) for phi in phis]
    if train:
        config = _training_config(config or SearchConfig(), len(rows))
        search(config, progress, space=PhiSpace(base, tuple(phis), scaling), enqueue=[{"phi": p} for p in phis])
        found = _accuracies(Path(config.run_dir), "phi")
        rows = [dataclasses.replace(r, accuracy=found.get(r.phi, (None, "missing"))[0],
                                    status=found.get(r.phi, (None, "missing"))[1]) for r in rows]
    return rows


def search_coefficients(base: NetSpec, config: SearchConfig | None = None, trials: int | None = None,
                        tolerance: float = 0.1, progress: Callable[[Progress], None] | None = None
                        ) -> tuple[CompoundScaling, list[SweepRow]]:
    """Grid search of (alpha, beta, gamma) at phi = 1 under |alpha beta^2 gamma^2 - 2| <= tolerance: each
    candidate proxy-trained; returns the most accurate triple and every row."""
    if trials is not None and trials < 1:
        raise SearchError(f"trials must be at least 1, got {trials}")
    grid = feasible_grid(tolerance=tolerance)
    chosen = grid if trials is None or trials >= len(grid) else _spread(grid, trials)
    rows = [_row(base, 1.0, g) for g in chosen]
    config = _training_config(config or SearchConfig(), len(chosen))
    search(config, progress, space=CoefficientSpace(base, chosen), enqueue=[{"coefficients": r.coefficients} for r in rows])
    found = _accuracies(Path(config.run_dir), "coefficients")
    rows = [dataclasses.replace(r, accuracy=found.get(r.coefficients, (None, "missing"))[0],
                                status=found.get(r.coefficients, (None, "missing"))[1]) for r in rows]
    trained = [r for r in rows if r.accuracy is not None]
    if not trained:
        raise SearchError("no coefficient candidate finished training; see the run's trials.csv")
    best = max(trained, key=lambda r: (r.accuracy, -r.macs))
    return next(g for g in chosen if triple(g) == best.coefficients), rows


def _spread(grid: list[CompoundScaling], n: int) -> list[CompoundScaling]:
    """n triples spread evenly over the grid (always including EfficientNet's when present)."""
    picks = [grid[round(i * (len(grid) - 1) / max(n - 1, 1))] for i in range(n)]
    default = CompoundScaling()
    if default in grid and default not in picks:
        picks[-1] = default
    return list(dict.fromkeys(picks))


def write_sweep(run_dir: str | Path, rows: list[SweepRow], title: str) -> list[Path]:
    """sweep.csv, sweep.json (each row with its network's spec, for `nas count`, `nas train`, export) and (when
    any row is trained) sweep.png of accuracy against FLOPs."""
    out = writable_directory(run_dir)
    with open(out / "sweep.csv", "w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=[k for k in dataclasses.asdict(rows[0]) if k != "spec"])
        writer.writeheader()
        writer.writerows({k: v for k, v in dataclasses.asdict(r).items() if k != "spec"} for r in rows)
    (out / "sweep.json").write_text(json.dumps([dataclasses.asdict(r) | {"spec": r.spec and json.loads(r.spec)}
                                                for r in rows], indent=1))
    written = [out / "sweep.csv", out / "sweep.json"]
    trained = [r for r in rows if r.accuracy is not None]
    if trained:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt

        fig, ax = plt.subplots(figsize=(6, 4), dpi=120)
        ax.plot([r.macs / 1e9 for r in trained], [r.accuracy for r in trained], "o-")
        for r in trained:
            ax.annotate(f"phi={r.phi:g}" if r.phi is not None else r.coefficients, (r.macs / 1e9, r.accuracy),
                        fontsize=7, xytext=(4, 4), textcoords="offset points")
        ax.set_xscale("log")
        ax.set_xlabel("FLOPs (G multiply-adds)")
        ax.set_ylabel("proxy accuracy")
        ax.set_title(title, fontsize=9)
        fig.tight_layout()
        fig.savefig(out / "sweep.png")
        plt.close(fig)
        written.append(out / "sweep.png")
    return written
