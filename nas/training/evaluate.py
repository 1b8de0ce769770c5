"""`evaluate(spec, config) -> Metrics`: one trial of a search, a plain function with no global state.

The candidate is built for the dataset (its resolution, channels and classes) and trained with the proxy
recipe in `TrainConfig`, with the spec's auxiliary heads and their losses where it has any (unless
`config.aux` is off); the FLOPs and parameters reported are those of the deployed network, the spec as
given. A candidate that cannot be adapted or whose loss diverges gives Metrics with `failure` set, so a
search records it instead of crashing. Latency, when asked, is measured on the deployed network at its own
resolution on the device in use, before training (a run stopped early keeps it).
"""
from __future__ import annotations

import dataclasses
import os
import statistics
import time
from dataclasses import dataclass

import torch

from nas.settings import Flat, flat_fields, setting
from nas.training.auxiliary import describe_aux
from nas.training.data import DATA_HELP, DataError, DataSource, parse_data
from nas.training.device import autocast
from nas.training.stream import Batches, open_data
from nas.training.train import EpochReport, Report, TrainConfig, TrainResult, fit, resolve_device
from search_spaces.counting import aux_costs, count
from search_spaces.errors import SpecError
from search_spaces.network import build, zero_init_last
from search_spaces.spec import NetSpec


@dataclass(frozen=True)
class TrainJob:
    """What `nas train` runs: a training recipe on a dataset (the command line's options derive from it)."""

    train: TrainConfig = setting(help="the training recipe", factory=TrainConfig, cli=False)
    data: DataSource = setting(help=DATA_HELP, factory=DataSource, parse=parse_data, shown="mnist")
    run_dir: str | None = setting(None, "where the checkpoint goes, after every epoch (weights, spec, recipe, data, "
                                        "history); none: the trained weights are not kept")

    @staticmethod
    def fields() -> dict[str, Flat]:
        """Every setting by flat name: the recipe's fields by name, the data's as `data_{name}`."""
        return flat_fields(TrainJob, {"train": TrainConfig, "data": DataSource}, unprefixed=("train",))


@dataclass(frozen=True)
class Metrics:
    """The outcome of a trial. FLOPs are multiply-adds of conv and linear layers (deployed network)."""

    accuracy: float | None  # validation top-1 of the proxy-trained network, 0..1 (what a search ranks on); None
    # when the trial failed
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
    test_accuracy: float | None = None  # test top-1: reported, never used to choose
    aux_losses: tuple[str, ...] = ()  # the auxiliary heads trained with the network: '0.3 x aux1 after s3.b2'
    aux_skipped: str | None = None  # why the spec's auxiliary heads were not trained (they do not fit the side)


def adapt(spec: NetSpec, data: Batches) -> NetSpec:
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


def with_aux(proxy: NetSpec) -> tuple[NetSpec, str | None]:
    """The adapted spec with its auxiliary heads where they fit its side, else without them and the reason
    (Inception-v3's AuxLogits needs a 17x17 map after Mixed_6e: about 299 px, which the proxy side decides
    against: the deployed network's side comes first)."""
    if not proxy.aux:
        return proxy, None
    try:
        aux_costs(proxy)
    except SpecError as err:
        return dataclasses.replace(proxy, aux=()), str(err)
    return proxy, None


@dataclass(frozen=True)
class Prepared:
    """A network ready to train on a dataset: the Metrics known before training (the deployed cost, the
    latency), the spec built for the data (None when it cannot train: `base.failure` says why) and the data
    on the device at that spec's side."""

    base: Metrics
    proxy: NetSpec | None
    data: Batches
    device: torch.device


def prepare(spec: NetSpec, config: TrainConfig = TrainConfig(), data: Batches | DataSource | None = None
            ) -> Prepared:
    """Threads, device and data for training `spec` (default data: the digits); DataError for data errors."""
    torch.set_num_threads(config.threads or os.cpu_count() or 1)
    device = resolve_device(config.device)
    if data is None or isinstance(data, DataSource):
        data = open_data(data)
    if not hasattr(data, "train_batches"):
        raise DataError("evaluate needs a Data, a FolderStream, a DataSource or None")
    data = data.to(device)
    cost = count(spec)
    base = Metrics(None, cost.macs, cost.params, 0.0, 0.0, 0, data.resolution, device.type)
    if spec.neck is not None:
        return Prepared(dataclasses.replace(base, failure="the network has a neck (feature outputs), not a classifier "
                                                          "head to train"), None, data, device)
    try:
        proxy, skipped = with_aux(adapt(spec if config.aux else dataclasses.replace(spec, aux=()), data))
    except SpecError as err:
        return Prepared(dataclasses.replace(base, failure=str(err)), None, data, device)
    data = data.resized(proxy.resolution)  # itself unless the network needs a larger side
    base = dataclasses.replace(base, proxy_resolution=data.resolution, aux_losses=describe_aux(proxy),
                               aux_skipped=skipped)
    if config.latency:  # before training: a run stopped early, or failing, keeps its latency
        one, many = measure_latency(spec, device, (1, config.latency_batch), config.latency_repeats)
        base = dataclasses.replace(base, latency_ms=one, latency_batch_ms=many)
    return Prepared(base, proxy, data, device)


def initial_model(proxy: NetSpec, config: TrainConfig, device: torch.device) -> torch.nn.Module:
    """The network of `proxy` as a run starts it: initialised from `config.seed`, on `device`."""
    torch.manual_seed(config.seed)
    model = build(proxy, aux=True)
    if config.zero_init_last:
        zero_init_last(model)
    model = model.to(device)
    return model.to(memory_format=torch.channels_last) if device.type == "cuda" else model


def finished(base: Metrics, result: TrainResult) -> Metrics:
    """The Metrics of a training run: `base` (from `prepare`) with what `fit` measured."""
    return dataclasses.replace(
        base, accuracy=result.accuracy, train_seconds=result.train_seconds, images_per_second=result.images_per_second,
        epochs_run=result.epochs_run, failure=result.failure, stopped_early=result.stopped_early,
        history=result.history, test_accuracy=result.test_accuracy)


def evaluate(spec: NetSpec, config: TrainConfig = TrainConfig(), data: Batches | DataSource | None = None,
             report: Report | None = None) -> Metrics:
    """Proxy-train `spec` on `data` (default: the digits) and measure it. Data errors raise DataError;
    everything about the candidate itself comes back as Metrics.failure."""
    ready = prepare(spec, config, data)
    if ready.proxy is None:
        return ready.base
    return finished(ready.base, fit(initial_model(ready.proxy, config, ready.device), ready.data, config, report))


def measure_latency(spec: NetSpec, device: torch.device, batches: tuple[int, ...] = (1, 16),
                    repeats: int = 10) -> tuple[float, ...]:
    """Median inference milliseconds of the deployed network per batch size (eval mode, no gradients,
    the training precision (`device.precision`) and channels_last on CUDA), after warm-up runs."""
    model = build(spec).to(device).eval()
    cuda = device.type == "cuda"
    if cuda:
        model = model.to(memory_format=torch.channels_last)
    medians = []
    with torch.inference_mode(), autocast(device):
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
