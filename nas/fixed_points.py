"""Each named backbone beside its reference: the table `nas backbones` prints and experiments/ records."""
from __future__ import annotations

from dataclasses import asdict, dataclass

from search_spaces import backbones
from search_spaces.network import count
from search_spaces.settings import describe


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
