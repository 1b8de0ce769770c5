"""`nas supernet train | score`: train the supernet of an elastic space (sandwich rule, in-place distillation,
a checkpoint every epoch, `--resume` after a kill), and score its sub-networks with and without BN
recalibration. The options of `train` derive from `nas.training.supernet.SupernetJob`."""
from __future__ import annotations

import argparse
import itertools
import signal
import sys
from pathlib import Path
from typing import Any

from tqdm import tqdm

from nas.budget import format_flops, format_params
from nas.cli.options import add_groups, given
from nas.cli.show import FLOPS_NOTE

HIDDEN = ("latency", "latency_batch", "latency_repeats", "max_loss")  # TrainConfig settings a supernet has no use for


class _Bar:
    """A bar over every step of the run, and one line per finished epoch."""

    def __init__(self) -> None:
        self.bar: tqdm | None = None

    def __call__(self, p: Any) -> None:
        if self.bar is None:
            self.bar = tqdm(total=p.epochs * p.steps, initial=(p.epoch - 1) * p.steps, unit=" step", desc="supernet",
                            file=sys.stderr, dynamic_ncols=True, leave=False)
        self.bar.n = (p.epoch - 1) * p.steps + p.step
        self.bar.set_postfix_str(f"epoch {p.epoch}/{p.epochs} loss {p.loss:.3f}")
        if p.epoch_done is not None:
            e = p.epoch_done
            self.bar.write(f"epoch {p.epoch}/{p.epochs}  loss {e['loss']:.3f}  largest {e['largest']:.1%}  smallest "
                           f"{e['smallest']:.1%}  {e['seconds']:.1f}s  {e['images_per_second']:.0f} img/s",
                           file=sys.stderr)

    def close(self) -> None:
        if self.bar is not None:
            self.bar.close()


def _interrupt(signum: int, frame: Any) -> None:
    raise KeyboardInterrupt


def _train(args: argparse.Namespace) -> None:
    from nas.settings import replace_flat
    from nas.training.supernet import SETTINGS, SupernetError, SupernetJob, resume_conflicts, train_supernet

    typed = given(args, list(SupernetJob.fields()))
    job = replace_flat(SupernetJob(), SupernetJob.fields(), typed)
    if args.resume and (Path(job.run_dir) / SETTINGS).exists():
        conflicts = resume_conflicts(job.run_dir, typed)
        if conflicts:
            raise SupernetError(f"the run in {job.run_dir} started with other settings: {'; '.join(conflicts)}. A "
                                "resumed run keeps its own: drop those options, or give another --run-dir")
    bar = _Bar()
    previous = signal.signal(signal.SIGTERM, _interrupt)  # a scheduler's kill stops like Ctrl-C
    try:
        trained = train_supernet(job, resume=args.resume, progress=bar)
    except KeyboardInterrupt:
        raise KeyboardInterrupt(f"the checkpoint in {job.run_dir} holds every finished epoch; the same command with "
                                "--resume continues") from None
    finally:
        bar.close()
        signal.signal(signal.SIGTERM, previous)
    last = trained.history[-1] if trained.history else None
    print(f"supernet of {trained.space.name} trained {trained.epochs_done} epoch(s) on {trained.job.data.kind}: "
          + ("no epoch finished" if last is None else
             f"largest {last['largest']:.2%}, smallest {last['smallest']:.2%} (BN recalibrated)"))
    print(f"files: {trained.run_dir}/supernet.json, checkpoint.pt")


def _score(args: argparse.Namespace) -> None:
    from nas.training.oneshot import calibration_images, score
    from nas.training.stream import open_data
    from nas.training.supernet import load_supernet
    from search_spaces.counting import count
    from search_spaces.errors import SpaceError

    if args.n < 0 or (args.calibration_images is not None and args.calibration_images < 1):
        raise SpaceError("-n must be at least 0 and --calibration-images at least 1")
    trained = load_supernet(args.run_dir, args.device)
    net, space, job = trained.supernet, trained.space, trained.job
    data = open_data(job.data, args.device)
    sample = calibration_images(data, args.calibration_images or job.calibration_images)
    points = [("largest", space.largest()), ("smallest", space.smallest())]
    points += [(f"random {i}", spec) for i, spec in enumerate(itertools.islice(space.samples(args.seed), args.n), 1)]
    print(f"supernet of {space.name} after {trained.epochs_done} epoch(s); accuracy on the {data.size('val'):,} "
          f"validation images of {data.name}, BN statistics as trained and recalibrated on "
          f"{len(sample):,} training images")
    print(f"{'network':<10}{'res':>5}{'FLOPs':>9}{'params':>9}{'as trained':>12}{'recalibrated':>14}")
    for name, spec in points:
        cost = count(spec)
        before = score(net, spec, data, False, None, job.train.eval_batch_size, job.reference_resolution)
        after = score(net, spec, data, True, sample, job.train.eval_batch_size, job.reference_resolution)
        print(f"{name:<10}{spec.resolution:>5}{format_flops(cost.macs):>9}{format_params(cost.params):>9}"
              f"{before:>12.2%}{after:>14.2%}")
    print(f"{FLOPS_NOTE}.")


def add_commands(sub: argparse._SubParsersAction) -> None:
    """Register `supernet` and its subcommands train and score."""
    from nas.training.supernet import SupernetJob

    top = sub.add_parser("supernet", help="train a supernet of an elastic space and score its sub-networks")
    commands = top.add_subparsers(dest="supernet_command", required=True)
    p = commands.add_parser("train", help="sandwich-rule training with in-place distillation, a checkpoint per epoch")
    p.add_argument("--resume", action="store_true", help="continue the run in --run-dir after its last finished epoch")
    fields = {n: f for n, f in SupernetJob.fields().items() if n not in HIDDEN}
    add_groups(p, fields, {None: "supernet", "data": "data options", "train": "training recipe"})
    p.set_defaults(run=_train)

    p = commands.add_parser("score", help="accuracy of sub-networks with the BN statistics as trained and recalibrated")
    p.add_argument("run_dir", help="a supernet run directory")
    p.add_argument("-n", type=int, default=4, help="random sub-networks besides the largest and smallest (default 4)")
    p.add_argument("--seed", type=int, default=0, help="seed of the random sub-networks (default 0)")
    p.add_argument("--calibration-images", type=int, default=None,
                   help="training images for recalibration (default: the supernet's own setting, as a search uses)")
    p.add_argument("--device", default="cpu", help="cpu or cuda (default cpu)")
    p.set_defaults(run=_score)
