"""Named training recipes: the search's proxy (`TrainConfig()`), and the Inception-v3 paper's RMSProp
settings as a documented preset (`nas train NAME --recipe inception_v3`; options typed after it override it).

Szegedy et al. 2016 ("Rethinking the Inception Architecture", sections 7-8, quoted as recalled): "RMSProp with decay of 0.9 and
epsilon = 1.0", a learning rate of 0.045 "decayed every two epoch using an exponential rate of 0.94",
gradient clipping at 2.0, batch size 32 per replica, label smoothing 0.1. TF-slim's training script (read at tensorflow/models commit 64f40ce1), which
trained the released Inception-v3 (tensorflow/models research/slim/train_image_classifier.py), adds what the
paper leaves out: RMSProp momentum 0.9, weight decay 4e-5, and the auxiliary head's loss at weight 0.4.

How the preset maps that onto this trainer:

- optimizer rmsprop, rmsprop_decay 0.9, optimizer_eps 1.0, momentum 0.9: the paper's and TF-slim's, on
  PyTorch's RMSprop (eps after the square root; see nas/training/optim.py);
- lr 0.045 at batch_size 32: the paper's rate per update of 32 images (its 50 replicas applied their
  updates asynchronously, each a batch of 32), so no batch-size scaling;
- schedule cosine: the paper's staircase (x0.94 every 2 epochs, so x0.21 half way through 100 epochs and
  x0.045 at the end) is no schedule here; cosine decays to zero from the same peak, and keeps the proxy's
  short linear warm-up in place of the paper's gradient clipping, which this trainer does not do;
- weight_decay 4e-5 (TF-slim), label_smoothing 0.1 (the paper's, also the proxy's), aux on (the spec's
  auxiliary head with the weight it carries: 0.4 for inception_v3, 0.3 per head for GoogLeNet).
"""
from __future__ import annotations

import dataclasses
from typing import Callable

from nas.training.train import PROXY, ConfigError, TrainConfig


def inception_v3_recipe(base: TrainConfig = PROXY) -> TrainConfig:
    """`base` with the Inception-v3 paper's optimiser and learning rate (see the module docstring)."""
    return dataclasses.replace(base, optimizer="rmsprop", lr=0.045, batch_size=32, momentum=0.9, rmsprop_decay=0.9,
                               optimizer_eps=1.0, weight_decay=4e-5, label_smoothing=0.1, schedule="cosine", aux=True)


RECIPES: dict[str, Callable[[], TrainConfig]] = {"proxy": lambda: PROXY, "inception_v3": inception_v3_recipe}


def recipe(name: str) -> TrainConfig:
    """The recipe called `name`; ConfigError listing the names."""
    if name not in RECIPES:
        raise ConfigError(f"unknown recipe {name!r}; known: {', '.join(RECIPES)}")
    return RECIPES[name]()


def describe_optimizer(config: TrainConfig) -> str:
    """The optimiser and the settings it uses, in one phrase."""
    if config.optimizer == "rmsprop":
        detail = f"decay {config.rmsprop_decay:g}, eps {config.optimizer_eps:g}, momentum {config.momentum:g}"
    elif config.optimizer == "adamw":
        detail = f"betas ({config.momentum:g}, {config.beta2:g}), eps {config.optimizer_eps:g}"
    else:
        detail = f"Nesterov momentum {config.momentum:g}"
    return (f"{config.optimizer} (lr {config.lr:g} at batch {config.batch_size}, {detail}, weight decay "
            f"{config.weight_decay:g}, {config.schedule} schedule)")
