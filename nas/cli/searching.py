"""`nas search | report | export`: a budgeted search, its results redrawn from the study, a network of its
front written out. Every option of `nas search` is a setting of `nas.search.SearchConfig` (derived from
it, defaults shown in `--help`); `--config FILE` reads settings from a JSON or TOML file first."""
from __future__ import annotations

import argparse
from typing import Any

from nas.budget import format_flops
from nas.cli.options import add_settings, given
from nas.cli.show import SearchBar, search_result


def _search(args: argparse.Namespace) -> None:
    import optuna

    from nas.search import search
    from nas.search.config import read_config, resolve, search_fields
    from nas.search.run import check_space
    from nas.search.study import mask_url

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    settings: dict[str, Any] = read_config(args.config) if args.config else {}
    config = resolve(None, **(settings | given(args, list(search_fields()))))
    space = None
    if config.supernet:  # its space, data and proxy side; a wrong directory or space is one line, first
        from nas.search.oneshot import configure

        config, space, job = configure(config)
    check_space(config, space)  # a bad space or budget is one line on stderr, before any other output
    t, d = config.train, config.data
    runs = "candidates scored on the supernet" if config.supernet else "training runs"
    print(f"search: space {config.space}, budget {format_flops(config.budget)} FLOPs, strategy {config.strategy}, "
          f"{config.trials} {runs}" + ("" if config.supernet else f", scheduler {config.scheduler}")
          + f", objective accuracy vs {config.objective}")
    if config.supernet:
        print(f"supernet: {config.supernet} ({job.train.epochs} epochs, BN recalibrated on "
              f"{job.calibration_images:,} training images)"
              + (f"; the first {config.predictor} scored, the rest predicted" if config.predictor else "")
              + (f"; the {config.retrain} best retrained stand-alone" if config.retrain else ""))
    print(f"data: {d.kind}{':' + d.path if d.path else ''} at {d.resolution or 'its own'} px; proxy: {t.epochs} epochs, "
          f"batch {t.batch_size}, lr {t.lr} {t.schedule}, label smoothing {t.label_smoothing}, on {config.trial_device}"
          + (f" ({config.gpus_per_trial:g} GPU per trial)" if config.gpus_per_trial else ""))
    print(f"study: {mask_url(config.storage_url)} ({config.study_name}); Ray: {config.address or 'local'}")
    with SearchBar(config.trials, "candidates" if config.supernet else "training runs") as bar:
        result = search(config, progress=bar)
    search_result(result)


def _report(args: argparse.Namespace) -> None:
    from nas.search import report

    search_result(report(args.run_dir, args.storage))


def _export(args: argparse.Namespace) -> None:
    from nas.search.export import export, weights_file

    done = export(args.source, args.rank, args.format, args.output, args.storage, args.trial)
    src = done.source
    print(f"wrote {done.path}: {src.what}")
    inherited = src.inherited
    if done.fmt == "spec":
        print("  the architecture only" + (f"; its trained weights are in {src.checkpoint.path}" if src.checkpoint
                                           else ""))
        if inherited is not None:
            print(f"  with the weights it inherits from the supernet in {inherited.supernet} (for the supernet's "
                  f"data, BN recalibrated) in {weights_file(done.path)}")
        return
    s = src.spec if inherited is None else inherited.spec
    side = s.resolution if inherited is None else inherited.side
    print(f"  input 'images' N x {s.in_channels} x {side} x {side} (N free), output 'logits' N x {s.num_classes}")
    if src.checkpoint is not None:
        print("  trained weights; images scaled to 0..1 (pixel / 255), standardised inside by the training data's "
              "mean and std")
    elif inherited is not None:
        print(f"  with the weights it inherits from the supernet in {inherited.supernet} (for the supernet's data, "
              "BN recalibrated); images standardised by that data's mean and std")
    else:
        print(f"  untrained: freshly initialised weights, what you want to train it elsewhere or to time it; "
              f"nas train {src.ref} --run-dir DIR, then nas export DIR, writes it trained")
    print(f"  checked: max |difference| {done.max_diff:.2g} from the module on a batch of 2 ({done.checked_by})")


def _analyze(args: argparse.Namespace) -> None:
    from nas.search.analysis import analyze

    runs, found, out = analyze(args.runs, args.out, args.storage, args.seeded)
    for r in runs:
        near = "-" if r.near_chance is None else str(r.near_chance)
        below = "" if r.floor is None else f" (< {r.floor:.0%})"
        median, best = ("-" if v is None else f"{v:.4f}" for v in (r.median, r.best))
        print(f"{r.name}  {len(r.drawn)} drawn: {r.trained} trained, {r.failed} failed, {near} near chance{below}; "
              f"median {median}, best {best}")
    print(f"parameters of {runs[0].name} that matter most (mean error of each choice, with how many drew it):")
    for e in found:
        choices = ", ".join(f"{label} {mean:.3f} ({n})" for label, mean, n in zip(e.labels, e.means, e.counts))
        print(f"  {e.name:<26} {choices}")
    print(f"files: {out / 'edf.png'}, {out / 'params.png'}")


def add_commands(sub: argparse._SubParsersAction) -> None:
    """Register search, report, export and analyze."""
    from nas.search.config import (
        search_fields,  # the settings are the search's; the CLI only reads them
    )

    p = sub.add_parser("search", help="budgeted search: Pareto front of accuracy vs FLOPs",
                       description="Budgeted multi-objective search. Each option is a search setting; a config "
                                   "file's settings come first and options typed here override them.")
    p.add_argument("--config", metavar="FILE", help="JSON or TOML file of settings (a run's config.json repeats "
                                                    "that run; give another --run-dir)")
    fields = search_fields()
    search_names = [n for n, f in fields.items() if f.owner is None]
    add_settings(p, {n: fields[n] for n in search_names}, title="search")
    add_settings(p, {n: f for n, f in fields.items() if f.owner == "train"}, title="training recipe (the proxy)")
    add_settings(p, {n: f for n, f in fields.items() if f.owner == "data"}, title="data")
    p.set_defaults(run=_search)

    p = sub.add_parser("report", help="print and redraw a search's results")
    p.add_argument("run_dir", metavar="RUN", help="run directory of a search")
    p.add_argument("--storage", help="study database URL, for runs whose --storage URL had a password (never "
                                     "written to run.json)")
    p.set_defaults(run=_report)

    p = sub.add_parser("export", help="write a trained network (a nas train checkpoint) or a search's network",
                       description="Write a network as spec JSON, TorchScript or ONNX (a free batch size), then "
                                   "load the file back and compare its outputs with the module. A checkpoint of nas "
                                   "train exports with its trained weights, for the data it was trained on; a "
                                   "search's network, or any other, exports untrained.")
    p.add_argument("source", metavar="SOURCE", help="a nas train run directory or its checkpoint.pt (trained "
                   "weights), a search run directory (with --rank or --trial), or RUN#TRIAL, RUN#DIGEST, a spec JSON "
                   "file or a backbone name")
    p.add_argument("--rank", type=int, help="of a search: the front member (1 = most accurate; the default)")
    p.add_argument("--trial", type=int, help="of a search: any trial, by number (trials.csv)")
    p.add_argument("--format", default="spec", help="spec, torchscript or onnx")
    p.add_argument("-o", "--output", help="output file")
    p.add_argument("--storage", help="study database URL, for runs whose --storage URL had a password (never "
                                     "written to run.json)")
    p.set_defaults(run=_export)

    p = sub.add_parser("analyze", help="design-space analysis of search runs: error EDFs and per-choice errors",
                       description="The error EDF of the networks each run drew (edf.png, a curve per run) and the "
                                   "error of each choice of the first run's parameters that matter most "
                                   "(params.png). Runs made with --strategy random --no-seed-backbones show a "
                                   "space's default distribution as it is.")
    p.add_argument("runs", metavar="RUN", nargs="+", help="run directories of searches")
    p.add_argument("--out", help="where the figures go (default: the first run directory)")
    p.add_argument("--seeded", action="store_true", help="count the named backbones a search seeded itself with")
    p.add_argument("--storage", help="study database URL, for runs whose --storage URL had a password")
    p.set_defaults(run=_analyze)
