"""How fast can a search space hand out candidates that fit a budget?

Claim (target): at least 5,000 in-budget candidates per second from the `mobile` space at a budget of
300 M multiply-adds, on one CPU core: `space.samples(seed, budget=300_000_000)`, each candidate a
validated NetSpec with its cost already counted (count() is a lookup afterwards).

Method: pin the process to one core; per repeat, time (CPU time of this process, so that other load on
the machine does not count; wall time is printed beside it) how long `samples()` takes to yield CONFIG["n"]
in-budget candidates (each a `suggest`: parameter draws, argument dataclasses, the validating cost walk of
every row, the NetSpec; a draw whose rows already exceed the budget is abandoned there); report the median
rate over the repeats and the spread. Also measured: the acceptance (share of whole draws within the
budget) and the cost of one whole draw without a budget.

To compare two versions side by side, run the script of each checkout on the same machine in one go, e.g.
`git worktree add /tmp/base <commit>` then `(cd /tmp/base/experiments && PYTHONPATH=/tmp/base python
bench_sampling.py)` next to `python experiments/bench_sampling.py` (the installed package is this checkout).

Hardware and versions are printed with the results; the recorded run is in bench_sampling.md.
Run: .venv/bin/python experiments/bench_sampling.py [--space mobile] [--budget 300M] [--repeats 5]
     [--phases]
"""
from __future__ import annotations

import argparse
import os
import platform
import statistics
import sys
import time

import torch
from common import cpu_name

from nas.budget import parse_budget
from search_spaces.cost import ZERO
from search_spaces.counting import count
from search_spaces.spaces import get

CONFIG = {
    "space": "mobile",
    "budget": "300M",  # multiply-adds
    "n": 2000,  # in-budget candidates per repeat
    "repeats": 5,
    "seed": 0,  # repeat i uses seed + i
    "acceptance_draws": 2000,  # plain draws used to measure the share within budget
}


def pin_one_core() -> str:
    """Run on a single core, as the claim says; returns which."""
    if hasattr(os, "sched_setaffinity"):
        core = min(os.sched_getaffinity(0))
        os.sched_setaffinity(0, {core})
        return f"core {core}"
    return "not pinned (no sched_setaffinity)"


def rate(space_name: str, budget: int, n: int, seed: int) -> tuple[float, float]:
    """In-budget candidates per second of CPU time and of wall time, for one repeat."""
    space = get(space_name)
    stream = space.samples(seed, budget)
    cpu, wall = time.process_time(), time.perf_counter()
    for _ in range(n):
        next(stream)
    return n / (time.process_time() - cpu), n / (time.perf_counter() - wall)


def acceptance(space_name: str, budget: int, draws: int) -> tuple[float, float]:
    """(share of plain draws within budget, CPU microseconds per plain draw)."""
    space = get(space_name)
    stream = space.samples(10_000)
    start = time.process_time()
    fits = sum(count(next(stream)).macs <= budget for _ in range(draws))
    return fits / draws, (time.process_time() - start) / draws * 1e6


def phases(space_name: str, draws: int) -> list[tuple[str, float]]:
    """CPU microseconds per whole draw (no budget) with parts of the work switched off, to see where the
    time goes: the rows' cost functions (the walk), then the NetSpec's checks, then the Block checks.
    The switched-off runs build invalid specs; they are timing probes only."""
    from unittest import mock

    from search_spaces import network, spec

    def per_draw() -> float:
        stream = get(space_name).samples(20_000)
        start = time.process_time()
        for _ in range(draws):
            next(stream)
        return (time.process_time() - start) / draws * 1e6

    no_walk = mock.patch.object(network, "_row_cost", lambda block, shape, where, index: (ZERO, shape))
    no_netspec = mock.patch.object(spec.NetSpec, "__post_init__", lambda self: object.__setattr__(self, "_cost", ZERO))
    no_block = mock.patch.object(spec.Block, "__post_init__", lambda self: None)
    rows = [("everything", per_draw())]
    with no_walk:
        rows.append(("without the rows' cost functions (the walk)", per_draw()))
        with no_netspec:
            rows.append(("... and without the NetSpec's checks: draws, argument dataclasses, Blocks", per_draw()))
            with no_block:
                rows.append(("... and without the Block checks", per_draw()))
    return rows


def anatomy(space_name: str, budget: int, draws: int) -> list[str]:
    """What a draw is made of: parameters and spec rows per whole draw, the multiply-adds of whole draws
    (quantiles), and, under the budget, how many draws finish or are abandoned and what each costs."""
    import random

    from search_spaces.spaces.base import OverBudget, RandomTrial

    space, rng, seen = get(space_name), random.Random(30_000), {}
    params, rows, macs = [], [], []
    for _ in range(draws):
        trial = RandomTrial(rng, seen=seen)
        spec = space.suggest(trial)
        params.append(len(trial.params))
        rows.append(sum(len(stage.blocks) for stage in spec.stages) + len(spec.stem) + len(spec.head))
        macs.append(count(spec).macs)
    macs.sort()
    quantiles = ", ".join(f"{q}% {macs[len(macs) * q // 100] / 1e6:,.0f}M" for q in (10, 25, 50, 75, 90))
    lines = [f"{statistics.mean(params):.0f} parameters and {statistics.mean(rows):.1f} spec rows per whole draw; "
             f"multiply-adds of whole draws: {quantiles}"]
    outcomes: dict[str, list[float]] = {"finished in budget": [], "finished over budget": [], "abandoned": []}
    rng = random.Random(40_000)
    for _ in range(draws):
        start = time.process_time()
        try:
            spec = space.suggest(RandomTrial(rng, seen=seen, budget=budget))
            kind = "finished in budget" if count(spec).macs <= budget else "finished over budget"
        except OverBudget:
            kind = "abandoned"
        outcomes[kind].append((time.process_time() - start) * 1e6)
    fits = max(1, len(outcomes["finished in budget"]))
    for kind, times in outcomes.items():
        if times:
            lines.append(f"budgeted draws {kind}: {len(times) / fits:.2f} per in-budget candidate, "
                         f"{statistics.mean(times):.0f} CPU us each")
    return lines


def floor(space_name: str, budget: int, n: int) -> list[str]:
    """Lower bounds on a finished draw, from `n` in-budget candidates: the CPU time to build each again from
    its known values (argument dataclasses, Blocks, Stages and the NetSpec with its validating walk, no
    parameter drawn), the same with every check and the walk switched off (the bare objects), and the
    time of its parameter draws alone (the same trial calls replayed on a fresh
    RandomTrial, names already formatted, nothing built)."""
    import contextlib
    import dataclasses
    import random
    from unittest import mock

    from search_spaces.spaces.base import OverBudget, RandomTrial
    from search_spaces.spec import Block, NetSpec, Stage

    class Recording(RandomTrial):
        def __init__(self, rng: random.Random, budget: int):
            super().__init__(rng, budget=budget)
            self.calls: list[tuple[str, tuple, dict]] = []

        def suggest_int(self, *args, **kwargs):  # type: ignore[no-untyped-def]
            self.calls.append(("suggest_int", args, kwargs))
            return super().suggest_int(*args, **kwargs)

        def suggest_float(self, *args, **kwargs):  # type: ignore[no-untyped-def]
            self.calls.append(("suggest_float", args, kwargs))
            return super().suggest_float(*args, **kwargs)

        def suggest_categorical(self, *args, **kwargs):  # type: ignore[no-untyped-def]
            self.calls.append(("suggest_categorical", args, kwargs))
            return super().suggest_categorical(*args, **kwargs)

    space, rng, found = get(space_name), random.Random(50_000), []
    while len(found) < n:
        trial = Recording(rng, budget)
        try:
            spec = space.suggest(trial)
        except OverBudget:
            continue
        if count(spec).macs <= budget:
            found.append((spec, trial.calls))

    def values(block: Block) -> tuple:
        args = block.args
        return block.cell, type(args), tuple(getattr(args, f.name) for f in dataclasses.fields(args)), block.repeats

    def make(row: tuple) -> Block:
        return Block(row[0], row[1](*row[2]), row[3])

    plans = [(tuple(map(values, s.stem)), tuple(tuple(map(values, st.blocks)) for st in s.stages),
              tuple(map(values, s.head)), s.resolution, s.in_channels, s.num_classes) for s, _ in found]
    def rebuild(plan: tuple) -> NetSpec:
        stem, stages, head, resolution, channels, classes = plan
        return NetSpec(stem=tuple(map(make, stem)), stages=tuple(Stage(tuple(map(make, st))) for st in stages),
                       head=tuple(map(make, head)), resolution=resolution, in_channels=channels, num_classes=classes)

    assert all(rebuild(plan) == spec for plan, (spec, _) in zip(plans, found)), "a rebuild must give the same network"
    def rebuild_all() -> float:
        start = time.process_time()
        for plan in plans:  # each dropped at once, as a sampling loop drops the candidates it has handed out
            rebuild(plan)
        return (time.process_time() - start) / n * 1e6

    built = rebuild_all()
    # the same objects with every check and the walk switched off: what the objects alone cost (a probe:
    # these specs are unvalidated and uncounted, and dropped at once)
    classes = {NetSpec, Stage, Block} | {row[1] for plan in plans
                                         for rows in (plan[0], plan[2], *plan[1]) for row in rows}
    with contextlib.ExitStack() as stack:
        for cls in classes:
            stack.enter_context(mock.patch.object(cls, "__post_init__", lambda self: None, create=True))
        bare = rebuild_all()
    replay_rng, seen = random.Random(0), {}
    start = time.process_time()
    for _, calls in found:
        trial = RandomTrial(replay_rng, seen=seen, budget=budget)
        for method, args, kwargs in calls:
            getattr(trial, method)(*args, **kwargs)
    draws = (time.process_time() - start) / n * 1e6
    params = statistics.mean(len(c) for _, c in found)
    rows = statistics.mean(sum(len(st.blocks) for st in s.stages) + len(s.stem) + len(s.head) for s, _ in found)
    return [(f"an in-budget candidate ({rows:.1f} spec rows) built again from its values: {built:.0f} CPU us "
             "(argument dataclasses, Blocks, Stages, the NetSpec and its validating walk; nothing drawn)"),
            f"the same objects with no check and no cost walk: {bare:.0f} CPU us",
            f"its {params:.0f} parameter draws alone, replayed on a RandomTrial: {draws:.0f} CPU us"]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--space", default=CONFIG["space"])
    parser.add_argument("--budget", default=CONFIG["budget"])
    parser.add_argument("--n", type=int, default=CONFIG["n"])
    parser.add_argument("--repeats", type=int, default=CONFIG["repeats"])
    parser.add_argument("--phases", action="store_true",
                        help="also time whole draws with parts switched off, and what a draw is made of")
    args = parser.parse_args()
    budget = parse_budget(args.budget)
    pinned = pin_one_core()
    print(f"hardware: {cpu_name()}, {os.cpu_count()} cores visible, {pinned}")
    print(f"versions: python {platform.python_version()}, torch {torch.__version__}, {platform.platform()}")
    print(f"space {args.space!r}, budget {budget:,} multiply-adds, {args.n} candidates x {args.repeats} repeats")
    share, per_draw = acceptance(args.space, budget, CONFIG["acceptance_draws"])
    print(f"acceptance: {share:.1%} of draws within budget; {per_draw:.0f} CPU us per whole draw (suggest, walk, NetSpec)")
    if args.phases:
        for label, micros in phases(args.space, CONFIG["acceptance_draws"]):
            print(f"phase: {micros:.0f} CPU us per whole draw, {label}")
        for line in anatomy(args.space, budget, CONFIG["acceptance_draws"]):
            print(f"anatomy: {line}")
        for line in floor(args.space, budget, CONFIG["acceptance_draws"]):
            print(f"floor: {line}")
    runs = [rate(args.space, budget, args.n, CONFIG["seed"] + i) for i in range(args.repeats)]
    rates, walls = [r[0] for r in runs], [r[1] for r in runs]
    spread = f"min {min(rates):,.0f}, max {max(rates):,.0f}"
    print(f"rate: median {statistics.median(rates):,.0f} in-budget candidates per CPU-second ({spread}), "
          f"{1e6 / statistics.median(rates):.0f} CPU us each; wall-clock median {statistics.median(walls):,.0f}/s")
    sys.stdout.flush()


if __name__ == "__main__":
    main()
