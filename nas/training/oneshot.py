"""Scoring sub-networks of a trained supernet: BN recalibration, then accuracy on the validation images
(what a search ranks candidates on; the test images only report the networks it chose).

**Why recalibrate.** A supernet's batch norms are shared: every sub-network trained in a step normalises
with its own batch statistics and pushes its own mean and variance into the first C entries of the shared
running statistics. After training those running statistics are a blend over many sub-networks (and, with
elastic kernels and depths, over different inputs to the same layer), right for none of them, and in eval
mode a sub-network normalised by them can score far below what its weights can do (slimmable networks
report accuracy near chance). Recalibration resets the running statistics of the extracted sub-network and
re-estimates them (a plain average over batches, momentum None) from a forward pass in training mode over a
fixed sample of training images, with no gradient and no weight changed, as Once-for-All and BigNAS do.
It costs one forward pass over the sample (default 250 images) per sub-network scored. The measured effect
is in the README (section "Supernets").

**Resolution.** A point's resolution is its deployment input side. The supernet trains and scores each
sub-network at `proxy_side`, the rule of a search's proxy training (`nas.search.trial.proxy_side`): the
data's side times the point's resolution over a reference resolution, 224 by default (data at 224 px: the
point's own resolution, as OFA trains; the default 32 px MNIST: 18 to 32 px for OFA's 128 to 224).
"""
from __future__ import annotations

from collections.abc import Iterable

import torch
from torch import Tensor, nn

from nas.training.data import _resize, normalize
from nas.training.stream import Batches
from search_spaces.spec import NetSpec
from search_spaces.supernet import Supernet

CALIBRATION_IMAGES = 250  # experiments/oneshot.md: ranks as 1,000 do (tau 0.152 against 0.076 on the default
# data, 0.288 against 0.270 on the harder setting) at 0.34 CPU-s a score against 0.64
CALIBRATION_SEED = 0
REFERENCE_RESOLUTION = 224


def proxy_side(spec: NetSpec, data: Batches, reference: int = REFERENCE_RESOLUTION) -> int:
    """The image side a point trains and is scored at on `data` (see the module's notes)."""
    return max(8, round(data.resolution * spec.resolution / reference))


def batch(x: Tensor, side: int, data: Batches) -> Tensor:
    """uint8 images resized to `side` (as `Data.resized` resizes), normalised, channels_last on CUDA."""
    x = normalize(_resize(x, side), data)
    return x.contiguous(memory_format=torch.channels_last) if x.device.type == "cuda" else x


def calibration_images(data: Batches, images: int = CALIBRATION_IMAGES, seed: int = CALIBRATION_SEED) -> Tensor:
    """A fixed sample of training images (uint8): the same for every sub-network scored on `data`."""
    return data.sample(images, seed)[0]


@torch.no_grad()
def recalibrate_bn(model: nn.Module, batches: Iterable[Tensor]) -> None:
    """Re-estimate every batch norm's running statistics of `model` from `batches` (prepared inputs):
    reset, then average over the batches of a training-mode forward pass. Leaves the model in eval mode."""
    norms = [m for m in model.modules() if isinstance(m, nn.modules.batchnorm._BatchNorm)]
    saved = [m.momentum for m in norms]
    for m in norms:
        m.reset_running_stats()
        m.momentum = None  # cumulative average: every batch counts the same
    model.train()
    for x in batches:
        model(x)
    for m, momentum in zip(norms, saved):
        m.momentum = momentum
    model.eval()


SPLITS = ("val", "test")  # what a search ranks on; what it reports for the networks it chose


def _inputs(x: Tensor, side: int, data: Batches) -> Tensor:
    """`batch` for an inference pass: channels_last on every device (depthwise convolutions of these small
    maps run 3 to 4 times faster so on the CPU as well, measured on the default data)."""
    return batch(x, side, data).contiguous(memory_format=torch.channels_last)


@torch.no_grad()
def accuracy(model: nn.Module, data: Batches, side: int, batch_size: int = 256, split: str = "val") -> float:
    """Top-1 accuracy on the validation images of `data` (what candidates are ranked on), or on its test
    images with `split="test"` (reported only), at `side` (eval mode, bf16 on CUDA)."""
    if split not in SPLITS:
        raise ValueError(f"split must be one of {SPLITS}, got {split!r}")
    model.eval()
    device = data.device
    correct = torch.zeros((), dtype=torch.long, device=device)
    with torch.autocast(device.type, torch.bfloat16, enabled=device.type == "cuda"):
        for images, labels in data.eval_batches(split, batch_size):
            correct += (model(_inputs(images, side, data)).argmax(1) == labels).sum()
    return correct.item() / max(1, data.size(split))


def inherited(supernet: Supernet, spec: NetSpec, data: Batches, recalibrate: bool = True,
              calibration: Tensor | None = None, batch_size: int = 256,
              reference: int = REFERENCE_RESOLUTION) -> nn.Module:
    """The sub-network a point inherits from the supernet (`extract`, channels_last), in eval mode, its batch
    norms recalibrated at its proxy side on `calibration` (default `calibration_images(data)`) unless
    `recalibrate=False`: the network `score` measures. The supernet is left as it was."""
    model = supernet.extract(spec).to(memory_format=torch.channels_last)
    if recalibrate:
        side = proxy_side(spec, data, reference)
        sample = calibration_images(data) if calibration is None else calibration
        recalibrate_bn(model, (_inputs(sample[i:i + batch_size], side, data) for i in range(0, len(sample), batch_size)))
    return model.eval()


def score(supernet: Supernet, spec: NetSpec, data: Batches, recalibrate: bool = True,
          calibration: Tensor | None = None, batch_size: int = 256, reference: int = REFERENCE_RESOLUTION,
          split: str = "val") -> float:
    """Validation accuracy (0..1; the test split's with `split="test"`) of a point of the supernet's space,
    with the weights it inherits: the extracted sub-network, its batch norms recalibrated first (on
    `calibration`, uint8 training images, default `calibration_images(data)`) unless `recalibrate=False`.
    The supernet is left as it was."""
    model = inherited(supernet, spec, data, recalibrate, calibration, batch_size, reference)
    return accuracy(model, data, proxy_side(spec, data, reference), batch_size, split)
