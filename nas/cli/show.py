"""How the CLI shows things: the FLOPs note, the front table, a search's result, and progress bars
(tqdm, on stderr, so standard output stays the result)."""
from __future__ import annotations

import sys
from pathlib import Path
from typing import Any, Callable

from tqdm import tqdm

from nas.budget import format_flops, format_params

FLOPS_NOTE = "FLOPs are multiply-adds of conv and linear layers (the ResNet/MobileNet/EfficientNet convention)"


def front_table(front: list, objective: str = "macs", limit: int = 20) -> None:
    """The front, one network a line; a latency column when latency is the search's second objective."""
    from nas.search.records import describe

    latency = objective == "latency_ms"
    print(f"{'rank':>4}  {'val':>8}  {'test':>8}  {'FLOPs':>8}  {'params':>8}  "
          + ("latency  " if latency else "") + f"{'digest':<12}  network")
    for i, r in enumerate(front[:limit], 1):
        name = f" [{r.named}]" if r.named else ""
        ms = f"{r.latency_ms:5.1f}ms  " if latency else ""
        test = "-" if r.test_accuracy is None else f"{r.test_accuracy:.4f}"
        print(f"{i:>4}  {r.accuracy:>8.4f}  {test:>8}  {format_flops(r.macs):>8}  {format_params(r.params):>8}  {ms}"
              f"{r.digest[:12]:<12}  {describe(r.spec)}{name}")


def search_result(result: Any) -> None:
    """A search's (or a report's) summary line, its front, and where the files are."""
    s = result.summary
    hv = "-" if s.get("hypervolume") is None else f"{s['hypervolume']:.4f}"
    print(f"{s['trials']} trials {s['by_status']}; Pareto front of {s['pareto_size']}, hypervolume {hv}")
    if result.front:
        front_table(result.front, s.get("objective", "macs"))
    elif s["by_status"].get("failed"):
        print("no network trained: the reason of each failed trial is in trials.csv (column failure)")
    else:  # the search stopped after max_proposals proposals that train nothing
        counts = ", ".join(f"{n:,} {status.replace('_', ' ')}" for status, n in s["by_status"].items())
        print(f"no network trained: every proposal was rejected before training ({counts}); see trials.csv "
              "(column failure)")
    supernet(s)
    print(f"{FLOPS_NOTE}.")
    curves = ", curves.png" if (Path(result.run_dir) / "curves.png").is_file() else ""
    print(f"files: {result.run_dir}/trials.csv, trials.json, pareto.json, pareto.png{curves}, summary.json")


def supernet(summary: dict) -> None:
    """A search on a supernet: what scoring cost, and the networks retrained stand-alone beside their
    supernet accuracy."""
    info = summary.get("supernet")
    if not info:
        return
    print(f"scored on the supernet in {info['run_dir']} ({info['epochs']} epochs): {info['scored']:,} candidates "
          f"in {info['seconds']:.1f}s, {info['seconds_per_candidate']:.3f}s each ({info['cpu_seconds_per_candidate']:.3f} "
          f"CPU-s) on {info['workers']} worker(s){' (Ray tasks)' if info['ray'] else ''}; accuracies are the "
          "supernet's (inherited weights), test only for the front")
    guess = summary.get("predictor")
    if guess:
        tau = "-" if guess["loo_tau"] is None else f"{guess['loo_tau']:.2f}"
        print(f"predictor: predicted {guess['predicted']:,} candidates in {guess['rounds']} rounds and scored "
              f"{guess['verified']} of the predicted fronts on the supernet; its last fit (predictor.json), on "
              f"{guess['fitted_on']:,} supernet scores, predicts them at leave-one-out Kendall tau {tau} (error "
              f"{guess['loo_rmse']:.4f})")
    rows = summary.get("retrained") or []
    if rows:
        print(f"retrained stand-alone with the proxy, the {len(rows)} best by supernet accuracy:")
        print(f"{'trial':>6}  {'supernet':>8}  {'alone':>8}  {'alone test':>10}  {'FLOPs':>8}  digest")
        for r in rows:
            alone, test = (("-" if v is None else f"{v:.4f}") for v in (r["standalone_accuracy"],
                                                                         r["standalone_test_accuracy"]))
            note = f"  ({r['standalone_failure']})" if r.get("standalone_failure") else ""
            print(f"{r['number']:>6}  {r['supernet_accuracy']:>8.4f}  {alone:>8}  {test:>10}  "
                  f"{format_flops(r['macs']):>8}  {r['digest'][:12]}{note}")


class SearchBar:
    """A progress bar over a search's training runs, with the best accuracy, the front's size and the last
    trial's outcome. Drawn from the first recorded trial on (a search refused at its start leaves no bar
    beside its one-line error); a context manager that closes it."""

    def __init__(self, total: int, unit: str = "training runs"):
        self.total, self.unit = total, unit
        self.bar: tqdm | None = None

    def __call__(self, p: Any) -> None:
        """The search's progress callback (`nas.search.Progress`)."""
        if self.bar is None:
            self.bar = tqdm(total=self.total, unit=" runs", desc=self.unit, file=sys.stderr,
                            dynamic_ncols=True)
        self.bar.n = min(p.training_runs, p.total)
        best = "-" if p.best_accuracy is None else f"{p.best_accuracy:.4f}"
        self.bar.set_postfix_str(f"best {best} | Pareto {p.pareto_size} | trial {p.last.number} "
                                 f"{p.last.status.replace('_', ' ')}")

    def __enter__(self) -> "SearchBar":
        return self

    def __exit__(self, *exc: Any) -> None:
        if self.bar is not None:
            self.bar.close()


def epoch_bar(total: int, done: int = 0) -> tuple[Callable[[Any], None], Callable[[], None]]:
    """(a training's per-epoch callback, close): a bar over the epochs (`done` of them already), and one
    line per finished epoch."""
    bar = tqdm(total=total, initial=done, unit=" epoch", desc="training", file=sys.stderr, dynamic_ncols=True,
               leave=False)

    def report(r: Any) -> None:
        bar.update(1)
        bar.write(f"epoch {r.epoch}/{r.epochs}  loss {r.train_loss:.3f}  train {r.train_accuracy:.1%}  "
                  f"val {r.val_accuracy:.1%}  {r.seconds:.1f}s  {r.images_per_second:.0f} img/s", file=sys.stderr)

    return report, bar.close
