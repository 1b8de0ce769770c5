"""Where a trial runs, settled before it trains: the device follows the GPUs Ray granted the trial (with
`--device auto`, cuda exactly when it was granted one), the dataset moves to that device before anything
resizes it, and a latency is measured first, so that a scheduler stopping the trial early cannot lose it.
"""
from __future__ import annotations

import dataclasses
from typing import Any

from nas.training.data import DataSource
from nas.training.device import DeviceError, choose, name
from nas.training.evaluate import measure_latency
from nas.training.stream import Batches, open_data
from nas.training.train import TrainConfig
from search_spaces.spec import NetSpec

DEVICE, LATENCY_DEVICE = "device", "latency_device"  # the trial's device; the device a latency study times on


def granted_gpus() -> int:
    """GPUs Ray granted the calling trial (a fraction of one counts as one: Ray shows it the whole device)."""
    import ray

    return len(ray.get_gpu_ids())


def place(train: TrainConfig, config: dict[str, Any], spec: NetSpec, data: Batches | None
          ) -> tuple[TrainConfig, Batches, dict[str, Any]]:
    """The trial's recipe on its device, its data on that device (loaded here from the config when the driver
    shared none), and what every report of the trial carries: the device, and the latency when measured.

    A latency study (`config[LATENCY_DEVICE]` set by the searcher once a latency is recorded) refuses, before
    training, a worker whose device differs: milliseconds of two devices do not share a front."""
    device = choose(train.device, granted_gpus())
    data = (data if data is not None else open_data(DataSource(**config["data"]))).to(device)
    measured: dict[str, Any] = {DEVICE: name(device)}
    if train.latency:
        expected = config.get(LATENCY_DEVICE)
        if expected and expected != measured[DEVICE]:
            raise DeviceError(f"this worker times latency on {measured[DEVICE]}, the study's latencies are from "
                              f"{expected}: a latency search runs on one kind of device")
        one, many = measure_latency(spec, device, (1, train.latency_batch), train.latency_repeats)
        measured |= {"latency_ms": one, "latency_batch_ms": many}
    return dataclasses.replace(train, device=device.type, latency=False), data, measured
