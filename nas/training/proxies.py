"""Zero-cost scores: rank candidates from one batch at initialisation, without training.

- `synflow` (Tanaka et al. 2020; Abdelfattah et al. 2021): on the linearised network (every parameter
  made positive, activations replaced by the identity), the sum over conv/linear weights of
  weight * d(sum of outputs)/d(weight) for an all-ones input. With positive weights and inputs a ReLU is
  already the identity; replacing it explicitly keeps ReLU6's clip at 6 from zeroing the flow of
  MobileNets. Computed in float64 with BN in eval mode (fresh running statistics make it the identity),
  as the reference implementation does by dropping BN.
- `naswot` (Mellor et al. 2021): log|K| where K[i, j] counts the activation units on which images i and j
  agree in sign (the binary activation pattern kernel, summed over every activation layer).
- `grad_norm`: the sum over conv/linear weights of the L2 norm of the cross-entropy gradient.
- `snip` (Lee et al. 2019): the sum over conv/linear weights of |weight * gradient|.

Each score works on a copy of the model, so the model passed in is left as it was.
"""
from __future__ import annotations

import copy
from typing import Callable, Iterator

import torch
from torch import Tensor, nn

from nas.training.data import normalize
from nas.training.evaluate import adapt
from nas.training.stream import Batches
from search_spaces.errors import NasError
from search_spaces.network import build
from search_spaces.spec import NetSpec

ACTIVATION_TYPES = (nn.ReLU, nn.ReLU6, nn.Hardswish, nn.SiLU, nn.GELU, nn.LeakyReLU, nn.ELU, nn.Mish)


def _weights(model: nn.Module) -> Iterator[nn.Parameter]:
    """The weights of every conv and linear layer (what the pruning-based scores sum over)."""
    for m in model.modules():
        if isinstance(m, (nn.Conv2d, nn.Linear)):
            yield m.weight


def synflow(model: nn.Module, x: Tensor) -> float:
    """Synaptic flow of the network at initialisation (only the input shape of `x` is used)."""
    net = copy.deepcopy(model).double().eval()
    for parent in list(net.modules()):
        for name, child in parent.named_children():
            if isinstance(child, ACTIVATION_TYPES):
                setattr(parent, name, nn.Identity())
    with torch.no_grad():
        for p in net.parameters():
            p.abs_()
    net.zero_grad()
    ones = torch.ones((1, *x.shape[1:]), dtype=torch.float64, device=x.device)
    net(ones).sum().backward()
    return float(sum((w.detach() * w.grad).sum() for w in _weights(net) if w.grad is not None))


def naswot(model: nn.Module, x: Tensor) -> float:
    """log|K| of the activation-pattern kernel over the batch (train-mode BN, no gradients)."""
    net = copy.deepcopy(model).train()
    n = x.shape[0]
    kernel = torch.zeros(n, n, dtype=torch.float64, device=x.device)

    def hook(_module: nn.Module, _inputs: tuple, output: Tensor) -> None:
        codes = (output.detach().reshape(n, -1) > 0).double()  # positive output <=> positive input here
        kernel.add_(codes @ codes.t() + (1 - codes) @ (1 - codes).t())

    handles = [m.register_forward_hook(hook) for m in net.modules() if isinstance(m, ACTIVATION_TYPES)]
    try:
        with torch.no_grad():
            net(x)
    finally:
        for h in handles:
            h.remove()
    return float(torch.linalg.slogdet(kernel)[1])


def _gradients(model: nn.Module, x: Tensor, y: Tensor) -> nn.Module:
    """A copy of the model holding the cross-entropy gradients of one train-mode batch."""
    net = copy.deepcopy(model).train()
    net.zero_grad()
    nn.functional.cross_entropy(net(x), y).backward()
    return net


def grad_norm(model: nn.Module, x: Tensor, y: Tensor) -> float:
    """Sum over conv/linear weights of the gradient's L2 norm."""
    net = _gradients(model, x, y)
    return float(sum(w.grad.pow(2).sum().sqrt() for w in _weights(net) if w.grad is not None))


def snip(model: nn.Module, x: Tensor, y: Tensor) -> float:
    """Sum over conv/linear weights of |weight * gradient| (connection sensitivity)."""
    net = _gradients(model, x, y)
    return float(sum((w.detach() * w.grad).abs().sum() for w in _weights(net) if w.grad is not None))


PROXIES: dict[str, Callable[[nn.Module, Tensor, Tensor], float]] = {
    "synflow": lambda model, x, y: synflow(model, x),
    "naswot": lambda model, x, y: naswot(model, x),
    "grad_norm": grad_norm,
    "snip": snip,
}


def score(spec: NetSpec, data: Batches, names: tuple[str, ...] = tuple(PROXIES), batch_size: int = 64,
          seed: int = 0) -> dict[str, float]:
    """Each named score of `spec` built for the dataset (its resolution, channels and classes), on one
    seeded batch of training images, from one seeded initialisation."""
    unknown = [n for n in names if n not in PROXIES]
    if unknown:
        raise NasError(f"unknown zero-cost score(s) {unknown}; known: {', '.join(PROXIES)}")
    proxy = adapt(spec, data)
    data = data.resized(proxy.resolution)  # itself unless the network needs a larger side
    x, y = data.sample(batch_size, seed)  # a seeded batch, the same for every network
    x = normalize(x, data)
    torch.manual_seed(seed)
    model = build(proxy).to(x.device)
    scores = {}
    for name in names:
        torch.manual_seed(seed)  # dropout draws, the same for every score
        scores[name] = PROXIES[name](model, x, y)
    return scores
