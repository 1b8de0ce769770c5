"""The trial function: one candidate trained in a Ray worker (local or on a cluster), each epoch reported
(validation accuracy for the scheduler, train loss and accuracy and seconds for the learning curve), then
the final metrics. Whatever the candidate does becomes a recorded failure, never a crash of the search."""
from __future__ import annotations

from typing import Any, Sequence

from ray import tune

from nas.search.placement import place
from nas.training.device import release_memory
from nas.training.evaluate import evaluate
from nas.training.train import TrainConfig
from search_spaces.cells import Cell, register
from search_spaces.counting import count
from search_spaces.spec import from_json


def trial_fn(config: dict[str, Any], data: Any = None, cells: Sequence[Cell] = ()) -> None:
    """One trial in a Ray worker: train the spec, report each epoch, then the final metrics.

    `data` is the dataset loaded once by the driver and shared through Ray's object store (None: load it
    here from the config's DataSource); `cells` are the cells a user registered in the driver, registered
    here too (a worker is another process). Any exception of the candidate (out of memory included) becomes
    a recorded failure, not a crash. The device follows the GPUs Ray granted (`placement.place`); every
    report carries it, and the latency, measured before training."""
    for cell in cells:
        register(cell)
    spec = from_json(config["spec"])
    train = TrainConfig(**config["train"])
    cost = count(spec)
    base = {"macs": cost.macs, "params": cost.params, "final": False, "failure": ""}

    # each epoch: what ASHA reads, the learning curve (`curves.HISTORY`) and the test accuracy at that epoch
    # (ASHA ends a trial at an epoch report, before its final one: the test accuracy must travel with it)
    def report(epoch: Any) -> None:
        tune.report(base | {"accuracy": epoch.val_accuracy, "epoch": epoch.epoch, "train_loss": epoch.train_loss,
                            "train_accuracy": epoch.train_accuracy, "epoch_seconds": epoch.seconds,
                            "test_accuracy": -1.0 if epoch.test_accuracy is None else epoch.test_accuracy})

    try:
        train, data, measured = place(train, config, spec, data)
        base |= measured  # in every report: a trial the scheduler stops early keeps its device and latency
        if config.get("reference_resolution"):
            data = data.resized(proxy_side(data.resolution, spec.resolution, config["reference_resolution"]))
        metrics = evaluate(spec, train, data, report)
        final = {"accuracy": -1.0 if metrics.accuracy is None else metrics.accuracy,
                 "epoch": max(metrics.epochs_run, 1), "failure": metrics.failure or "",
                 "train_seconds": metrics.train_seconds, "stopped_early": metrics.stopped_early,
                 "test_accuracy": -1.0 if metrics.test_accuracy is None else metrics.test_accuracy}
    except Exception as err:  # whatever the candidate does, the search records it and goes on
        final = {"accuracy": -1.0, "epoch": train.epochs,
                 "failure": f"{err.__class__.__name__}: {str(err).splitlines()[0][:200] if str(err) else ''}"}
    # out of the except block, the exception no longer holds the model, optimiser and data: free them all
    # before this worker (reused by Ray Tune) takes its next trial
    data = None
    release_memory()
    tune.report(base | final | {"final": True})


def proxy_side(data_side: int, resolution: int, reference: int) -> int:
    """The side a candidate trains at: the data's side scaled by its resolution over the reference."""
    return max(8, round(data_side * resolution / reference))
