"""What a search leaves in its run directory: trials.csv, trials.json (with each trial's learning curve),
pareto.json, pareto.png, curves.png (when a trial has a learning curve) and summary.json, written from the
study; `report(RUN)` writes them again (`nas report`)."""
from __future__ import annotations

import csv
import json
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import optuna

from nas.search import plots
from nas.search.records import (
    OBJECTIVES,
    TrialRecord,
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
    """Write trials.csv, trials.json, pareto.json, pareto.png, curves.png and summary.json; return the summary."""
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
    title = plots.run_title(result)
    plots.pareto(run_dir / "pareto.png", rows, front, budget, key, title)
    plots.curves(run_dir / "curves.png", rows, front, title)
    return result


def report(run_dir: str | Path, storage: str | None = None) -> SearchResult:
    """Rewrite a run's files (CSV, JSON, plot, summary) from its study and return its front."""
    study, info = load_run(run_dir, storage)
    key = OBJECTIVES[info["objective"]]
    previous = Path(run_dir) / "summary.json"
    extra = {"space": info.get("space")} | (json.loads(previous.read_text()) if previous.is_file() else {})
    summary = write_run(Path(run_dir), study, info["budget"], key, extra)
    return SearchResult(Path(run_dir), pareto_front(records(study), key), summary)
