"""The training loss of a network with auxiliary heads (GoogLeNet's aux1/aux2, Inception-v3's AuxLogits).

A network built with its auxiliary heads (`build(spec, aux=True)`) returns (logits, [aux logits, ...]) in
training mode and carries each head's loss weight (`aux_weights`, from the spec); the loss is the main
cross-entropy plus each weight times its head's cross-entropy, as GoogLeNet's paper (0.3 per head) and
TF-slim's Inception-v3 training (0.4) add them. In eval mode the network returns the logits alone.
"""
from __future__ import annotations

from typing import Any, Callable

from torch import Tensor, nn


def training_loss(out: Any, labels: Tensor, loss_fn: Callable[[Tensor, Tensor], Tensor],
                  model: nn.Module) -> tuple[Tensor, Tensor]:
    """(the main logits, the loss): `loss_fn` on the logits, plus the weighted loss of each auxiliary head
    when the model returned them."""
    if not isinstance(out, tuple):
        return out, loss_fn(out.float(), labels)
    logits, extra = out
    weights = getattr(model, "aux_weights", ())
    if len(weights) != len(extra):
        raise ValueError(f"the model returned {len(extra)} auxiliary outputs but has {len(weights)} loss weights")
    loss = loss_fn(logits.float(), labels)
    for weight, aux in zip(weights, extra):
        loss = loss + weight * loss_fn(aux.float(), labels)
    return logits, loss


def describe_aux(spec: Any) -> tuple[str, ...]:
    """One phrase per auxiliary head of a spec: '0.3 x aux1 after s3.b2'."""
    return tuple(f"{head.weight:g} x aux{i} after {head.where}" for i, head in enumerate(spec.aux, 1))
