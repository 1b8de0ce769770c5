"""Training a supernet with the sandwich rule and in-place distillation, checkpointed every epoch.

Each step (BigNAS, AttentiveNAS) runs the largest network, the smallest and `random_subnets` random points of
the space on the same augmented batch, each at its own proxy side (`nas.training.oneshot.proxy_side`), and
sums their gradients before one SGD step. The largest learns the labels (label-smoothed cross-entropy); the
others learn the largest network's predictions of that step (in-place distillation: soft cross-entropy
against its detached softmax), or the labels with `distill=False`. The recipe (SGD with Nesterov momentum,
warm-up then cosine or one-cycle decay per step, weight decay on conv and linear weights only, bf16 autocast
and channels_last on CUDA) is `TrainConfig`'s. After each epoch the largest and the smallest networks are
scored (BN recalibrated, `nas.training.oneshot.score`) and the run directory gets:

- `supernet.json`: the space (its full description, so a grown space needs no registration), the data's
  channels and classes, and every setting (written once, when the run starts);
- `checkpoint.pt`: weights, optimizer state, the epoch and the history: plain tensors and lists, written to a
  temporary file and renamed, loaded with `torch.load(weights_only=True)`.

Every epoch draws its batch order, augmentation, dropout and random sub-networks from generators seeded by
(seed, epoch), so a run killed at any point and resumed (`resume=True`) continues after its last finished
epoch and ends, on the CPU, with exactly the weights of an uninterrupted run.
"""
from __future__ import annotations

import dataclasses
import json
import math
import os
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
import torch.nn.functional as F
from torch import Tensor

from nas.files import atomic_write, check_directory, writable_directory
from nas.settings import Flat, flat_fields, replace_flat, setting
from nas.training.data import DATA_HELP, DataSource, augment, parse_data
from nas.training.oneshot import (
    CALIBRATION_IMAGES,
    REFERENCE_RESOLUTION,
    batch,
    calibration_images,
    proxy_side,
    score,
)
from nas.training.stream import DATA_RUNTIME, Batches, open_data
from nas.training.train import TrainConfig, lr_at, param_groups, resolve_device
from search_spaces import spaces
from search_spaces.errors import NasError
from search_spaces.spaces.elastic import ElasticSpace
from search_spaces.spec import NetSpec
from search_spaces.supernet import Supernet

FORMAT = 1
SETTINGS, CHECKPOINT = "supernet.json", "checkpoint.pt"
RUNTIME = ("device", "threads", "eval_batch_size")  # where a run computes, not what: a resume may change them


class SupernetError(NasError):
    """A supernet setting is wrong, or a run directory does not hold what was asked of it."""


@dataclass(frozen=True)
class SupernetJob:
    """Every setting of `nas supernet train` (the command line's options derive from it)."""

    space: str = setting("elastic_mbv3", "elastic space of the supernet (see `nas spaces`)")
    run_dir: str = setting("runs/supernet", "where the settings, the checkpoint and the history go")
    random_subnets: int = setting(2, "random sub-networks per step besides the largest and the smallest "
                                     "(the sandwich rule)")
    distill: bool = setting(True, "in-place distillation: the sub-networks learn the largest one's predictions")
    sort_channels: bool = setting(False, "reorder expanded channels by importance before each epoch (OFA)")
    calibration_images: int = setting(CALIBRATION_IMAGES, "training images that re-estimate a sub-network's BN "
                                                          "statistics before it is scored")
    reference_resolution: int = setting(REFERENCE_RESOLUTION, "a sub-network trains at the data's side times "
                                                              "its resolution over this")
    train: TrainConfig = setting(help="the training recipe", factory=TrainConfig, cli=False)
    data: DataSource = setting(help=DATA_HELP, factory=DataSource, parse=parse_data, shown="mnist")

    def __post_init__(self) -> None:
        for name in ("calibration_images", "reference_resolution"):
            value = getattr(self, name)
            if not isinstance(value, int) or isinstance(value, bool) or value < 1:
                raise SupernetError(f"supernet {name} must be a positive integer, got {value!r}")
        if not isinstance(self.random_subnets, int) or not 0 <= self.random_subnets <= 16:
            raise SupernetError(f"supernet random_subnets must be in [0, 16], got {self.random_subnets!r}")

    @staticmethod
    def fields() -> dict[str, Flat]:
        """Every setting by flat name: the recipe's by name, the data's as `data_{name}`."""
        return flat_fields(SupernetJob, {"train": TrainConfig, "data": DataSource}, unprefixed=("train",))

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    @staticmethod
    def from_dict(data: dict[str, Any]) -> SupernetJob:
        try:
            return SupernetJob(**{**data, "train": TrainConfig(**data["train"]), "data": DataSource(**data["data"])})
        except (KeyError, TypeError) as err:
            raise SupernetError(f"not a supernet job's settings ({type(err).__name__}: {err})") from None


@dataclass(frozen=True)
class Progress:
    """What the trainer reports: every `check_every` steps (`epoch_done` None), and after each epoch."""

    epoch: int
    epochs: int
    step: int
    steps: int
    loss: float  # the largest network's mean loss in this epoch so far
    epoch_done: dict[str, float] | None = None  # the history entry of a finished epoch


@dataclass(frozen=True)
class Trained:
    """A trained (or partly trained) supernet loaded from its run directory."""

    supernet: Supernet
    job: SupernetJob
    history: list[dict[str, float]]
    run_dir: Path

    @property
    def space(self) -> ElasticSpace:
        return self.supernet.space

    @property
    def epochs_done(self) -> int:
        return len(self.history)


def elastic_space(name: str) -> ElasticSpace:
    """The registered space `name`, which must be elastic."""
    space = spaces.get(name)
    if not isinstance(space, ElasticSpace):
        elastic = [n for n in spaces.names() if isinstance(spaces.get(n), ElasticSpace)]
        raise SupernetError(f"space {name!r} is not elastic, so it has no supernet; elastic spaces: "
                            f"{', '.join(elastic)}")
    return space


def read_run(run_dir: str | Path) -> tuple[SupernetJob, ElasticSpace, dict[str, Any]]:
    """The job, the space and the settings file of a supernet run directory."""
    path = Path(run_dir) / SETTINGS
    try:
        stored = json.loads(path.read_text())
    except (OSError, ValueError) as err:
        raise SupernetError(f"{run_dir}: no readable supernet run ({SETTINGS}: {type(err).__name__})") from None
    if not isinstance(stored, dict) or stored.get("format") != FORMAT:
        raise SupernetError(f"{path}: not a supernet run's settings (format {FORMAT})")
    return SupernetJob.from_dict(stored.get("job", {})), ElasticSpace.from_dict(stored.get("space", {})), stored


def resume_conflicts(run_dir: str | Path, given: dict[str, Any]) -> list[str]:
    """The settings among `given` (flat names, as typed) that differ from those the run in `run_dir` started
    with; where it runs (RUNTIME) may change."""
    job, _, _ = read_run(run_dir)
    fields = SupernetJob.fields()
    runtime = RUNTIME + tuple(f"data_{name}" for name in DATA_RUNTIME) + ("run_dir",)
    asked = {k: v for k, v in given.items() if k in fields and k not in runtime}
    wanted = replace_flat(job, fields, asked)
    return [f"{name} (the run has {_value(job, fields[name])!r})" for name in asked
            if _value(wanted, fields[name]) != _value(job, fields[name])]


def _value(job: SupernetJob, where: Flat) -> Any:
    owner = job if where.owner is None else getattr(job, where.owner)
    return getattr(owner, where.field.name)


def _start(job: SupernetJob, resume: bool, space: ElasticSpace | None) -> tuple[SupernetJob, ElasticSpace, Path]:
    """The job and space of the run (a resumed run's own, with this call's RUNTIME settings), the run
    directory ready; SupernetError when a run is there and `resume` is not asked."""
    run_dir = check_directory(job.run_dir)
    if (run_dir / SETTINGS).exists():
        if not resume:
            raise SupernetError(f"{run_dir} holds a supernet run already: --resume continues it, or give another "
                                "--run-dir")
        stored, space, _ = read_run(run_dir)
        runtime = {name: getattr(job.train, name) for name in RUNTIME}
        data = dataclasses.replace(stored.data, **{name: getattr(job.data, name) for name in DATA_RUNTIME})
        return dataclasses.replace(stored, run_dir=job.run_dir, train=dataclasses.replace(stored.train, **runtime),
                                   data=data), space, run_dir
    space = space if space is not None else elastic_space(job.space)
    if not isinstance(space, ElasticSpace):
        raise SupernetError(f"a supernet needs an elastic space, not {type(space).__name__}")
    return dataclasses.replace(job, space=space.name), space, run_dir


def _save_settings(run_dir: Path, job: SupernetJob, space: ElasticSpace, data: Batches) -> None:
    stored = {"format": FORMAT, "space": space.to_dict(), "in_channels": data.channels,
              "num_classes": data.num_classes, "job": job.to_dict()}
    atomic_write(run_dir / SETTINGS, lambda f: f.write(json.dumps(stored, indent=2).encode()))


def _load_checkpoint(run_dir: Path, device: torch.device) -> dict[str, Any] | None:
    path = run_dir / CHECKPOINT
    if not path.exists():
        return None
    try:
        state = torch.load(path, map_location=device, weights_only=True)
    except Exception as err:  # truncated, not a checkpoint, or holding more than tensors and plain data
        raise SupernetError(f"{path}: not a readable supernet checkpoint ({type(err).__name__})") from None
    if not isinstance(state, dict) or state.get("format") != FORMAT:
        raise SupernetError(f"{path}: not a supernet checkpoint (format {FORMAT})")
    return state


def load_supernet(run_dir: str | Path, device: str | torch.device = "cpu") -> Trained:
    """The supernet of a run directory with its last checkpoint's weights (the trained supernet the
    search, `score` and `extract` take), its settings and history."""
    job, space, stored = read_run(run_dir)
    net = Supernet(space, stored.get("in_channels", 3), stored.get("num_classes", 1000)).to(device)
    state = _load_checkpoint(Path(run_dir), torch.device(device))
    if state is None:
        raise SupernetError(f"{run_dir}: no checkpoint yet (the run has not finished an epoch)")
    net.load_state_dict(state["model"])
    return Trained(net.eval(), job, list(state["history"]), Path(run_dir))


def _seed(seed: int, epoch: int) -> int:
    """The seed of an epoch's generators: a function of (seed, epoch) alone, so a resumed run draws alike."""
    return (seed * 1_000_003 + epoch * 7_919) % (2**63)


def _subnets(space: ElasticSpace, job: SupernetJob, epoch: int) -> Iterator[list[NetSpec]]:
    """Each step's sub-networks: the largest (the teacher, first), the smallest, then random points."""
    largest, smallest = space.largest(), space.smallest()
    draws = space.samples(_seed(job.train.seed, epoch))
    while True:
        yield [largest, smallest] + [next(draws) for _ in range(job.random_subnets)]


def _soft_cross_entropy(logits: Tensor, target: Tensor) -> Tensor:
    return -(target * F.log_softmax(logits, dim=1)).sum(dim=1).mean()


def _step(net: Supernet, specs: list[NetSpec], x: Tensor, y: Tensor, data: Batches, job: SupernetJob) -> Tensor:
    """Forward and backward every sub-network of one step (gradients add up); the largest's loss."""
    device = x.device
    teacher, first = None, None
    for spec in specs:
        net.select(spec, check=False)
        side = proxy_side(spec, data, job.reference_resolution)
        with torch.autocast(device.type, torch.bfloat16, enabled=device.type == "cuda"):
            out = net(batch(x, side, data)).float()
        if teacher is None or not job.distill:
            loss = F.cross_entropy(out, y, label_smoothing=job.train.label_smoothing)
        else:
            loss = _soft_cross_entropy(out, teacher)
        loss.backward()
        if teacher is None:
            teacher, first = out.detach().softmax(dim=1), loss.detach()
    return first


def _epoch(net: Supernet, opt: torch.optim.Optimizer, data: Batches, job: SupernetJob, space: ElasticSpace, epoch: int,
           progress: Callable[[Progress], None] | None) -> tuple[float, float]:
    """One epoch of sandwich steps: (the largest network's mean loss, seconds)."""
    config, device = job.train, data.device
    seed = _seed(config.seed, epoch)
    torch.manual_seed(seed)  # dropout draws from the global generators
    gen = torch.Generator(device=device).manual_seed(seed)
    size = min(config.batch_size, data.size("train"))
    steps = data.size("train") // size  # the last partial batch is dropped so BN sees full batches
    warmup, flip = round(config.warmup_epochs * steps), config.flip and data.flip
    draws = _subnets(space, job, epoch)
    net.train()
    loss_sum, start = torch.zeros((), device=device), _clock(device)
    for i, (x, y) in enumerate(data.train_batches(size, gen)):  # the order drawn from gen, then crops
        if config.crop_padding or flip:
            x = augment(x, config.crop_padding, flip, gen)
        for group in opt.param_groups:
            group["lr"] = lr_at((epoch - 1) * steps + i, config.epochs * steps, warmup, config.lr, config.schedule)
        opt.zero_grad(set_to_none=True)
        loss_sum += _step(net, next(draws), x, y, data, job)
        opt.step()
        if (i + 1) % config.check_every == 0 or i + 1 == steps:
            mean = loss_sum.item() / (i + 1)
            if not math.isfinite(mean):
                raise SupernetError(f"the loss became {mean} at epoch {epoch} step {i + 1}; lower --lr")
            if progress is not None:
                progress(Progress(epoch, config.epochs, i + 1, steps, mean))
    return loss_sum.item() / steps, _clock(device) - start


def _clock(device: torch.device) -> float:
    if device.type == "cuda":
        torch.cuda.synchronize(device)
    return time.perf_counter()


def _checkpoint(run_dir: Path, net: Supernet, opt: torch.optim.Optimizer, history: list[dict[str, float]]) -> None:
    state = {"format": FORMAT, "epoch": len(history), "model": net.state_dict(), "optimizer": opt.state_dict(),
             "history": history}
    atomic_write(run_dir / CHECKPOINT, lambda f: torch.save(state, f))


def train_supernet(job: SupernetJob = SupernetJob(), resume: bool = False,
                   progress: Callable[[Progress], None] | None = None, space: ElasticSpace | None = None) -> Trained:
    """Train the supernet of `job.space` (or of `space`, an elastic space of one's own) on `job.data`,
    checkpointing into `job.run_dir` after every epoch; `resume=True` continues the run found there (with
    its own settings; only where it runs, RUNTIME, comes from `job`)."""
    job, space, run_dir = _start(job, resume, space)
    torch.set_num_threads(job.train.threads or os.cpu_count() or 1)
    device = resolve_device(job.train.device)
    data = open_data(job.data, device)
    writable_directory(run_dir)
    if not (run_dir / SETTINGS).exists():
        _save_settings(run_dir, job, space, data)
    torch.manual_seed(job.train.seed)
    net = Supernet(space, data.channels, data.num_classes).to(device)
    if device.type == "cuda":
        net = net.to(memory_format=torch.channels_last)
    opt = torch.optim.SGD(param_groups(net, job.train.weight_decay), lr=job.train.lr, momentum=job.train.momentum,
                          nesterov=True)
    history: list[dict[str, float]] = []
    state = _load_checkpoint(run_dir, device)
    if state is not None:
        net.load_state_dict(state["model"])
        opt.load_state_dict(state["optimizer"])
        history = list(state["history"])
    calibration = calibration_images(data, job.calibration_images)
    for epoch in range(len(history) + 1, job.train.epochs + 1):
        if job.sort_channels:
            net.sort_channels(opt)
        loss, seconds = _epoch(net, opt, data, job, space, epoch, progress)
        size = min(job.train.batch_size, data.size("train"))
        steps = data.size("train") // size
        entry = {"epoch": epoch, "loss": loss, "seconds": seconds, "images_per_second": steps * size / max(seconds, 1e-9)}
        for name, spec in (("largest", space.largest()), ("smallest", space.smallest())):
            entry[name] = score(net, spec, data, True, calibration, job.train.eval_batch_size, job.reference_resolution)
        history.append(entry)
        _checkpoint(run_dir, net, opt, history)
        if progress is not None:
            progress(Progress(epoch, job.train.epochs, steps, steps, loss, entry))
    return Trained(net.eval(), job, history, run_dir)
