"""Learning curves: each trial's per-epoch history, gathered by the searcher from the reports its trial sends.

A trial reports every epoch to Ray Tune (`trial.trial_fn`: validation accuracy, train loss, train accuracy,
the epoch's training seconds), then a final report. The searcher (in the driver) keeps the epoch reports as
they arrive, including the one an ASHA stop leaves unseen by `on_trial_result` (Ray Tune hands it only to
`on_trial_complete`), and stores the list on the trial as the `history` user attribute; `trials.json` has
it per row and `nas report` draws it (curves.png).
"""
from __future__ import annotations

import math
from typing import Any

HISTORY = "history"  # trial user attribute: a list of EPOCH_FIELDS dicts, one per epoch, in order
# the history's fields <- the keys of a trial's per-epoch report
EPOCH_FIELDS = {"epoch": "epoch", "val_accuracy": "accuracy", "train_loss": "train_loss",
                "train_accuracy": "train_accuracy", "seconds": "epoch_seconds"}


def epoch_row(result: dict[str, Any] | None) -> dict[str, Any] | None:
    """The history row of a trial's per-epoch report; None for its final report or any other result."""
    if not result or result.get("final") or "train_loss" not in result or result.get("epoch") is None:
        return None
    row: dict[str, Any] = {"epoch": int(result["epoch"])}
    for field, key in EPOCH_FIELDS.items():
        if field != "epoch":
            value = result.get(key)
            # JSON has no NaN: a diverged epoch's loss is kept as None (the trial's failure says why)
            row[field] = None if value is None or not math.isfinite(float(value)) else float(value)
    return row


def add_epoch(history: list[dict[str, Any]], result: dict[str, Any] | None) -> None:
    """Append the report's epoch to `history` unless it is not an epoch report or that epoch is there."""
    row = epoch_row(result)
    if row is not None and all(r["epoch"] != row["epoch"] for r in history):
        history.append(row)
