"""`evaluate(spec, config) -> Metrics`: one trial of a search, a plain function with no global state.

The candidate is built for the dataset (its resolution, channels and classes) and trained with the proxy
recipe in `TrainConfig`; the FLOPs and parameters reported are those of the deployed network, the spec as
given. A candidate that cannot be adapted or whose loss diverges gives Metrics with `failure` set, so a
search records it instead of crashing. Latency, when asked, is measured on the deployed network at its own
resolution on the device in use.
"""
from __future__ import annotations

import dataclasses
import os
import statistics
import time
from dataclasses import dataclass

import torch

from nas.data import Data, DataError, DataSource, load
from nas.train import SCHEDULES, EpochReport, Report, fit, resolve_device
from search_spaces.errors import NasError, SpecError
from search_spaces.network import build, count
from search_spaces.spec import NetSpec


class ConfigError(NasError):
    """A TrainConfig value is out of range."""


@dataclass(frozen=True)
class TrainConfig:
    """The proxy recipe: every hyperparameter of a trial, with units. The defaults train a mobilenet_v2
    on the digits at 32x32 to well above chance in one CPU epoch."""

    epochs: int = 1
    batch_size: int = 32  # images per step
    lr: float = 0.05  # peak learning rate (after warm-up), for this batch size
    momentum: float = 0.9  # Nesterov momentum
    weight_decay: float = 5e-5  # L2 on conv and linear weights; norms and biases are never decayed
    label_smoothing: float = 0.1  # cross-entropy target smoothing, 0..1
    warmup_epochs: float = 0.3  # linear warm-up length, in epochs (fractions allowed)
    schedule: str = "onecycle"  # after warm-up: "onecycle" (linear to zero) or "cosine" (to zero)
    crop_padding: int = 2  # random-crop zero padding, pixels at the data resolution; 0: no crops
    flip: bool = True  # random horizontal flips, where the dataset allows them (not digits)
    seed: int = 0  # weight initialisation, batch order and augmentation
    threads: int = 1  # torch CPU threads; 0: every core. One, as a search runs a trial per core, and
    # several threads on a busy machine wait on each other (20x slower measured on a loaded 2-core box)
    device: str = "cpu"  # "cpu", "cuda" or "auto"
    eval_batch_size: int = 256  # images per evaluation step
    max_loss: float = 4.0  # diverged when the mean loss passes this many times ln(classes)
    check_every: int = 10  # steps between loss checks (each check waits for the GPU)
    latency: bool = False  # also measure inference latency of the deployed network
    latency_batch: int = 16  # the second latency batch size (the first is 1)
    latency_repeats: int = 10  # timed runs per batch size; the median is reported

    def __post_init__(self) -> None:
        positive = ("epochs", "batch_size", "eval_batch_size", "check_every", "latency_batch", "latency_repeats")
        for name in positive:
            value = getattr(self, name)
            if not isinstance(value, int) or isinstance(value, bool) or value < 1:
                raise ConfigError(f"train config {name} must be a positive integer, got {value!r}")
        if self.schedule not in SCHEDULES:
            raise ConfigError(f"train config schedule must be one of {', '.join(SCHEDULES)}; got {self.schedule!r}")
        if self.device not in ("cpu", "cuda", "auto"):
            raise ConfigError(f"train config device must be cpu, cuda or auto; got {self.device!r}")
        if not (self.lr > 0 and 0 <= self.momentum < 1 and self.weight_decay >= 0 and 0 <= self.label_smoothing < 1):
            raise ConfigError("train config needs lr > 0, momentum in [0, 1), weight_decay >= 0, label_smoothing in [0, 1)")
        if self.warmup_epochs < 0 or self.crop_padding < 0 or self.threads < 0 or self.max_loss <= 0:
            raise ConfigError("train config needs warmup_epochs, crop_padding, threads >= 0 and max_loss > 0")


@dataclass(frozen=True)
class Metrics:
    """The outcome of a trial. FLOPs are multiply-adds of conv and linear layers (deployed network)."""

    accuracy: float | None  # test top-1 of the proxy-trained network, 0..1; None when the trial failed
    macs: int  # deployed network (the spec as given, its resolution and classes)
    params: int
    train_seconds: float
    images_per_second: float  # training throughput
    epochs_run: int
    proxy_resolution: int  # the side the candidate was trained at
    device: str
    latency_ms: float | None = None  # median, batch 1, deployed resolution
    latency_batch_ms: float | None = None  # median, batch `latency_batch`
    failure: str | None = None  # why there is no accuracy (does not fit the data, NaN, divergence)
    stopped_early: bool = False
    history: tuple[EpochReport, ...] = ()


def adapt(spec: NetSpec, data: Data) -> NetSpec:
    """The spec built for the dataset: its channels and classes, at the data's side, or at the smallest
    larger side it accepts (up to its own resolution) when its feature map would vanish at the data's
    (AlexNet on 28 px digits); SpecError when none fits. Train it on `data.resized(adapted.resolution)`."""
    def at(side: int) -> NetSpec:
        return dataclasses.replace(spec, resolution=side, in_channels=data.channels, num_classes=data.num_classes)

    try:
        return at(data.resolution)
    except SpecError as err:
        refused = err
    for side in range(data.resolution + 1, spec.resolution + 1):
        try:
            return at(side)
        except SpecError:
            continue
    raise SpecError(f"the network does not fit {data.name} at {data.resolution}x{data.resolution}: {refused}") from None


def evaluate(spec: NetSpec, config: TrainConfig = TrainConfig(), data: Data | DataSource | None = None,
             report: Report | None = None) -> Metrics:
    """Proxy-train `spec` on `data` (default: the digits) and measure it. Data errors raise DataError;
    everything about the candidate itself comes back as Metrics.failure."""
    torch.set_num_threads(config.threads or os.cpu_count() or 1)
    device = resolve_device(config.device)
    if not isinstance(data, Data):
        data = load(data)
    if not isinstance(data, Data):
        raise DataError("evaluate needs a Data, a DataSource or None")
    data = data.to(device)
    cost = count(spec)
    base = Metrics(None, cost.macs, cost.params, 0.0, 0.0, 0, data.resolution, device.type)
    if spec.neck is not None:
        return dataclasses.replace(base, failure="the network has a neck (feature outputs), not a classifier head to train")
    try:
        proxy = adapt(spec, data)
    except SpecError as err:
        return dataclasses.replace(base, failure=str(err))
    data = data.resized(proxy.resolution)  # itself unless the network needs a larger side
    base = dataclasses.replace(base, proxy_resolution=data.resolution)
    torch.manual_seed(config.seed)
    model = build(proxy).to(device)
    if device.type == "cuda":
        model = model.to(memory_format=torch.channels_last)
    result = fit(model, data, config, report)
    metrics = dataclasses.replace(
        base, accuracy=result.accuracy, train_seconds=result.train_seconds, images_per_second=result.images_per_second,
        epochs_run=result.epochs_run, failure=result.failure, stopped_early=result.stopped_early, history=result.history)
    if config.latency:
        one, many = measure_latency(spec, device, (1, config.latency_batch), config.latency_repeats)
        metrics = dataclasses.replace(metrics, latency_ms=one, latency_batch_ms=many)
    return metrics


def measure_latency(spec: NetSpec, device: torch.device, batches: tuple[int, ...] = (1, 16),
                    repeats: int = 10) -> tuple[float, ...]:
    """Median inference milliseconds of the deployed network per batch size (eval mode, no gradients,
    bf16 and channels_last on CUDA), after warm-up runs."""
    model = build(spec).to(device).eval()
    cuda = device.type == "cuda"
    if cuda:
        model = model.to(memory_format=torch.channels_last)
    medians = []
    with torch.inference_mode(), torch.autocast(device.type, torch.bfloat16, enabled=cuda):
        for batch in batches:
            x = torch.randn(batch, spec.in_channels, spec.resolution, spec.resolution, device=device)
            if cuda:
                x = x.contiguous(memory_format=torch.channels_last)
            times = []
            for i in range(repeats + 2):  # two warm-up runs (allocator, kernel selection)
                if cuda:
                    torch.cuda.synchronize(device)
                start = time.perf_counter()
                model(x)
                if cuda:
                    torch.cuda.synchronize(device)
                if i >= 2:
                    times.append((time.perf_counter() - start) * 1000)
            medians.append(statistics.median(times))
    return tuple(medians)
