"""Specs from what users type (a backbone name or a spec JSON file), their cost summary, and every named
backbone's count paired with its reference figures (`nas backbones`)."""
from __future__ import annotations

import dataclasses
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from nas.files import writable_file
from search_spaces import backbones
from search_spaces.counting import aux_costs, count
from search_spaces.errors import SpecError
from search_spaces.settings import describe
from search_spaces.spec import NetSpec, from_json

MAX_SPEC_BYTES = 10 * 2**20


def load_spec(ref: str, resolution: int | None = None) -> NetSpec:
    """The spec named by `ref`: a backbone name (see `nas backbones`) or a path to spec JSON."""
    if ref in backbones.TABLE:
        spec = backbones.get(ref)
    else:
        path = Path(ref)
        if not path.is_file():
            raise SpecError(f"{ref!r} is neither a spec JSON file nor a backbone name (see `nas backbones`)")
        if path.stat().st_size > MAX_SPEC_BYTES:
            raise SpecError(f"{ref}: spec file larger than {MAX_SPEC_BYTES // 2**20} MiB; a spec is a few KB of JSON")
        try:
            text = path.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as err:
            raise SpecError(f"{ref}: cannot read spec file ({err.__class__.__name__})") from None
        try:
            spec = from_json(text)
        except SpecError as err:
            raise SpecError(f"{ref}: {err}") from None
    return spec if resolution is None else dataclasses.replace(spec, resolution=resolution)


def save_spec(spec: NetSpec, path: str | Path) -> Path:
    """Write `spec` as JSON to `path` (its directory created); OutputError when it cannot be written."""
    path = writable_file(path)
    path.write_text(spec.to_json() + "\n")
    return path


def cost_summary(spec: NetSpec) -> dict[str, Any]:
    """The figures `nas count` shows, as data: the deployed network, and for a spec with auxiliary heads
    (training only) the network with them under "aux" (or why they do not fit at this resolution)."""
    cost = count(spec)
    summary: dict[str, Any] = {
        "digest": spec.digest(),
        "resolution": spec.resolution,
        "macs": cost.macs,
        "params": cost.params,
        "activations": cost.acts,
        "blocks": sum(b.repeats for s in spec.stages for b in s.blocks),
    }
    if spec.aux:
        heads = [{"where": h.where, "weight": h.weight} for h in spec.aux]
        try:
            costs = aux_costs(spec)
        except SpecError as err:
            return summary | {"aux": {"heads": heads, "error": str(err)}}
        for head, c in zip(heads, costs):
            head |= {"macs": c.macs, "params": c.params}
        summary["aux"] = {"heads": heads, "macs": cost.macs + sum(c.macs for c in costs),
                          "params": cost.params + sum(c.params for c in costs)}
    return summary


@dataclass(frozen=True)
class FixedPoint:
    """Our count of a backbone against its reference (None where the reference publishes no figure)."""

    name: str
    family: str
    resolution: int
    params: int
    macs: int
    ref_params: int | None
    ref_macs: int | None
    ref_macs_tol: int
    source: str
    paper: str
    note: str
    settings: str = ""  # BN settings and stochastic depth where they differ from the defaults

    @property
    def params_match(self) -> bool | None:
        return None if self.ref_params is None else self.params == self.ref_params

    @property
    def macs_match(self) -> bool | None:
        return None if self.ref_macs is None else abs(self.macs - self.ref_macs) <= self.ref_macs_tol

    def to_dict(self) -> dict:
        return asdict(self) | {"params_match": self.params_match, "macs_match": self.macs_match}


def fixed_points(names: list[str] | None = None) -> list[FixedPoint]:
    """Count every backbone (or those named) and pair it with its reference."""
    rows = []
    for name in names or backbones.names():
        row = backbones.row(name)
        ref = row.reference
        spec = row.make()
        cost = count(spec)
        rows.append(FixedPoint(name, row.family, row.resolution, cost.params, cost.macs, ref.params, ref.macs,
                               ref.macs_tol, ref.source, ref.paper, ref.note, describe(spec.norm, spec.drop_path)))
    return rows
