"""Every named backbone against its reference: are the fixed points the networks they are named after?

Claim: for every named backbone with a published reference, our closed-form count (`search_spaces.counting.count`,
multiply-adds of conv and linear weights, bias excluded) gives the reference's parameter count exactly and its
multiply-adds exactly or within the printed rounding (`macs_tol`). Where the paper's own figures differ from the
reference implementation, the Reference's `note` says why; the second table lists them.

Method: `nas.fixed_points.fixed_points()` (what `nas backbones` prints); counting only, no weights, no training.
Hardware and versions are written into the result, experiments/fixed_points.md (and fixed_points.json beside it).
Run: .venv/bin/python experiments/fixed_points.py
"""
from __future__ import annotations

import json
import os
import platform
from pathlib import Path

import torch
from common import cpu_name

from nas.specs import FixedPoint, fixed_points

HERE = Path(__file__).resolve().parent
COMMAND = ".venv/bin/python experiments/fixed_points.py"
CONFIG = {"names": None}  # None: every backbone in search_spaces.backbones.names(); no other settings


def _mark(match: bool | None) -> str:
    return {True: "exact", False: "**differs**", None: "no reference"}[match]


def _macs_mark(row: FixedPoint) -> str:
    if row.macs_match is None:
        return "no reference"
    if not row.macs_match:
        return f"**differs by {row.macs - row.ref_macs:+,}**"
    return "exact" if row.macs == row.ref_macs else f"within ±{row.ref_macs_tol:,} (printed rounding)"


def _fmt(value: int | None) -> str:
    return "-" if value is None else f"{value:,}"


def _cell(text: str) -> str:
    """Text safe inside a Markdown table cell."""
    return (text or "-").replace("|", "/").replace("\n", " ")


def count_table(rows: list[FixedPoint]) -> list[str]:
    """Ours beside the reference: params and multiply-adds, with the verdict of each."""
    lines = ["| backbone | family | res | params (ours) | params (ref) | params | MACs (ours) | MACs (ref) | MACs | source |",
             "|---|---|---|---|---|---|---|---|---|---|"]
    for r in rows:
        lines.append(f"| {r.name} | {r.family} | {r.resolution} | {_fmt(r.params)} | {_fmt(r.ref_params)} | "
                     f"{_mark(r.params_match)} | {_fmt(r.macs)} | {_fmt(r.ref_macs)} | {_macs_mark(r)} | {_cell(r.source)} |")
    return lines


def paper_table(rows: list[FixedPoint]) -> list[str]:
    """The paper's own figures beside the reference, and the recorded reason for any difference."""
    lines = ["| backbone | paper's figures (as printed) | why the paper, the reference and ours differ |", "|---|---|---|"]
    for r in rows:
        lines.append(f"| {r.name} | {_cell(r.paper)} | {_cell(r.note) if r.note else 'no difference recorded'} |")
    return lines


def summary(rows: list[FixedPoint]) -> str:
    """One paragraph: how many match, how many have no reference, which differ."""
    referenced = [r for r in rows if r.ref_params is not None or r.ref_macs is not None]
    exact_params = sum(bool(r.params_match) for r in referenced)
    exact_macs = sum(r.macs_match is True and r.macs == r.ref_macs for r in referenced)
    within = sum(r.macs_match is True and r.macs != r.ref_macs for r in referenced)
    bad = [r.name for r in referenced if r.params_match is False or r.macs_match is False]
    unref = [r.name for r in rows if r not in referenced]
    return (f"{len(rows)} backbones; {len(referenced)} with a reference: params exact for {exact_params}/{len(referenced)}; "
            f"multiply-adds exact for {exact_macs} and within the printed rounding for {within}; "
            f"differing: {', '.join(bad) or 'none'}. Without a single-network reference: {', '.join(unref) or 'none'} "
            "(their paper figures are means over random graphs; see the second table).")


def main() -> None:
    rows = fixed_points(CONFIG["names"])
    header = [
        "# Fixed points: every named backbone against its reference",
        "",
        ("**Claim tested:** each named backbone counts (params, multiply-adds of conv and linear weights, bias excluded) "
        "exactly as the reference implementation it names, or within the rounding of the printed figure."),
        "",
        f"**Result:** {summary(rows)}",
        "",
        "## Command",
        "",
        "```", COMMAND, "```",
        "",
        (f"Hardware: {cpu_name()}, {os.cpu_count()} cores. Versions: python {platform.python_version()}, "
        f"torch {torch.__version__}. Counting only (closed-form `count()`, nothing built or trained); "
        f"config: {json.dumps(CONFIG)}. Raw rows: experiments/fixed_points.json."),
        "",
        "## Ours against the reference",
        "",
        "MACs = multiply-adds (what the papers call FLOPs). 'within ±N' means the reference prints a rounded figure.",
        "",
    ]
    body = ["", "## The paper's figures and why they differ", "",
            "The `paper` and `note` fields of each `Reference` (search_spaces/backbones/<family>.py).", ""]
    text = "\n".join(header + count_table(rows) + body + paper_table(rows)) + "\n"
    (HERE / "fixed_points.md").write_text(text)
    (HERE / "fixed_points.json").write_text(json.dumps([r.to_dict() for r in rows], indent=1) + "\n")


if __name__ == "__main__":
    main()
