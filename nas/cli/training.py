"""`nas train | scale`: train one network with the proxy recipe, and compound-scaling sweeps. Their options
derive from the config dataclasses (`TrainJob`, `ScaleConfig` and the search's `SearchConfig`)."""
from __future__ import annotations

import argparse
import dataclasses
import json
from typing import Any

from nas.budget import format_flops, format_params
from nas.cli.options import add_settings, given
from nas.cli.show import FLOPS_NOTE, SearchBar, epoch_bar
from nas.specs import load_spec
from nas.training.evaluate import Metrics, TrainJob
from nas.training.recipes import RECIPES, describe_optimizer, recipe
from nas.training.train import TrainConfig


def _train(args: argparse.Namespace) -> None:
    from nas.settings import replace_flat
    from nas.training.evaluate import evaluate

    base = TrainJob(train=recipe(args.recipe))  # a named recipe first; the options typed override it
    job = replace_flat(base, TrainJob.fields(), given(args, list(TrainJob.fields())))
    spec = load_spec(args.spec)
    report, close = epoch_bar(job.train.epochs)
    try:
        metrics = evaluate(spec, job.train, job.data, report)
    finally:
        close()
    if args.json:
        print(json.dumps(dataclasses.asdict(metrics) | {"spec": args.spec}, indent=2))
        return
    _print_metrics(args.spec, metrics, job.train)


def _print_metrics(name: str, metrics: Metrics, config: TrainConfig) -> None:
    accuracy = "-" if metrics.accuracy is None else f"{metrics.accuracy:.2%}"
    test = "-" if metrics.test_accuracy is None else f"{metrics.test_accuracy:.2%}"
    side = f"{metrics.proxy_resolution}x{metrics.proxy_resolution}"
    if metrics.failure and metrics.epochs_run == 0:
        print(f"{name}  not trained ({side} on {metrics.device})")
    elif metrics.failure:
        print(f"{name}  failed in epoch {metrics.epochs_run} of {config.epochs} at {side} on {metrics.device}")
    else:
        print(f"{name}  trained {metrics.epochs_run} epoch(s) at {side} on {metrics.device}")
    print(f"  accuracy     {accuracy:>9}  validation, {test} test"
          + (f"  (failed: {metrics.failure})" if metrics.failure else ""))
    print(f"  FLOPs        {format_flops(metrics.macs):>9}  ({metrics.macs:,} multiply-adds, deployed network)")
    print(f"  params       {format_params(metrics.params):>9}  ({metrics.params:,})")
    rate = f"{metrics.images_per_second:,.0f} images/s" if metrics.images_per_second else "no epoch completed"
    print(f"  train time   {metrics.train_seconds:>8.1f}s  ({rate})")
    if metrics.latency_ms is not None:
        print(f"  latency      {metrics.latency_ms:>7.2f}ms  batch 1; {metrics.latency_batch_ms:.2f} ms batch "
              f"{config.latency_batch}")
    print(f"  optimizer    {describe_optimizer(config)}")
    if metrics.aux_losses:
        print(f"  aux losses   {', '.join(metrics.aux_losses)} (auxiliary heads, training only; --no-aux: none)")
    elif metrics.aux_skipped:
        print(f"  aux losses   none trained: {metrics.aux_skipped}")
    print(f"  {FLOPS_NOTE}.")


def _scale(args: argparse.Namespace) -> None:
    import optuna

    from nas.search import sweeps
    from nas.search.config import SWEEP_SETS, ScaleConfig, resolve, search_fields
    from nas.settings import flat_fields, replace_flat
    from scaling.compound import explain_phi

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    scale = replace_flat(ScaleConfig(), flat_fields(ScaleConfig),
                         given(args, [f"scale_{f.name}" for f in dataclasses.fields(ScaleConfig)], "scale_"))
    config = resolve(None, space="phi", run_dir=scale.run_dir,
                     **given(args, [n for n in search_fields() if n not in SWEEP_SETS]))
    # a run directory that holds a sweep: refused without --resume, before anything is computed or printed;
    # with it, a sweep that trained continues its study and one that only counted starts one
    studied = sweeps.check_sweep_dir(scale.run_dir, config.resume)
    if config.resume and not studied and config.storage is None:
        config = dataclasses.replace(config, resume=False)
    base, scaling = load_spec(args.base), scale.scaling
    print(f"compound scaling of {args.base}: alpha={scaling.alpha:g} (depth), beta={scaling.beta:g} (width), "
          f"gamma={scaling.gamma:g} (resolution); alpha*beta^2*gamma^2 = {scaling.flops_factor:.3f}")
    phis = list(scale.phi)
    if scale.to is not None:
        choice = explain_phi(base, scale.to, scaling)
        phis = [choice.phi]
        print("\n".join(_phi_choice(choice, scale.to)))
    with SearchBar(len(phis)) as bar:
        if scale.search_coefficients:
            best, rows = sweeps.search_coefficients(base, config, scale.trials, progress=bar)
            print(f"best coefficients: alpha={best.alpha:g}, beta={best.beta:g}, gamma={best.gamma:g}")
        else:
            rows = sweeps.phi_sweep(base, phis, scaling, scale.train, config, progress=bar if scale.train else None)
    print(f"{'phi':>5} {'alpha/beta/gamma':>17} {'width':>7} {'depth':>7} {'res':>5} {'FLOPs':>9} {'params':>9} "
          f"{'accuracy':>9}")
    for r in rows:
        acc = "-" if r.accuracy is None else f"{r.accuracy:.4f}"
        phi = "-" if r.phi is None else f"{r.phi:g}"
        print(f"{phi:>5} {r.coefficients:>17} {r.width:>7.3f} {r.depth:>7.3f} {r.resolution:>5} "
              f"{format_flops(r.macs):>9} {format_params(r.params):>9} {acc:>9}")
    files = sweeps.write_sweep(scale.run_dir, rows, f"{args.base}: compound scaling")
    print(f"{FLOPS_NOTE}.\nfiles: {', '.join(str(f) for f in files)} (sweep.json holds each network's spec)")


def _phi_choice(choice: Any, budget: int) -> list[str]:
    """Why `--to` picked its phi: its cost, the next step's (over the budget) and the roundings that moved
    there, and the largest step on the way (growth comes in rounding jumps, not smoothly)."""
    lines = [(f"largest phi within {format_flops(budget)} FLOPs: {choice.phi:g} ({format_flops(choice.macs)}, "
              f"{choice.macs / budget:.0%} of the budget; phi on a grid of 0.05)")]
    if choice.over is None:
        lines.append("  the largest phi scaling allows; the budget was not reached")
    else:
        j = choice.over
        lines.append(f"  phi {j.phi:g} would be {format_flops(j.macs)} ({j.growth:+.1%}), over the budget: "
                     + ("; ".join(j.changes) or "no rounding moved"))
    if choice.largest is not None:
        j = choice.largest
        lines.append(f"  the largest step below it: phi {j.phi_from:g} -> {j.phi:g}, {format_flops(j.macs_from)} -> "
                     f"{format_flops(j.macs)} ({j.growth:+.1%}): " + ("; ".join(j.changes) or "no rounding moved"))
    return lines


def add_commands(sub: argparse._SubParsersAction) -> None:
    """Register train and scale."""
    from nas.search.config import SWEEP_SETS, ScaleConfig, search_fields
    from nas.settings import flat_fields

    p = sub.add_parser("train", help="proxy-train a spec and print its accuracy, FLOPs, params and speed")
    p.add_argument("spec", help="spec JSON file or backbone name")
    p.add_argument("--json", action="store_true", help="machine-readable output")
    p.add_argument("--recipe", choices=tuple(RECIPES), default="proxy",
                   help="starting recipe: proxy (the search's) or inception_v3 (the paper's RMSProp settings, see "
                        "nas/training/recipes.py); recipe options given override it (default: proxy)")
    fields = TrainJob.fields()
    add_settings(p, {n: f for n, f in fields.items() if f.owner is None}, title="data")
    add_settings(p, {n: f for n, f in fields.items() if f.owner == "data"}, title="data options")
    add_settings(p, {n: f for n, f in fields.items() if f.owner == "train"}, title="training recipe")
    p.set_defaults(run=_train)

    p = sub.add_parser("scale", help="compound scaling: phi sweeps, coefficient search, scale to a budget")
    p.add_argument("base", help="backbone name or spec JSON file")
    add_settings(p, flat_fields(ScaleConfig), title="scaling", dest_prefix="scale_")
    rest = {n: f for n, f in search_fields().items() if n not in SWEEP_SETS}
    add_settings(p, {n: f for n, f in rest.items() if f.owner is None}, title="training runs of --train and "
                 "--search-coefficients")
    add_settings(p, {n: f for n, f in rest.items() if f.owner is not None}, title="training recipe and data")
    p.set_defaults(run=_scale)
