"""What a search leaves in its run directory: trials.csv, trials.json, pareto.json, pareto.png and
summary.json, written from the study; `report(RUN)` writes them again (`nas report`)."""
from __future__ import annotations

import csv
import json
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import optuna

from nas.search.records import (
    OBJECTIVES,
    TrialRecord,
    TrialStatus,
    hypervolume,
    pareto_front,
    records,
)
from nas.search.study import load_run


@dataclass(frozen=True)
class SearchResult:
    """What a search returns (and `nas search` prints): the front, the summary, where the files are."""

    run_dir: Path
    front: list[TrialRecord]
    summary: dict[str, Any]


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
    trained = [r for r in rows if r.status == TrialStatus.TRAINED and r.accuracy is not None]
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


def report(run_dir: str | Path, storage: str | None = None) -> SearchResult:
    """Rewrite a run's files (CSV, JSON, plot, summary) from its study and return its front."""
    study, info = load_run(run_dir, storage)
    key = OBJECTIVES[info["objective"]]
    previous = Path(run_dir) / "summary.json"
    extra = json.loads(previous.read_text()) if previous.is_file() else {}
    summary = write_run(Path(run_dir), study, info["budget"], key, extra)
    return SearchResult(Path(run_dir), pareto_front(records(study), key), summary)
