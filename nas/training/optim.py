"""The optimiser of the training recipe: SGD with Nesterov momentum (the proxy's), RMSProp (the Inception-v3
paper's) or AdamW, built from the recipe's settings on the trainer's two parameter groups.

- `sgd`: torch.optim.SGD(momentum, nesterov=True); weight decay as L2 on the decayed group.
- `rmsprop`: torch.optim.RMSprop(alpha=rmsprop_decay, eps=optimizer_eps, momentum). PyTorch adds eps after
  the square root and starts the mean square at 0; TensorFlow's RMSPropOptimizer, which trained the
  Inception nets, adds it under the root and starts at 1. With the paper's eps = 1.0 both divide a small
  gradient by about 1 (then by more as the mean square grows).
- `adamw`: torch.optim.AdamW(betas=(momentum, beta2), eps=optimizer_eps), weight decay decoupled from the
  gradient (Loshchilov & Hutter); it wants a learning rate near 1e-3 and a weight decay near 0.05, not the
  proxy's 0.05 and 5e-5.

The learning rate of every group is set per step by the trainer's schedule; the optimiser's own is a start.
"""
from __future__ import annotations

from typing import Any

import torch

OPTIMIZERS = ("sgd", "rmsprop", "adamw")


def make_optimizer(groups: list[dict], config: Any) -> torch.optim.Optimizer:
    """The recipe's optimiser (`config.optimizer`, one of OPTIMIZERS) over `groups` (each with its own
    weight decay: the trainer's decayed weights and undecayed norms and biases)."""
    if config.optimizer == "rmsprop":
        return torch.optim.RMSprop(groups, lr=config.lr, alpha=config.rmsprop_decay, eps=config.optimizer_eps,
                                   momentum=config.momentum)
    if config.optimizer == "adamw":
        return torch.optim.AdamW(groups, lr=config.lr, betas=(config.momentum, config.beta2), eps=config.optimizer_eps)
    return torch.optim.SGD(groups, lr=config.lr, momentum=config.momentum, nesterov=True)
