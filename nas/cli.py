"""The `nas` command: parse arguments, call the Python API, print. No logic of its own.

Every user error is one line on stderr and exit code 2.
"""
from __future__ import annotations

import argparse
import json
import sys
from typing import Callable, Sequence

from search_spaces import cells
from search_spaces.errors import NasError

from nas.budget import format_flops, format_params
from nas.fixed_points import fixed_points
from nas.specs import cost_summary, load_spec, save_spec
from nas.weights_cli import add_parser as add_weights_parser

FLOPS_NOTE = "FLOPs are multiply-adds of conv and linear layers (the ResNet/MobileNet/EfficientNet convention)"
DATA_HELP = "mnist (default), digits, cifar10:DIR, cifar100:DIR, folder:DIR or synthetic:CHANNELS,RESOLUTION,CLASSES,SIZE"


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


def _spaces(args: argparse.Namespace) -> None:
    from search_spaces import spaces

    chosen = [spaces.get(name) for name in args.names] or list(spaces.SPACES.values())
    if args.json:
        print(json.dumps([{"name": s.name, "description": s.description, "fixed_points": list(s.fixed_points),
                           "parameters": s.describe()} for s in chosen], indent=2))
        return
    for space in chosen:
        print(f"{space.name}: {space.description}")
        print(f"  fixed points: {', '.join(space.fixed_points) or '-'}")
        ranges = space.describe()
        print(f"  parameters ({len(ranges)}):")
        for name, allowed in ranges.items():
            print(f"    {name:<34} {allowed}")


def _sample(args: argparse.Namespace) -> None:
    import itertools

    from search_spaces import spaces
    from search_spaces.errors import SpaceError
    from search_spaces.network import count

    from nas.budget import parse_budget

    space = spaces.get(args.space)
    budget = None if args.budget is None else parse_budget(args.budget)
    if args.n < 1:
        raise SpaceError(f"-n must be at least 1, got {args.n}")
    specs = list(itertools.islice(space.samples(args.seed, budget), args.n))
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
    print(f"{FLOPS_NOTE}.")


def _front_table(front: list, objective: str = "macs", limit: int = 20) -> None:
    """The front, one network a line; a latency column when latency is the search's second objective."""
    from nas.records import describe

    latency = objective == "latency_ms"
    print(f"{'rank':>4}  {'accuracy':>8}  {'FLOPs':>8}  {'params':>8}  " + ("latency  " if latency else "")
          + f"{'digest':<12}  network")
    for i, r in enumerate(front[:limit], 1):
        name = f" [{r.named}]" if r.named else ""
        ms = f"{r.latency_ms:5.1f}ms  " if latency else ""
        print(f"{i:>4}  {r.accuracy:>8.4f}  {format_flops(r.macs):>8}  {format_params(r.params):>8}  {ms}"
              f"{r.digest[:12]:<12}  {describe(r.spec)}{name}")


def _progress_bar(p) -> None:
    width = 24
    filled = int(width * min(p.training_runs, p.total) / max(p.total, 1))
    best = "-" if p.best_accuracy is None else f"{p.best_accuracy:.4f}"
    last = f"trial {p.last.number} {p.last.status.replace('_', ' ')}"
    sys.stderr.write(f"\r[{'#' * filled}{'.' * (width - filled)}] {p.training_runs}/{p.total} training runs "
                     f"| best {best} | Pareto {p.pareto_size} | {last:<28}")
    sys.stderr.flush()


def _search(args: argparse.Namespace) -> None:
    import dataclasses

    import optuna

    from nas.budget import parse_budget
    from nas.data import parse_data
    from nas.search import PROXY, SearchConfig, check_space, mask_url, search

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    train = dataclasses.replace(PROXY, **{k: v for k, v in (("epochs", args.epochs), ("device", args.device))
                                          if v is not None})  # --epochs 0 is refused, not taken as unset
    config = SearchConfig(
        space=args.space, budget=parse_budget(args.budget), trials=args.trials, strategy=args.strategy,
        objective=args.objective, scheduler=args.scheduler, seed=args.seed, run_dir=args.run_dir, storage=args.storage,
        study_name=args.study_name, address=args.address, cpus_per_trial=args.cpus_per_trial,
        gpus_per_trial=args.gpus_per_trial, max_concurrent=args.max_concurrent, resume=args.resume,
        seed_backbones=not args.no_seed_backbones, train=train, data=parse_data(args.data))
    check_space(config)  # a bad space or budget is one line on stderr, before any other output
    t, d = config.train, config.data
    print(f"search: space {config.space}, budget {format_flops(config.budget)} FLOPs, strategy {config.strategy}, "
          f"{config.trials} training runs, scheduler {config.scheduler}, objective accuracy vs {config.objective}")
    print(f"data: {d.kind}{':' + d.path if d.path else ''} at {d.resolution or 'its own'} px; proxy: {t.epochs} epochs, "
          f"batch {t.batch_size}, lr {t.lr} {t.schedule}, label smoothing {t.label_smoothing}, {t.device}")
    print(f"study: {mask_url(config.storage_url)} ({config.study_name}); Ray: {config.address or 'local'}")
    result = search(config, progress=_progress_bar)
    sys.stderr.write("\n")
    _print_result(result)


def _print_result(result) -> None:
    s = result.summary
    hv = "-" if s.get("hypervolume") is None else f"{s['hypervolume']:.4f}"
    print(f"{s['trials']} trials {s['by_status']}; Pareto front of {s['pareto_size']}, hypervolume {hv}")
    if result.front:
        _front_table(result.front, s.get("objective", "macs"))
    elif s["by_status"].get("failed"):
        print("no network trained: the reason of each failed trial is in trials.csv (column failure)")
    else:  # the search stopped after max_proposals proposals that train nothing
        counts = ", ".join(f"{n:,} {status.replace('_', ' ')}" for status, n in s["by_status"].items())
        print(f"no network trained: every proposal was rejected before training ({counts}); see trials.csv "
              "(column failure)")
    print(f"{FLOPS_NOTE}.")
    print(f"files: {result.run_dir}/trials.csv, trials.json, pareto.json, pareto.png, summary.json")


def _report(args: argparse.Namespace) -> None:
    from nas.search import report

    _print_result(report(args.run_dir, args.storage))


def _export(args: argparse.Namespace) -> None:
    from nas.export import export

    path = export(args.run_dir, args.rank, args.format, args.output, args.storage)
    print(f"wrote {path}")


def _scale(args: argparse.Namespace) -> None:
    import dataclasses

    import optuna

    from nas.budget import parse_budget
    from nas.data import parse_data
    from nas.search import PROXY, SearchConfig
    from nas.sweeps import phi_sweep, search_coefficients, write_sweep
    from scaling.compound import CompoundScaling, largest_phi

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    base = load_spec(args.base)
    scaling = CompoundScaling(args.alpha, args.beta, args.gamma)
    print(f"compound scaling of {args.base}: alpha={scaling.alpha:g} (depth), beta={scaling.beta:g} (width), "
          f"gamma={scaling.gamma:g} (resolution); alpha*beta^2*gamma^2 = {scaling.flops_factor:.3f}")
    if args.to:
        phi, spec = largest_phi(base, parse_budget(args.to), scaling)
        args.phi = [phi]
        print(f"largest phi within {args.to}: {phi:g}")
    config = SearchConfig(space="phi", run_dir=args.run_dir, seed=args.seed, resume=args.resume, data=parse_data(args.data),
                          train=dataclasses.replace(PROXY, epochs=PROXY.epochs if args.epochs is None else args.epochs))
    if args.search_coefficients:
        best, rows = search_coefficients(base, config, args.trials, progress=_progress_bar)
        sys.stderr.write("\n")
        print(f"best coefficients: alpha={best.alpha:g}, beta={best.beta:g}, gamma={best.gamma:g}")
    else:
        train = args.train
        rows = phi_sweep(base, args.phi, scaling, train, config, progress=_progress_bar if train else None)
        if train:
            sys.stderr.write("\n")
    print(f"{'phi':>5} {'alpha/beta/gamma':>17} {'width':>7} {'depth':>7} {'res':>5} {'FLOPs':>9} {'params':>9} {'accuracy':>9}")
    for r in rows:
        acc = "-" if r.accuracy is None else f"{r.accuracy:.4f}"
        phi = "-" if r.phi is None else f"{r.phi:g}"
        print(f"{phi:>5} {r.coefficients:>17} {r.width:>7.3f} {r.depth:>7.3f} {r.resolution:>5} "
              f"{format_flops(r.macs):>9} {format_params(r.params):>9} {acc:>9}")
    files = write_sweep(args.run_dir, rows, f"{args.base}: compound scaling")
    print(f"{FLOPS_NOTE}.\nfiles: {', '.join(str(f) for f in files)}")


def _train(args: argparse.Namespace) -> None:
    import dataclasses

    from nas.data import parse_data
    from nas.evaluate import TrainConfig, evaluate

    spec = load_spec(args.spec)
    config = TrainConfig(device=args.device, seed=args.seed, latency=args.latency, threads=args.threads,
                         **({} if args.epochs is None else {"epochs": args.epochs}))

    def progress(r) -> None:
        bar = "#" * round(20 * r.epoch / r.epochs)
        print(f"epoch {r.epoch}/{r.epochs} [{bar:<20}] loss {r.train_loss:.3f}  train {r.train_accuracy:.1%}  "
              f"test {r.test_accuracy:.1%}  {r.seconds:.1f}s  {r.images_per_second:.0f} img/s", file=sys.stderr)

    metrics = evaluate(spec, config, parse_data(args.data), progress)
    if args.json:
        print(json.dumps(dataclasses.asdict(metrics) | {"spec": args.spec}, indent=2))
        return
    accuracy = "-" if metrics.accuracy is None else f"{metrics.accuracy:.2%}"
    side = f"{metrics.proxy_resolution}x{metrics.proxy_resolution}"
    if metrics.failure and metrics.epochs_run == 0:
        print(f"{args.spec}  not trained ({side} on {metrics.device})")
    elif metrics.failure:
        print(f"{args.spec}  failed in epoch {metrics.epochs_run} of {config.epochs} at {side} on {metrics.device}")
    else:
        print(f"{args.spec}  trained {metrics.epochs_run} epoch(s) at {side} on {metrics.device}")
    print(f"  accuracy     {accuracy:>9}" + (f"  (failed: {metrics.failure})" if metrics.failure else ""))
    print(f"  FLOPs        {format_flops(metrics.macs):>9}  ({metrics.macs:,} multiply-adds, deployed network)")
    print(f"  params       {format_params(metrics.params):>9}  ({metrics.params:,})")
    rate = f"{metrics.images_per_second:,.0f} images/s" if metrics.images_per_second else "no epoch completed"
    print(f"  train time   {metrics.train_seconds:>8.1f}s  ({rate})")
    if metrics.latency_ms is not None:
        print(f"  latency      {metrics.latency_ms:>7.2f}ms  batch 1; {metrics.latency_batch_ms:.2f} ms batch {config.latency_batch}")
    print(f"  {FLOPS_NOTE}.")


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
    p.set_defaults(run=_sample)

    p = sub.add_parser("search", help="budgeted search: Pareto front of accuracy vs FLOPs")
    p.add_argument("--space", default="mobile", help="search space (see `nas spaces`)")
    p.add_argument("--budget", default="300MFLOPs", help="FLOPs budget, e.g. 300M, 300MFLOPs, 0.3G, 4.1GFLOPs")
    p.add_argument("--trials", type=int, default=12,
                   help="training runs (a failed training counts; over-budget and duplicate candidates do not)")
    p.add_argument("--strategy", default="evolution", help="evolution, tpe, nsga2 or random")
    p.add_argument("--objective", default="flops", help="second objective: flops, params or latency")
    p.add_argument("--scheduler", default="asha", help="asha or fifo")
    p.add_argument("--epochs", type=int, help="proxy epochs per candidate (default 2)")
    p.add_argument("--data", help=DATA_HELP)
    p.add_argument("--device", choices=("cpu", "cuda", "auto"), help="training device (default cpu)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--run-dir", default="runs/search", help="where the study and results go")
    p.add_argument("--storage", help="study database URL (default: SQLite in the run directory)")
    p.add_argument("--study-name", default="nas")
    p.add_argument("--address", help="Ray cluster address (default: a local Ray)")
    p.add_argument("--cpus-per-trial", type=float, default=1.0)
    p.add_argument("--gpus-per-trial", type=float, default=0.0)
    p.add_argument("--max-concurrent", type=int, default=2)
    p.add_argument("--resume", action="store_true",
                   help="continue the study (after Ctrl-C, SIGTERM or a crash), or join it as another worker")
    p.add_argument("--no-seed-backbones", action="store_true",
                   help="do not start from the named backbones (default: those that fit, at most half the runs)")
    p.set_defaults(run=_search)

    p = sub.add_parser("report", help="print and redraw a search's results")
    p.add_argument("run_dir", metavar="RUN", help="run directory of a search")
    p.add_argument("--storage", help="study database URL, for runs whose --storage URL had a password (never written to run.json)")
    p.set_defaults(run=_report)

    p = sub.add_parser("export", help="write a network of a search's Pareto front")
    p.add_argument("run_dir", metavar="RUN", help="run directory of a search")
    p.add_argument("--rank", type=int, default=1, help="1 = most accurate on the front")
    p.add_argument("--format", default="spec", help="spec, torchscript or onnx")
    p.add_argument("-o", "--output", help="output file")
    p.add_argument("--storage", help="study database URL, for runs whose --storage URL had a password (never written to run.json)")
    p.set_defaults(run=_export)

    p = sub.add_parser("scale", help="compound scaling: phi sweeps, coefficient search, scale to a budget")
    p.add_argument("base", help="backbone name or spec JSON file")
    p.add_argument("--phi", type=float, nargs="+", default=[0.0, 1.0, 2.0, 3.0], help="phi values to sweep")
    p.add_argument("--alpha", type=float, default=1.2, help="depth coefficient")
    p.add_argument("--beta", type=float, default=1.1, help="width coefficient")
    p.add_argument("--gamma", type=float, default=1.15, help="resolution coefficient")
    p.add_argument("--to", help="scale to the largest phi within this FLOPs budget, e.g. 1.8GFLOPs")
    p.add_argument("--train", action="store_true", help="proxy-train every scaled network")
    p.add_argument("--search-coefficients", action="store_true", help="grid-search alpha, beta, gamma at phi = 1")
    p.add_argument("--trials", type=int, help="coefficient triples to train (default: the whole feasible grid)")
    p.add_argument("--epochs", type=int, help="proxy epochs per network")
    p.add_argument("--data", help=f"training data of --train and --search-coefficients: {DATA_HELP}")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--run-dir", default="runs/scale", help="where the study and the table go")
    p.add_argument("--resume", action="store_true", help="continue the study of an interrupted --train sweep")
    p.set_defaults(run=_scale)

    p = sub.add_parser("train", help="proxy-train a spec and print its accuracy, FLOPs, params and speed")
    p.add_argument("spec", help="spec JSON file or backbone name")
    p.add_argument("--data", help=DATA_HELP)
    p.add_argument("--epochs", type=int, help="training epochs (default: the proxy recipe's)")
    p.add_argument("--device", choices=("cpu", "cuda", "auto"), default="cpu")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--latency", action="store_true", help="also measure inference latency (batch 1 and 16)")
    p.add_argument("--threads", type=int, default=1, help="CPU threads (default 1; 0: every core)")
    p.add_argument("--json", action="store_true", help="machine-readable output")
    p.set_defaults(run=_train)
    add_weights_parser(sub)  # nas weights list / load / export (nas/weights_cli.py)
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
    except KeyboardInterrupt as err:  # Ctrl-C or SIGTERM; a search says how to resume
        print(f"nas {args.command}: interrupted" + (f": {err}" if str(err) else ""), file=sys.stderr)
        return 130
    return 0
