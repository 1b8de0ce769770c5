"""Per-network settings that change what a network computes or how it trains, but never what it costs.

- `Norm`: eps and momentum of every BatchNorm layer. PyTorch's defaults (1e-5, 0.1) unless the reference
  sets others (eps 1e-3 in the TF-ported Inception nets; eps 1e-3, momentum 0.01 in MobileNetV3 and
  EfficientNet-B5..B7 of torchvision).
- `DropPath`: stochastic depth on residual branches. `rate` with the "linear" rule gives stage block i of n
  (0-based, over every block b1.. of every stage s1..sN, copies of a repeated row included) the drop
  probability rate * i / n: torchvision's EfficientNet `stochastic_depth_prob` and timm's `drop_path_rate`
  for EfficientNet. "constant" gives every block `rate`. Blocks without a residual branch ignore it.

Dropout lives in the head cells' arguments (`ClassifierArgs.dropout`). A spec with default settings
writes no key for them, so specs written before these settings existed read back, and digest, as before.
"""
from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any

from search_spaces.errors import SpecError, check_choice, check_float

DROP_PATH_RULES = ("linear", "constant")


@dataclass(frozen=True)
class Norm:
    """BatchNorm settings of every BN layer of a network (PyTorch's defaults unless set)."""

    eps: float = 1e-5
    momentum: float = 0.1  # weight of the new batch in the running statistics (PyTorch's convention)

    def __post_init__(self) -> None:
        check_float("norm", "eps", self.eps, 1e-12, 1.0)
        check_float("norm", "momentum", self.momentum, 0.0, 1.0)


@dataclass(frozen=True)
class DropPath:
    """Stochastic depth: the drop probability of each residual branch in training, by a per-block rule."""

    rate: float = 0.0
    rule: str = "linear"

    def __post_init__(self) -> None:
        check_float("drop_path", "rate", self.rate, 0.0, 0.99)
        check_choice("drop_path", "rule", self.rule, DROP_PATH_RULES)

    def rates(self, blocks: int) -> list[float]:
        """The drop probability of each of `blocks` stage blocks, in order."""
        if self.rule == "constant":
            return [self.rate] * blocks
        return [self.rate * i / blocks for i in range(blocks)]


DEFAULT_NORM = Norm()
DEFAULT_DROP_PATH = DropPath()
SETTINGS = {"norm": Norm, "drop_path": DropPath}  # spec JSON key -> dataclass


def check_settings(norm: Any, drop_path: Any) -> None:
    """NetSpec's own check that its settings fields hold the settings dataclasses."""
    if not isinstance(norm, Norm):
        raise SpecError(f"a spec's norm must be a Norm, got {type(norm).__name__}")
    if not isinstance(drop_path, DropPath):
        raise SpecError(f"a spec's drop_path must be a DropPath, got {type(drop_path).__name__}")


def settings_to_dict(norm: Norm, drop_path: DropPath) -> dict[str, Any]:
    """The spec JSON keys of the settings that differ from the defaults (none for a default network)."""
    out: dict[str, Any] = {}
    if norm != DEFAULT_NORM:
        out["norm"] = dataclasses.asdict(norm)
    if drop_path != DEFAULT_DROP_PATH:
        out["drop_path"] = dataclasses.asdict(drop_path)
    return out


def settings_from_dict(data: dict[str, Any]) -> dict[str, Any]:
    """NetSpec keyword arguments from the settings keys of spec JSON, with one-line errors."""
    out: dict[str, Any] = {}
    for key, kind in SETTINGS.items():
        if key not in data:
            continue
        raw = data[key]
        fields = {f.name for f in dataclasses.fields(kind)}
        if not isinstance(raw, dict) or set(raw) - fields:
            raise SpecError(f"spec {key!r} must be an object with keys from {sorted(fields)}, got {str(raw)[:60]!r}")
        if key == "drop_path" and not isinstance(raw.get("rule", "linear"), str):
            raise SpecError(f"drop_path rule must be a string, got {raw['rule']!r}")
        out[key] = kind(**raw)
    return out


def describe(norm: Norm, drop_path: DropPath) -> str:
    """One phrase naming the settings that differ from the defaults ('' when none do)."""
    parts = []
    if norm.eps != DEFAULT_NORM.eps:
        parts.append(f"BN eps {norm.eps:g}")
    if norm.momentum != DEFAULT_NORM.momentum:
        parts.append(f"BN momentum {norm.momentum:g}")
    if drop_path.rate:
        parts.append(f"drop path {drop_path.rate:g} ({drop_path.rule})")
    return ", ".join(parts)


def without_settings(spec: Any) -> Any:
    """The spec with the default settings and no auxiliary heads: its deployed architecture, which is what a
    search space encodes (a space built from templates, like the Inception space, decodes its points with the
    template's settings and without its training-only heads)."""
    if spec.norm == DEFAULT_NORM and spec.drop_path == DEFAULT_DROP_PATH and not spec.aux:
        return spec
    return dataclasses.replace(spec, norm=DEFAULT_NORM, drop_path=DEFAULT_DROP_PATH, aux=())
