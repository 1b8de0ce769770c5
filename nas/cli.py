"""The `nas` command: parse arguments, call the Python API, print. No logic of its own.

Every user error is one line on stderr and exit code 2.
"""
from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Callable, Sequence

from search_spaces import cells
from search_spaces.errors import NasError

from nas.budget import format_flops, format_params
from nas.fixed_points import fixed_points
from nas.specs import cost_summary, load_spec

FLOPS_NOTE = "FLOPs are multiply-adds of conv and linear layers (the ResNet/MobileNet/EfficientNet convention)"


def _count(args: argparse.Namespace) -> None:
    spec = load_spec(args.spec, args.resolution)
    summary = cost_summary(spec)
    if args.json:
        print(json.dumps(summary | {"spec": args.spec}, indent=2))
        return
    print(f"{args.spec}  (digest {summary['digest'][:12]}, {summary['resolution']}x{summary['resolution']})")
    print(f"  FLOPs        {format_flops(summary['macs']):>9}  ({summary['macs']:,} multiply-adds)")
    print(f"  params       {format_params(summary['params']):>9}  ({summary['params']:,})")
    print(f"  activations  {format_params(summary['activations']):>9}  ({summary['activations']:,} conv/linear outputs)")
    print(f"  {FLOPS_NOTE}.")


def _cells(args: argparse.Namespace) -> None:
    import dataclasses

    for cell in cells.CELLS.values():
        fields = ", ".join(
            f.name if f.default is dataclasses.MISSING else f"{f.name}={f.default!r}" for f in dataclasses.fields(cell.args)
        )
        print(f"{cell.name:<16} [{cell.role}] {cell.doc}\n{'':<17}{fields}")


def _mark(match: bool | None) -> str:
    return {True: "exact", False: "DIFF", None: "-"}[match]


def _backbones(args: argparse.Namespace) -> None:
    rows = fixed_points(args.names or None)
    if args.json:
        print(json.dumps([r.to_dict() for r in rows], indent=2))
        return
    header = f"{'backbone':<24}{'res':>5}{'params':>13}{'ref params':>13}{'':>7}{'FLOPs':>16}{'ref FLOPs':>16}{'':>7}  source"
    print(header)
    for r in rows:
        ref_p = "-" if r.ref_params is None else f"{r.ref_params:,}"
        ref_m = "-" if r.ref_macs is None else f"{r.ref_macs:,}" + ("" if not r.ref_macs_tol else "~")
        print(f"{r.name:<24}{r.resolution:>5}{r.params:>13,}{ref_p:>13}{_mark(r.params_match):>7}"
              f"{r.macs:>16,}{ref_m:>16}{_mark(r.macs_match):>7}  {r.source}")
    print(f"{FLOPS_NOTE}; '~' marks a reference printed rounded (matched within its rounding).")


def _export_spec(args: argparse.Namespace) -> None:
    spec = load_spec(args.name, args.resolution)
    text = spec.to_json() + "\n"
    if args.output in (None, "-"):
        sys.stdout.write(text)
        return
    Path(args.output).write_text(text)
    print(f"wrote {args.output} ({spec.digest()[:12]})")


def parser() -> argparse.ArgumentParser:
    """The argument parser of every subcommand."""
    top = argparse.ArgumentParser(prog="nas", description="Neural architecture search and scaling toolkit.")
    sub = top.add_subparsers(dest="command", required=True)

    p = sub.add_parser("count", help="FLOPs (multiply-adds), parameters and activations of a spec")
    p.add_argument("spec", help="spec JSON file or backbone name")
    p.add_argument("--resolution", type=int, help="input side in pixels (default: the spec's)")
    p.add_argument("--json", action="store_true", help="machine-readable output")
    p.set_defaults(run=_count)

    p = sub.add_parser("cells", help="list the cells and their arguments")
    p.set_defaults(run=_cells)

    p = sub.add_parser("backbones", help="every named backbone against its reference figures")
    p.add_argument("names", nargs="*", help="only these backbones")
    p.add_argument("--json", action="store_true", help="machine-readable output")
    p.set_defaults(run=_backbones)

    p = sub.add_parser("export-spec", help="write a backbone's spec JSON to edit")
    p.add_argument("name", help="backbone name or spec JSON file")
    p.add_argument("-o", "--output", help="output file (default: standard output)")
    p.add_argument("--resolution", type=int, help="input side in pixels (default: the backbone's)")
    p.set_defaults(run=_export_spec)
    return top


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the `nas` console script."""
    args = parser().parse_args(argv)
    run: Callable[[argparse.Namespace], None] = args.run
    try:
        run(args)
    except NasError as err:
        print(f"nas {args.command}: error: {err}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print(f"nas {args.command}: interrupted", file=sys.stderr)
        return 130
    return 0
