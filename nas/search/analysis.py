"""Design-space analysis of search runs, as pycls does it (Radosavovic et al. 2019, 2020): the error EDF of
the networks a search drew, and the error of each choice of each parameter.

The EDF of a run is F(e) = the fraction of its networks whose error is below e. It describes the
distribution the search drew from, so the named backbones a search seeds itself with are left out, and a
network whose training failed counts with error 1 (it is part of what the distribution offers). Runs made
with `--strategy random --no-seed-backbones` show a space's default distribution as it is; two runs on
one plot compare two distributions at a glance.
"""
from __future__ import annotations

import statistics
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from nas.search.records import NAMED, STATUS, TrialStatus, near_chance
from nas.search.study import load_run


@dataclass(frozen=True)
class Drawn:
    """One network a search drew and trained: its parameters and its accuracy (None: its training failed)."""

    params: dict[str, Any]
    accuracy: float | None

    @property
    def error(self) -> float:
        """1 - accuracy; 1 for a failed training."""
        return 1.0 if self.accuracy is None else 1.0 - self.accuracy


@dataclass(frozen=True)
class RunAnalysis:
    """The counts and figures of one run's drawn networks."""

    name: str
    trained: int
    failed: int
    near_chance: int | None  # trained below `floor`; None when the class count is unknown
    floor: float | None  # the near-chance accuracy (`records.near_chance`)
    median: float | None  # median accuracy of the trained networks
    best: float | None
    drawn: tuple[Drawn, ...]


def drawn(run_dir: str | Path, storage: str | None = None, seeded: bool = False) -> tuple[list[Drawn], dict]:
    """The networks a run drew and trained or failed to train (the seeded backbones only when `seeded`),
    and its run.json."""
    study, info = load_run(run_dir, storage)
    out = []
    for t in study.get_trials(deepcopy=False):
        status = t.user_attrs.get(STATUS)
        if status not in (TrialStatus.TRAINED, TrialStatus.FAILED) or (t.user_attrs.get(NAMED) and not seeded):
            continue
        accuracy = t.values[0] if status == TrialStatus.TRAINED and t.values else None
        out.append(Drawn(dict(t.params), accuracy))
    return out, info


def summarize(name: str, networks: list[Drawn], num_classes: int | None) -> RunAnalysis:
    """Counts, median and best of one run's networks."""
    accuracies = [n.accuracy for n in networks if n.accuracy is not None]
    floor = near_chance(num_classes) if num_classes else None
    near = None if floor is None else sum(a < floor for a in accuracies)
    return RunAnalysis(name, len(accuracies), len(networks) - len(accuracies), near, floor,
                       statistics.median(accuracies) if accuracies else None, max(accuracies, default=None),
                       tuple(networks))


def edf(errors: list[float]) -> tuple[np.ndarray, np.ndarray]:
    """The empirical distribution function as a step curve: sorted errors and the fraction at or below each."""
    xs = np.sort(np.asarray(errors, dtype=float))
    return xs, np.arange(1, len(xs) + 1) / max(len(xs), 1)


@dataclass(frozen=True)
class Effect:
    """The mean error of each choice (or value bin) of one parameter, and their spread."""

    name: str
    labels: tuple[str, ...]
    means: tuple[float, ...]
    counts: tuple[int, ...]
    errors: tuple[tuple[float, ...], ...]  # each choice's errors, for the plot's points

    @property
    def spread(self) -> float:
        """Highest minus lowest mean error among choices drawn at least twice."""
        kept = [m for m, c in zip(self.means, self.counts) if c >= 2]
        return max(kept) - min(kept) if len(kept) >= 2 else 0.0


def _groups(values: list[Any], bins: int = 4) -> tuple[list[str], list[int]]:
    """Each value's group label and index: the value itself for few distinct values, else a quantile bin."""
    distinct = sorted(set(values), key=lambda v: (str(type(v)), v))
    numeric = all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in distinct)
    if not numeric or len(distinct) <= 6:
        labels = [str(v) for v in distinct]
        return labels, [distinct.index(v) for v in values]
    edges = np.quantile(np.asarray(values, dtype=float), np.linspace(0, 1, bins + 1))
    index = [min(int(np.searchsorted(edges, v, side="right")) - 1, bins - 1) for v in values]
    labels = [f"{edges[i]:g}-{edges[i + 1]:g}" for i in range(bins)]
    return labels, index


def effects(networks: list[Drawn], top: int = 9) -> list[Effect]:
    """The parameters whose choices change the error most (by the spread of their mean errors), largest
    first; a parameter a network does not have (a stage it lacks) groups only the networks that have it."""
    names = sorted({k for n in networks for k in n.params})
    found = []
    for name in names:
        having = [n for n in networks if name in n.params]
        labels, index = _groups([n.params[name] for n in having])
        if len(labels) < 2:
            continue
        errors = [tuple(n.error for n, i in zip(having, index) if i == g) for g in range(len(labels))]
        means = tuple(statistics.fmean(e) if e else float("nan") for e in errors)
        found.append(Effect(name, tuple(labels), means, tuple(len(e) for e in errors), tuple(errors)))
    return sorted(found, key=lambda e: -e.spread)[:top]


def plot_edf(path: Path, runs: list[RunAnalysis]) -> None:
    """edf.png: one EDF curve per run."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(6.4, 4.4), dpi=120)
    for run in runs:
        xs, ys = edf([n.error for n in run.drawn])
        ax.step(xs, ys, where="post", label=f"{run.name} (n={len(run.drawn)}, {run.failed} failed)")
    if runs and runs[0].floor:
        ax.axvline(1 - runs[0].floor, ls=":", c="0.5", lw=1, label=f"near chance (accuracy {runs[0].floor:.0%})")
    ax.set_xlabel("error (1 - validation accuracy; a failed training counts as 1)")
    ax.set_ylabel("cumulative fraction of networks")
    ax.set_xlim(0, 1)
    ax.set_ylim(0, 1)
    ax.set_title("error EDF of the networks each search drew", fontsize=9)
    ax.legend(loc="lower right", fontsize=7)
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)


def plot_effects(path: Path, found: list[Effect], title: str) -> None:
    """params.png: the mean error of each choice of the parameters that matter most, with every network."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    cols = 3
    rows = max(1, -(-len(found) // cols))
    fig, axes = plt.subplots(rows, cols, figsize=(3.4 * cols, 2.6 * rows), dpi=110, squeeze=False)
    rng = np.random.default_rng(0)
    for ax, effect in zip(axes.flat, found):
        for i, errors in enumerate(effect.errors):
            ax.scatter(i + rng.uniform(-0.15, 0.15, len(errors)), errors, s=8, c="0.6")
        ax.plot(range(len(effect.means)), effect.means, "o-", c="C3", ms=4)
        ax.set_xticks(range(len(effect.labels)), [f"{lab}\n(n={c})" for lab, c in zip(effect.labels, effect.counts)],
                      fontsize=6)
        ax.set_title(f"{effect.name} (spread {effect.spread:.2f})", fontsize=8)
        ax.set_ylim(-0.02, 1.02)
        ax.tick_params(axis="y", labelsize=6)
    for ax in list(axes.flat)[len(found):]:
        ax.axis("off")
    fig.suptitle(title, fontsize=9)
    fig.supylabel("error", fontsize=8)
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)


def analyze(run_dirs: list[str | Path], out_dir: str | Path | None = None, storage: str | None = None,
            seeded: bool = False) -> tuple[list[RunAnalysis], list[Effect], Path]:
    """Analyse one or more search runs: writes edf.png (a curve per run) and params.png (the first run's
    parameters that matter most) to `out_dir` (default: the first run directory); returns the figures."""
    runs = []
    for run_dir in run_dirs:
        networks, info = drawn(run_dir, storage, seeded)
        runs.append(summarize(Path(run_dir).name or str(run_dir), networks, info.get("num_classes")))
    out = Path(out_dir or run_dirs[0])
    out.mkdir(parents=True, exist_ok=True)
    plot_edf(out / "edf.png", runs)
    found = effects(list(runs[0].drawn))
    plot_effects(out / "params.png", found, f"{runs[0].name}: error of each choice, parameters that matter most")
    return runs, found, out
