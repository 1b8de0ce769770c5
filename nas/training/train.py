"""Proxy training: a short, honest SGD run of a candidate on a dataset in memory or streamed (`Batches`).

SGD with Nesterov momentum and label smoothing; a linear warm-up, then cosine or one-cycle (linear) decay
to zero, set per step; weight decay on conv and linear weights only (norms and biases are not decayed);
bf16 autocast on GPUs of compute capability 8.0 or more (fp32 elsewhere: `nas.training.device`) and
channels_last on CUDA; evaluation in full precision. After each epoch the test accuracy goes to a callback, which may
stop the run (early stopping). A NaN or diverging loss ends the run with the reason as data. On the CPU a
run is a pure function of (model initialisation, data, config): the batch order and augmentation draw from
a generator seeded by `config.seed`. The recipe may choose RMSProp or AdamW instead of SGD
(nas/training/optim.py); a network built with auxiliary heads adds their weighted losses (auxiliary.py).
"""
from __future__ import annotations

import math
import time
from dataclasses import dataclass
from typing import Callable

import torch
from torch import Tensor, nn

from nas.settings import setting
from nas.training.auxiliary import training_loss
from nas.training.data import augment, normalize
from nas.training.device import autocast, choose
from nas.training.optim import OPTIMIZERS, make_optimizer
from nas.training.stream import Batches
from search_spaces.errors import NasError
from search_spaces.network import unnormed_run

SCHEDULES = ("cosine", "onecycle")


class ConfigError(NasError):
    """A TrainConfig value is out of range."""


@dataclass(frozen=True)
class TrainConfig:
    """The proxy recipe: every hyperparameter of a trial, with units. The defaults are a search's proxy:
    they train a mobilenet_v2 on the default digits at 32x32 to well above chance on the CPU."""

    epochs: int = setting(2, "training epochs (in a search: proxy epochs per candidate)")
    batch_size: int = setting(32, "images per step")
    lr: float = setting(0.05, "peak learning rate (after warm-up), for this batch size")
    momentum: float = setting(0.9, "SGD's Nesterov momentum, RMSProp's momentum, AdamW's beta1")
    weight_decay: float = setting(5e-5, "L2 on conv and linear weights; norms and biases are never decayed")
    label_smoothing: float = setting(0.1, "cross-entropy target smoothing, 0..1")
    warmup_epochs: float = setting(0.3, "linear warm-up length, in epochs (fractions allowed)")
    schedule: str = setting("onecycle", "after warm-up: onecycle (linear to zero) or cosine (to zero)")
    # no crops in the proxy: two epochs cannot afford the regularisation, least of all at the 14-16 px sides
    # low-resolution candidates train at (experiments/proxy_reliability.md); longer trainings want 2-4
    crop_padding: int = setting(0, "random-crop zero padding, pixels at the side trained at; 0: no crops")
    flip: bool = setting(True, "random horizontal flips, where the dataset allows them (not digits)")
    seed: int = setting(0, "weight initialisation, batch order and augmentation")
    # One thread by default: a search runs a trial per core, and several threads on a busy machine wait on
    # each other (20x slower measured on a loaded 2-core box)
    threads: int = setting(1, "torch CPU threads; 0: every core")
    device: str = setting("auto", "training device: cpu, cuda or auto (in a search: cuda when the trial was granted "
                          "a GPU; in nas train: cuda when torch sees one)")
    eval_batch_size: int = setting(256, "images per evaluation step")
    max_loss: float = setting(4.0, "diverged when the mean loss passes this many times ln(classes)")
    check_every: int = setting(10, "steps between loss checks (each check waits for the GPU)")
    latency: bool = setting(False, "also measure inference latency of the deployed network")
    latency_batch: int = setting(16, "the second latency batch size (the first is 1)")
    latency_repeats: int = setting(10, "timed runs per batch size; the median is reported")
    optimizer: str = setting("sgd", "sgd (Nesterov momentum), rmsprop (the Inception-v3 paper's) or adamw")
    rmsprop_decay: float = setting(0.9, "RMSProp: decay of the mean squared gradient (PyTorch's alpha)")
    optimizer_eps: float = setting(1e-8, "RMSProp and AdamW epsilon, added to the root of the mean square")
    beta2: float = setting(0.999, "AdamW: decay of the mean squared gradient")
    aux: bool = setting(True, "train the spec's auxiliary heads (GoogLeNet, Inception-v3) with their loss weights")
    # What makes every sane candidate of a space train (experiments/proxy_reliability.md measures each part)
    zero_init_last: bool = setting(True, "start each residual branch at zero (the scale of its last norm), so a deep "
                                         "stack starts as its shortcuts (Goyal et al. 2017)")
    diverge_patience: int = setting(3, "consecutive loss checks past max_loss that end a run (an early spike "
                                       "passes); a NaN or infinite loss ends it at once")
    unnormed_lr_scale: float = setting(0.1, "peak learning rate multiplier for a network with more than "
                                            "max_unnormed_run weight layers in a row and no norm between them")
    max_unnormed_run: int = setting(4, "the longest norm-free run of weight layers that trains at the full lr")

    def __post_init__(self) -> None:
        positive = ("epochs", "batch_size", "eval_batch_size", "check_every", "latency_batch", "latency_repeats",
                    "diverge_patience")
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
        if self.optimizer not in OPTIMIZERS:
            raise ConfigError(f"train config optimizer must be one of {', '.join(OPTIMIZERS)}; got {self.optimizer!r}")
        if not (0 <= self.rmsprop_decay < 1 and 0 <= self.beta2 < 1 and self.optimizer_eps > 0):
            raise ConfigError("train config needs rmsprop_decay and beta2 in [0, 1) and optimizer_eps > 0")
        if not (0 < self.unnormed_lr_scale <= 1 and self.max_unnormed_run >= 0):
            raise ConfigError("train config needs unnormed_lr_scale in (0, 1] and max_unnormed_run >= 0")



PROXY = TrainConfig()  # a search's proxy recipe: the defaults, by name


@dataclass(frozen=True)
class EpochReport:
    """What one epoch did: sent to the `report` callback (returning True stops the run)."""

    epoch: int  # 1-based
    epochs: int
    train_loss: float  # mean over the epoch's steps (label-smoothed cross-entropy)
    train_accuracy: float  # on the augmented training batches, 0..1
    val_accuracy: float  # on the validation split, 0..1
    seconds: float  # training time of this epoch (evaluation excluded)
    images_per_second: float
    # measured each epoch, as a scheduler (ASHA) may end a search trial at any epoch report and its accuracy
    # is that epoch's: reported with the run, never used to choose (None in checkpoints of older versions)
    test_accuracy: float | None = None


@dataclass(frozen=True)
class TrainResult:
    """The outcome of `fit`: the final validation accuracy (what a search ranks on) and test accuracy (what
    it reports), or `failure` saying why there is none."""

    accuracy: float | None
    epochs_run: int
    train_seconds: float
    images_per_second: float
    history: tuple[EpochReport, ...]
    failure: str | None = None
    stopped_early: bool = False
    test_accuracy: float | None = None


Report = Callable[[EpochReport], "bool | None"]


@dataclass(frozen=True)
class Resume:
    """A run between epochs, for checkpoints (`nas.training.checkpoint`): what `fit` hands `on_epoch` after
    each epoch, and takes as `resume` to continue after the last one. The weights are the caller's."""

    history: tuple[EpochReport, ...]  # the finished epochs
    seconds: float  # their training time
    optimizer: dict  # the optimizer's state_dict
    generator: Tensor  # the batch-order and augmentation generator's state


def resolve_device(name: str) -> torch.device:
    """`cpu`, `cuda` (a DeviceError if none) or `auto` (cuda when torch sees one): `device.choose` outside a
    Ray trial (a trial's device follows the GPUs Ray granted it, `nas.search.placement`)."""
    return choose(name)


def lr_at(step: int, total: int, warmup: int, peak: float, schedule: str) -> float:
    """The learning rate of step `step` (0-based) of `total`: linear warm-up over `warmup` steps from
    peak / warmup up to `peak`, then `cosine` or `onecycle` (linear) decay towards zero at `total`."""
    if step < warmup:
        return peak * (step + 1) / warmup
    progress = (step - warmup + 1) / max(1, total - warmup)
    if schedule == "cosine":
        return peak * 0.5 * (1 + math.cos(math.pi * progress))
    return peak * (1 - progress)


def param_groups(model: nn.Module, weight_decay: float) -> list[dict]:
    """Two optimizer groups: conv/linear weights (decayed) and norms and biases (not decayed, as
    decaying a BN scale or a bias only fights the normalisation)."""
    decay, no_decay = [], []
    for p in model.parameters():
        if p.requires_grad:
            (decay if p.ndim > 1 else no_decay).append(p)
    return [{"params": decay, "weight_decay": weight_decay}, {"params": no_decay, "weight_decay": 0.0}]


def evaluate_accuracy(model: nn.Module, data: Batches, batch_size: int, device: torch.device,
                      split: str = "val") -> tuple[float, bool]:
    """Top-1 accuracy on a split (`val` or `test`; eval mode, no gradients, full precision: no ties of bf16
    logits), and whether the network gave every image the same output: a dead network, whose accuracy is
    one class's share."""
    model.eval()
    correct = torch.zeros((), dtype=torch.long, device=device)
    low = high = None
    with torch.inference_mode():
        for images, labels in data.eval_batches(split, batch_size):
            out = model(_prepare(images, data, device))
            correct += (out.argmax(1) == labels).sum()
            low = out.amin(0) if low is None else torch.minimum(low, out.amin(0))
            high = out.amax(0) if high is None else torch.maximum(high, out.amax(0))
    constant = low is not None and bool(torch.equal(low, high))
    return correct.item() / max(1, data.size(split)), constant


def _prepare(x: Tensor, data: Batches, device: torch.device) -> Tensor:
    x = normalize(x, data)
    return x.contiguous(memory_format=torch.channels_last) if device.type == "cuda" else x


def _check_loss(window: float, over: int, plan: "_Plan", epoch: int, step: int) -> str | None:
    """The failure reason when the mean loss of the last steps is NaN or infinite, or when it is past the
    limit for the `plan.patience`-th check in a row (`over` counts the earlier ones)."""
    if not math.isfinite(window):
        return f"loss became {window} at epoch {epoch} step {step}"
    if window > plan.limit and over + 1 >= plan.patience:
        return f"loss diverged to {window:.3g} (limit {plan.limit:.3g}) at epoch {epoch} step {step}"
    return None


def peak_lr(model: nn.Module, config: TrainConfig) -> float:
    """The recipe's peak learning rate for this network: `config.lr`, scaled by `unnormed_lr_scale` when
    the network has a run of more than `max_unnormed_run` weight layers with no norm between them (plain
    stacks and fire modules without BN: the batch-norm rate makes them diverge or die)."""
    if unnormed_run(model) > config.max_unnormed_run:
        return config.lr * config.unnormed_lr_scale
    return config.lr


@dataclass(frozen=True)
class _Plan:
    """The step arithmetic of one run."""

    batch: int  # images per step
    steps: int  # steps per epoch (the last partial batch is dropped so BN sees full batches)
    total: int  # steps in the run
    warmup: int  # warm-up steps
    limit: float  # the loss past which the run has diverged
    patience: int  # checks in a row past the limit that end the run
    lr: float  # peak learning rate


def fit(model: nn.Module, data: Batches, config: TrainConfig, report: Report | None = None,
        resume: Resume | None = None, on_epoch: Callable[[Resume], None] | None = None) -> TrainResult:
    """Train `model` (already on the data's device) for `config.epochs`; returns the result. `resume` continues
    a run after its finished epochs (the model holds their weights); `on_epoch` gets the state after each."""
    device = data.device
    gen = torch.Generator(device=device).manual_seed(config.seed)
    opt = make_optimizer(param_groups(model, config.weight_decay), config)
    n = data.size("train")
    batch = min(config.batch_size, n)
    steps = n // batch
    plan = _Plan(batch, steps, config.epochs * steps, round(config.warmup_epochs * steps),
                 config.max_loss * math.log(max(2, data.num_classes)), config.diverge_patience, peak_lr(model, config))
    history: list[EpochReport] = list(resume.history) if resume else []
    seconds = resume.seconds if resume else 0.0
    over = 0  # loss checks in a row past the limit, across epochs
    if resume:
        opt.load_state_dict(resume.optimizer)
        gen.set_state(resume.generator)
    for epoch in range(len(history) + 1, config.epochs + 1):
        start = _clock(device)
        loss_sum, correct, failure, over = _epoch(model, data, config, opt, gen, plan, epoch, over)
        elapsed = _clock(device) - start
        seconds += elapsed
        images = (epoch - 1) * steps * batch  # images of the completed epochs before this one
        if failure:
            return TrainResult(None, epoch, seconds, images / seconds, tuple(history), failure)
        val, constant = evaluate_accuracy(model, data, config.eval_batch_size, device)
        test_now = evaluate_accuracy(model, data, config.eval_batch_size, device, "test")[0]
        history.append(EpochReport(epoch, config.epochs, loss_sum / steps, correct / (steps * batch), val,
                                   elapsed, steps * batch / elapsed, test_now))
        if on_epoch is not None:
            on_epoch(Resume(tuple(history), seconds, opt.state_dict(), gen.get_state()))
        if constant:  # e.g. every ReLU before the output died: no gradient reaches it again
            return TrainResult(None, epoch, seconds, (images + steps * batch) / seconds, tuple(history),
                               f"the network gives every validation image the same output after epoch {epoch} "
                               f"(its units died: validation accuracy {val:.1%} is one class's share)")
        stop = report is not None and report(history[-1]) and epoch < config.epochs
        if stop or epoch == config.epochs:
            return TrainResult(val, epoch, seconds, (images + steps * batch) / seconds, tuple(history), None,
                               stop, test_now)
    raise AssertionError("unreachable: the last epoch returns")


def _epoch(model: nn.Module, data: Batches, config: TrainConfig, opt: torch.optim.Optimizer, gen: torch.Generator,
           plan: _Plan, epoch: int, over: int) -> tuple[float, float, str | None, int]:
    """One epoch of steps: (loss sum, correct count, failure reason or None, loss checks in a row past the
    limit at its end, `over` counting those before it)."""
    device = data.device
    loss_fn = nn.CrossEntropyLoss(label_smoothing=config.label_smoothing)
    flip = config.flip and data.flip
    model.train()
    sums = torch.zeros(2, device=device)  # loss sum, correct count: kept on the device, read at checks
    checked = 0.0  # the loss sum at the last check
    for i, (x, y) in enumerate(data.train_batches(plan.batch, gen)):  # the order drawn from gen, then crops
        if config.crop_padding or flip:
            x = augment(x, config.crop_padding, flip, gen)
        lr = lr_at((epoch - 1) * plan.steps + i, plan.total, plan.warmup, plan.lr, config.schedule)
        for group in opt.param_groups:
            group["lr"] = lr
        with autocast(device):
            out = model(_prepare(x, data, device))
        out, loss = training_loss(out, y, loss_fn, model)  # the logits; plus weighted auxiliary losses, if any
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        sums += torch.stack((loss.detach(), (out.argmax(1) == y).sum().float()))
        if (i + 1) % config.check_every == 0 or i + 1 == plan.steps:
            loss_sum = sums[0].item()
            window = (loss_sum - checked) / (i % config.check_every + 1)
            failure = _check_loss(window, over, plan, epoch, i + 1)
            if failure:
                return loss_sum, 0.0, failure, over
            checked, over = loss_sum, over + 1 if window > plan.limit else 0
    loss_sum, correct = sums.tolist()
    return loss_sum, correct, None, over


def _clock(device: torch.device) -> float:
    """Wall time after the device has finished its queued work."""
    if device.type == "cuda":
        torch.cuda.synchronize(device)
    return time.perf_counter()
