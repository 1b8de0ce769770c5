"""`nas count | cells | backbones | export-spec | spaces | sample`: what networks and spaces there are, and
what they cost. Nothing is trained; none of these imports the search (Ray, Optuna)."""
from __future__ import annotations

import argparse
import dataclasses
import itertools
import json
import sys
from pathlib import Path

from nas.budget import format_flops, format_params, parse_budget
from nas.cli.show import FLOPS_NOTE
from nas.search.config import parse_fix
from nas.specs import cost_summary, fixed_points, load_spec, save_spec
from search_spaces import cells, spaces
from search_spaces.counting import count
from search_spaces.errors import SpaceError


def _count(args: argparse.Namespace) -> None:
    from nas.search.refs import resolve

    spec = resolve(args.spec, args.lookup_run).spec
    spec = spec if args.resolution is None else dataclasses.replace(spec, resolution=args.resolution)
    summary = cost_summary(spec)
    if args.json:
        print(json.dumps(summary | {"spec": args.spec}, indent=2))
        return
    print(f"{args.spec}  (digest {summary['digest'][:12]}, {summary['resolution']}x{summary['resolution']})")
    print(f"  FLOPs        {format_flops(summary['macs']):>9}  ({summary['macs']:,} multiply-adds)")
    print(f"  params       {format_params(summary['params']):>9}  ({summary['params']:,})")
    print(f"  activations  {format_params(summary['activations']):>9}  ({summary['activations']:,} conv/linear outputs)")
    if "aux" in summary:
        _print_aux(summary["aux"])
    print(f"  {FLOPS_NOTE}.")


def _print_aux(aux: dict) -> None:
    """The network with its auxiliary heads, which only training builds."""
    where = ", ".join(f"{h['weight']:g} x loss after {h['where']}" for h in aux["heads"])
    print(f"  with its {len(aux['heads'])} auxiliary head(s), training only ({where}):")
    if "error" in aux:
        print(f"    {aux['error']}")
        return
    print(f"  FLOPs        {format_flops(aux['macs']):>9}  ({aux['macs']:,} multiply-adds)")
    print(f"  params       {format_params(aux['params']):>9}  ({aux['params']:,})")


def _cells(args: argparse.Namespace) -> None:
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
    header = f"{'backbone':<27}{'res':>5}{'params':>13}{'ref params':>13}{'':>7}{'FLOPs':>16}{'ref FLOPs':>16}{'':>7}  source"
    print(header)
    for r in rows:
        ref_p = "-" if r.ref_params is None else f"{r.ref_params:,}"
        ref_m = "-" if r.ref_macs is None else f"{r.ref_macs:,}" + ("" if not r.ref_macs_tol else "~")
        print(f"{r.name:<27}{r.resolution:>5}{r.params:>13,}{ref_p:>13}{_mark(r.params_match):>7}"
              f"{r.macs:>16,}{ref_m:>16}{_mark(r.macs_match):>7}  {r.source}{r.settings and '; ' + r.settings}")
    print(f"{FLOPS_NOTE}; '~' marks a reference printed rounded (matched within its rounding).")


def _export_spec(args: argparse.Namespace) -> None:
    spec = load_spec(args.name, args.resolution)
    if args.output in (None, "-"):
        sys.stdout.write(spec.to_json() + "\n")
        return
    save_spec(spec, args.output)
    print(f"wrote {args.output} ({spec.digest()[:12]})")


def _parameters(space: spaces.Space) -> list[dict]:
    """The space's declared parameters as dicts (name, kind, range, condition, note), or for a space that
    declares none, those seeded draws make (`describe()`: no condition known)."""
    declared = space.parameters()
    if declared:
        return [p.to_dict() for p in declared]
    return [{"name": name, "allowed": allowed, "when": None, "note": "gathered from seeded draws: the space declares "
             "no parameters"} for name, allowed in space.describe().items()]


def _spaces(args: argparse.Namespace) -> None:
    from search_spaces.spaces.audit import typical_size

    chosen = [spaces.get(name) for name in args.names] or spaces.SPACES.values()
    if args.json:
        print(json.dumps([{"name": s.name, "description": s.description, "fixed_points": list(s.fixed_points),
                           "search_defaults": dict(s.defaults),
                           "search_limits": {n: {"value": lim.value, "bound": lim.bound, "unit": lim.unit}
                                             for n, lim in s.limits.items()},
                           "parameters": _parameters(s),
                           "typical_parameter_count": dataclasses.asdict(typical_size(s))} for s in chosen],
                         indent=2))
        return
    for space in chosen:
        print(f"{space.name}: {space.description}")
        print(f"  fixed points: {', '.join(space.fixed_points) or '-'}")
        held = ", ".join(f"{k}={v!r}" for k, v in space.defaults.items()) or "nothing (every parameter is drawn)"
        print(f"  a search holds fixed by default: {held}  (--free NAME draws it)")
        for name, lim in space.limits.items():
            print(f"  a search keeps by default: {name}={lim.value} ({lim.bound} {lim.value} {lim.unit}; "
                  f"--free {name} lifts it, --fix {name}=N moves it)")
        size, params = typical_size(space), _parameters(space)
        kind = "declared, in the order a draw makes them" if space.parameters() else "the space declares none: " \
            "gathered from seeded draws, each with its last draw's range"
        print(f"  parameters ({len(params)} {kind}); a typical point has {size.median:g} "
              f"(median of {size.draws} seeded draws, {size.low} to {size.high}):")
        for p in params:
            print(f"    {p['name']:<34} {p['allowed']}" + (f"   if {p['when']}" if p["when"] else ""))
            if p["note"] and p["when"] is not None:
                print(f"    {'':<34}   ({p['note']})")
    print("{x} in a name stands for an index from 1 (s a stage, r a row, j a block); 'if' says when a point has "
          "the parameter, and each range is the whole range it can take (earlier choices may narrow it where noted).")


def _sample(args: argparse.Namespace) -> None:
    space = spaces.get(args.space)
    budget = None if args.budget is None else parse_budget(args.budget)
    if args.n < 1:
        raise SpaceError(f"-n must be at least 1, got {args.n}")
    fixed = space.distribution(parse_fix(args.fix), args.free)
    specs = list(itertools.islice(space.samples(args.seed, budget, fixed=fixed), args.n))
    saved = [save_spec(s, Path(args.save) / f"{s.digest()[:16]}.json") for s in specs] if args.save else []
    if args.json:
        print(json.dumps([{"digest": s.digest(), "macs": count(s).macs, "params": count(s).params,
                           "point": space.encode(s), "spec": s.to_dict()} for s in specs], indent=2))
        return
    within = "" if budget is None else f" within {format_flops(budget)} FLOPs"
    print(f"{len(specs)} candidates from space {space.name!r} (seed {args.seed}){within}")
    print(f"{'#':>3}{'res':>6}{'FLOPs':>10}{'params':>10}  digest")
    for i, spec in enumerate(specs, 1):
        cost = count(spec)
        print(f"{i:>3}{spec.resolution:>6}{format_flops(cost.macs):>10}{format_params(cost.params):>10}  {spec.digest()[:16]}")
    if saved:
        print(f"wrote {len(saved)} spec files {Path(args.save) / 'DIGEST.json'} (nas train {saved[0]} trains the "
              "first)")
    print(f"{FLOPS_NOTE}.")


def add_commands(sub: argparse._SubParsersAction) -> None:
    """Register count, cells, backbones, export-spec, spaces and sample."""
    p = sub.add_parser("count", help="FLOPs (multiply-adds), parameters and activations of a spec")
    p.add_argument("spec", help="spec JSON file, backbone name, RUN#TRIAL, RUN#DIGEST or a digest")
    p.add_argument("--run", dest="lookup_run", metavar="RUN", help="search run directory a bare digest is looked up in")
    p.add_argument("--resolution", type=int, help="input side in pixels (default: the spec's)")
    p.add_argument("--json", action="store_true", help="machine-readable output")
    p.set_defaults(run=_count)

    sub.add_parser("cells", help="list the cells and their arguments").set_defaults(run=_cells)

    p = sub.add_parser("backbones", help="every named backbone against its reference figures")
    p.add_argument("names", nargs="*", help="only these backbones")
    p.add_argument("--json", action="store_true", help="machine-readable output")
    p.set_defaults(run=_backbones)

    p = sub.add_parser("export-spec", help="write a backbone's spec JSON to edit")
    p.add_argument("name", help="backbone name or spec JSON file")
    p.add_argument("-o", "--output", help="output file (default: standard output)")
    p.add_argument("--resolution", type=int, help="input side in pixels (default: the backbone's)")
    p.set_defaults(run=_export_spec)

    p = sub.add_parser("spaces", help="the search spaces: description, fixed points, parameters and ranges")
    p.add_argument("names", nargs="*", help="only these spaces")
    p.add_argument("--json", action="store_true", help="machine-readable output")
    p.set_defaults(run=_spaces)

    p = sub.add_parser("sample", help="seeded random networks from a space, optionally within a FLOPs budget")
    p.add_argument("--space", required=True, help="search space (see `nas spaces`)")
    p.add_argument("--budget", help="FLOPs (multiply-adds) budget, e.g. 300M, 300MFLOPs, 0.3G")
    p.add_argument("-n", type=int, default=10, help="how many candidates (default 10)")
    p.add_argument("--seed", type=int, default=0, help="random seed (the same seed gives the same candidates)")
    p.add_argument("--json", action="store_true", help="machine-readable output: cost, digest, point and spec")
    p.add_argument("--save", metavar="DIR", help="write each candidate's spec as DIR/DIGEST.json (the digest's "
                                                 "first 16 digits, as printed): a file nas train and count take")
    p.add_argument("--fix", nargs="+", action="extend", default=[], metavar="NAME=VALUE",
                   help="hold these parameters fixed, as a search does (see `nas search --help`)")
    p.add_argument("--free", nargs="+", action="extend", default=[], metavar="NAME",
                   help="draw these parameters that the space's default search distribution holds fixed (all: "
                   "every one), or lift its limits")
    p.set_defaults(run=_sample)
