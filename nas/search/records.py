"""What a search leaves behind: trial records from the Optuna study, the Pareto front, the hypervolume,
and the files of a run directory (CSV, JSON, Pareto specs, plot). `nas report` redraws them from the study.
"""
from __future__ import annotations

import csv
import json
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, Iterable

import optuna

from search_spaces.network import stage_shapes
from search_spaces.spec import from_json

# trial user attributes written by the search (the study is the record; these are its keys)
SPEC, DIGEST, MACS, PARAMS, STATUS, FAILURE, DUPLICATE_OF, NAMED = (
    "spec", "digest", "macs", "params", "status", "failure", "duplicate_of", "named")


@dataclass(frozen=True)
class TrialRecord:
    """One trial as a row: its state, cost, accuracy and why it has none."""

    number: int
    status: str  # trained, over_budget, duplicate, failed, invalid, running
    accuracy: float | None
    macs: int | None  # multiply-adds of the deployed network
    params: int | None
    digest: str | None
    named: str | None  # the backbone it was seeded from, if any
    failure: str | None
    seconds: float | None
    latency_ms: float | None  # measured batch-1 latency, when the search measured it
    spec: str | None  # spec JSON

    def row(self) -> dict[str, Any]:
        """The CSV row (no spec JSON)."""
        return {k: v for k, v in asdict(self).items() if k != "spec"}


def record(trial: optuna.trial.FrozenTrial) -> TrialRecord:
    """A study trial as a TrialRecord."""
    attrs = trial.user_attrs
    status = attrs.get(STATUS) or {"RUNNING": "running", "WAITING": "waiting"}.get(trial.state.name, "failed")
    accuracy = trial.values[0] if trial.values and status in ("trained", "duplicate") else None
    seconds = trial.duration.total_seconds() if trial.duration else None
    return TrialRecord(trial.number, status, accuracy, attrs.get(MACS), attrs.get(PARAMS), attrs.get(DIGEST),
                       attrs.get(NAMED), attrs.get(FAILURE), seconds, attrs.get("latency_ms"), attrs.get(SPEC))


def records(study: optuna.Study) -> list[TrialRecord]:
    """Every trial of the study, in order."""
    return [record(t) for t in study.get_trials(deepcopy=False)]


def pareto_front(rows: Iterable[TrialRecord], key: str = "macs") -> list[TrialRecord]:
    """Trained trials that no other trained trial beats on both accuracy (higher) and `key` (lower);
    one per spec digest; sorted by accuracy, best first."""
    trained = {}
    for r in rows:
        if r.status == "trained" and r.accuracy is not None and getattr(r, key) is not None:
            trained.setdefault(r.digest, r)
    front = [
        r for r in trained.values()
        if not any(o.accuracy >= r.accuracy and getattr(o, key) <= getattr(r, key)
                   and (o.accuracy > r.accuracy or getattr(o, key) < getattr(r, key)) for o in trained.values())
    ]
    return sorted(front, key=lambda r: (-r.accuracy, getattr(r, key)))


def hypervolume(front: list[TrialRecord], budget: int, key: str = "macs") -> float:
    """Area dominated by the front in (cost / budget, accuracy) space, against (1, 0): 0 to 1, higher is better."""
    points = sorted((getattr(r, key) / budget, r.accuracy) for r in front if getattr(r, key) <= budget)
    area = 0.0
    for (cost, accuracy), (next_cost, _) in zip(points, points[1:] + [(1.0, 0.0)]):
        area += (next_cost - cost) * accuracy
    return area


def describe(spec_json: str | None) -> str:
    """A one-line description of a spec: its resolution, then each stage as blocks x output width (the
    width from the cost walk, so inception modules and dense blocks have one too) and its cells where they
    are not all mbconv."""
    if not spec_json:
        return ""
    spec = from_json(spec_json)
    stages = []
    for stage, shape in zip(spec.stages, stage_shapes(spec)):
        depth = sum(b.repeats for b in stage.blocks)
        cells = sorted({b.cell for b in stage.blocks})
        stages.append(f"{depth}x{shape.c}" + ("" if cells == ["mbconv"] else f" {'/'.join(cells)}"))
    return f"{spec.resolution}px " + " ".join(stages)


def write_run(run_dir: Path, study: optuna.Study, budget: int, key: str = "macs",
              summary: dict[str, Any] | None = None) -> dict[str, Any]:
    """Write trials.csv, trials.json, pareto.json, pareto.png and summary.json; return the summary."""
    rows = records(study)
    front = pareto_front(rows, key)
    run_dir.mkdir(parents=True, exist_ok=True)
    with open(run_dir / "trials.csv", "w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=list(rows[0].row()) if rows else ["number"])
        writer.writeheader()
        writer.writerows(r.row() for r in rows)
    (run_dir / "trials.json").write_text(json.dumps([asdict(r) for r in rows], indent=1))
    (run_dir / "pareto.json").write_text(json.dumps(
        [asdict(r) | {"rank": i, "spec": json.loads(r.spec)} for i, r in enumerate(front, 1)], indent=1))
    counts: dict[str, int] = {}
    for r in rows:
        counts[r.status] = counts.get(r.status, 0) + 1
    result = dict(summary or {}) | {
        "trials": len(rows), "by_status": counts, "pareto_size": len(front),
        "hypervolume": hypervolume(front, budget, key) if key == "macs" else None, "budget": budget, "objective": key,
        "best_accuracy": max((r.accuracy for r in front), default=None),
    }
    (run_dir / "summary.json").write_text(json.dumps(result, indent=1))
    plot(run_dir / "pareto.png", rows, front, budget, key)
    return result


def plot(path: Path, rows: list[TrialRecord], front: list[TrialRecord], budget: int, key: str = "macs") -> None:
    """Accuracy against cost: every trained trial grey, the front highlighted, named backbones marked."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    scale, unit = {"macs": (1e6, "M multiply-adds"), "params": (1e6, "M parameters"), "latency_ms": (1.0, "ms")}[key]
    trained = [r for r in rows if r.status == "trained" and r.accuracy is not None]
    fig, ax = plt.subplots(figsize=(6.4, 4.4), dpi=120)
    ax.scatter([getattr(r, key) / scale for r in trained], [r.accuracy for r in trained], c="0.7", s=18, label="trials")
    ordered = sorted(front, key=lambda r: getattr(r, key))
    ax.step([getattr(r, key) / scale for r in ordered], [r.accuracy for r in ordered], where="post", c="C3")
    ax.scatter([getattr(r, key) / scale for r in ordered], [r.accuracy for r in ordered], c="C3", s=30,
               label="Pareto front", zorder=3)
    for r in trained:
        if r.named:
            ax.annotate(r.named, (getattr(r, key) / scale, r.accuracy), fontsize=7, xytext=(4, -10),
                        textcoords="offset points")
            ax.scatter([getattr(r, key) / scale], [r.accuracy], marker="*", c="C0", s=80, zorder=4)
    if key == "macs":
        ax.axvline(budget / scale, ls="--", c="0.4", lw=1, label="budget")
    ax.set_xlabel({"macs": "FLOPs", "params": "params", "latency_ms": "latency"}[key] + f" ({unit})")
    ax.set_ylabel("proxy accuracy")
    ax.legend(loc="lower right", fontsize=8)
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)
