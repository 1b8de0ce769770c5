"""Stochastic depth on a residual branch: the function the residual cells call in their forward.

A block's drop probability is a plain float attribute `drop_path` (0.0 unless `network.build` sets it
from the spec's `DropPath` rule), so the module tree and the state dict are those of a network without it.
"""
from __future__ import annotations

from torch import Tensor


def drop_path(branch: Tensor, p: float, training: bool) -> Tensor:
    """In training, zero the residual branch of each sample with probability p and scale the kept ones by
    1 / (1 - p) (torchvision's StochasticDepth(p, "row"), timm's drop_path); the identity otherwise."""
    if p == 0.0 or not training:
        return branch
    keep = 1.0 - p
    mask = branch.new_empty((branch.shape[0],) + (1,) * (branch.dim() - 1)).bernoulli_(keep)
    return branch * mask.div_(keep)
