"""`nas train | scale`: train one network with the proxy recipe, and compound-scaling sweeps. Their options
derive from the config dataclasses (`TrainJob`, `ScaleConfig` and the search's `SearchConfig`)."""
from __future__ import annotations

import argparse
import dataclasses
import json
import signal
from typing import Any

from nas.budget import format_flops, format_params
from nas.cli.options import add_groups, add_settings, given
from nas.cli.show import FLOPS_NOTE, SearchBar, epoch_bar
from nas.specs import load_spec
from nas.training.evaluate import Metrics, TrainJob
from nas.training.recipes import RECIPES, describe_optimizer, recipe
from nas.training.train import TrainConfig


def _interrupt(signum: int, frame: Any) -> None:
    raise KeyboardInterrupt


def _train(args: argparse.Namespace) -> None:
    from nas.training.checkpoint import train

    job, found, ref, note = _train_job(args)
    if note and not args.json:
        print(note, flush=True)  # before the epochs' lines
    report, close = epoch_bar(job.train.epochs if found is None else found.train.epochs,
                              0 if found is None else found.epochs_done)
    previous = signal.signal(signal.SIGTERM, _interrupt)  # a scheduler's kill stops like Ctrl-C
    try:
        trained = train(None if ref is None else ref.spec, job, "" if ref is None else ref.text, args.resume, report)
    except KeyboardInterrupt:
        if job.run_dir is None:
            raise
        raise KeyboardInterrupt(f"the checkpoint in {job.run_dir} holds every finished epoch; the same command "
                                "with --resume continues") from None
    finally:
        close()
        signal.signal(signal.SIGTERM, previous)
    name = ref.text if ref is not None else found.ref
    if args.json:
        print(json.dumps(dataclasses.asdict(trained.metrics) | {
            "spec": name, "checkpoint": None if trained.checkpoint is None else str(trained.checkpoint)}, indent=2))
        return
    _print_metrics(name, trained.metrics, job.train if found is None else found.train)
    if trained.checkpoint is not None:
        print(f"  checkpoint   {trained.checkpoint}" + (f"  (resumed after epoch {trained.resumed})" if trained.resumed
                                                         else "") + f"; nas export {trained.checkpoint.parent} "
              "--format onnx writes the trained network")
    elif job.run_dir is None:
        print("  not kept: --run-dir DIR saves a checkpoint (weights, spec, recipe, data, history) every epoch")


def _train_job(args: argparse.Namespace) -> tuple[TrainJob, Any, Any, str]:
    """The job of `nas train`, the checkpoint it continues (or None), the network as named (None: the
    checkpoint's) and a line on where its data comes from; every refusal before anything loads."""
    from nas.search.refs import resolve, run_info
    from nas.settings import replace_flat
    from nas.training.checkpoint import CheckpointError, check_run_dir, resume_conflicts
    from nas.training.data import DataSource

    fields = TrainJob.fields()
    typed = given(args, list(fields))
    run_dir = typed.get("run_dir")
    if args.resume and not run_dir:
        raise CheckpointError("--resume continues the run in --run-dir DIR: give it")
    found = check_run_dir(run_dir, args.resume) if run_dir else None  # never trains over a checkpoint
    if found is not None:
        conflicts = resume_conflicts(found, typed)
        if conflicts:
            raise CheckpointError(f"the run in {run_dir} started with other settings: {'; '.join(conflicts)}. A "
                                  "resumed run keeps its own: drop those options, or give another --run-dir")
    if args.spec is None and found is None:
        raise CheckpointError("give the network to train: a spec JSON file, a backbone name, RUN#TRIAL or a digest")
    ref = None if args.spec is None else resolve(args.spec, args.lookup_run, args.storage)
    base, note = TrainJob(train=recipe(args.recipe)), ""  # a named recipe first; options typed override it
    searched = run_info(ref.run_dir).get("data") if ref is not None and ref.run_dir is not None else None
    if found is None and isinstance(searched, dict) and not any(n == "data" or n.startswith("data_") for n in typed):
        try:
            base = dataclasses.replace(base, data=DataSource(**searched))
        except TypeError:
            raise CheckpointError(f"{ref.run_dir}/config.json: not a search's data settings") from None
        where = f":{base.data.path}" if base.data.path else ""
        note = f"data: {base.data.kind}{where}, the search's (--data to change)"
    return replace_flat(base, fields, typed), found, ref, note


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

    p = sub.add_parser("train", help="train a network, keep it in a checkpoint every epoch, print its accuracy",
                       description="Train a network with the recipe below and print its validation and test "
                                   "accuracy, FLOPs, params and speed. --run-dir DIR keeps a checkpoint every epoch "
                                   "(--resume continues a killed run); nas export DIR writes the trained network.")
    p.add_argument("spec", nargs="?", metavar="SPEC", help="spec JSON file, backbone name, RUN#TRIAL (a trial of a "
                   "search: it trains on the search's data unless --data is given), RUN#DIGEST or a digest (of a "
                   "backbone, or of the search given with --run); none with --resume: the run's")
    p.add_argument("--run", dest="lookup_run", metavar="RUN", help="search run directory a bare digest is looked up in")
    p.add_argument("--resume", action="store_true", help="continue the run in --run-dir after its last finished epoch")
    p.add_argument("--storage", help="study database URL of RUN, for runs whose --storage URL had a password")
    p.add_argument("--json", action="store_true", help="machine-readable output")
    p.add_argument("--recipe", choices=tuple(RECIPES), default="proxy",
                   help="starting recipe: proxy (the search's) or inception_v3 (the paper's RMSProp settings, see "
                        "nas/training/recipes.py); recipe options given override it (default: proxy)")
    fields = TrainJob.fields()
    add_groups(p, fields, {None: "data and checkpoint", "data": "data options", "train": "training recipe"})
    p.set_defaults(run=_train)

    p = sub.add_parser("scale", help="compound scaling: phi sweeps, coefficient search, scale to a budget")
    p.add_argument("base", help="backbone name or spec JSON file")
    add_settings(p, flat_fields(ScaleConfig), title="scaling", dest_prefix="scale_")
    rest = {n: f for n, f in search_fields().items() if n not in SWEEP_SETS}
    add_settings(p, {n: f for n, f in rest.items() if f.owner is None}, title="training runs of --train and "
                 "--search-coefficients")
    add_settings(p, {n: f for n, f in rest.items() if f.owner is not None}, title="training recipe and data")
    p.set_defaults(run=_scale)
