"""A search's figures, written to its run directory from its records: pareto.png (accuracy against cost, the
front ranked as pareto.json and `nas export --rank` rank it, the proposals that trained nothing drawn apart)
and curves.png (each trained trial's learning curve). Both carry a title naming the run: space, budget,
data, proxy epochs and training runs, from the run's summary."""
from __future__ import annotations

from pathlib import Path
from typing import Any

from nas.budget import format_flops
from nas.search.records import TrialRecord, TrialStatus

UNITS = {"macs": (1e6, "FLOPs (M multiply-adds)"), "params": (1e6, "params (M)"), "latency_ms": (1.0, "latency (ms)")}
UNBOUNDED = 10**15  # a compound-scaling sweep's budget (`sweeps.UNBOUNDED`): none applies, none is drawn
FRONT, NAMED, FAILED, OVER = "C3", "C0", "C1", "0.45"  # colours: the front, named backbones, failures, over budget
RANKS = ("C0", "C2", "C3", "C4", "C5", "C6", "C8", "C9", "C7")  # curves of ranks 1..9 (never the failures' colour)


def run_title(summary: dict[str, Any]) -> str:
    """'mobile, budget 300.0M FLOPs, mnist data, 2 epochs, 12 training runs (11 trained, 1 failed)': the parts
    the summary has (an older run's summary may lack some)."""
    parts = [str(summary["space"])] if summary.get("space") else []
    if summary.get("budget") and summary["budget"] < UNBOUNDED:
        parts.append(f"budget {format_flops(summary['budget'])} FLOPs")
    data = summary.get("data") or {}
    if data.get("kind"):
        parts.append(f"{data['kind']}{':' + Path(data['path']).name if data.get('path') else ''} data")
    epochs = (summary.get("train") or {}).get("epochs")
    if epochs:
        parts.append(f"{epochs} epoch{'s' * (epochs != 1)}")
    counts = summary.get("by_status") or {}
    trained, failed = counts.get(TrialStatus.TRAINED.value, 0), counts.get(TrialStatus.FAILED.value, 0)
    if counts:
        parts.append(f"{trained + failed} training runs ({trained} trained, {failed} failed)")
    return ", ".join(parts)


def _pyplot() -> Any:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def pareto(path: Path, rows: list[TrialRecord], front: list[TrialRecord], budget: int, key: str = "macs",
           title: str = "") -> Any:
    """pareto.png: trained trials grey, the front as red rings with its ranks, named backbones as stars, and
    below the axis a strip of the proposals with a cost but no accuracy (failed trainings, over budget).
    Every legend entry names something drawn, with its count. Returns the (closed) figure, to inspect."""
    plt = _pyplot()
    scale, label = UNITS[key]
    cost = {r.number: getattr(r, key) / scale for r in rows if getattr(r, key) is not None}
    trained = [r for r in rows if r.status == TrialStatus.TRAINED and r.accuracy is not None and r.number in cost]
    apart = {status: [r for r in rows if r.status == status] for status in (TrialStatus.FAILED, TrialStatus.OVER_BUDGET)}
    strip_rows = any(r.number in cost for group in apart.values() for r in group)
    fig, axes = plt.subplots(2 if strip_rows else 1, 1, sharex=True, figsize=(6.4, 5.2 if strip_rows else 4.6),
                             dpi=120, squeeze=False, gridspec_kw={"height_ratios": [5, 1] if strip_rows else [1]})
    ax = axes[0][0]
    named = [r for r in trained if r.named]
    if trained:
        ax.scatter([cost[r.number] for r in trained], [r.accuracy for r in trained], c="0.7", s=18,
                   label=f"trained ({len(trained)})")
    if named:
        ax.scatter([cost[r.number] for r in named], [r.accuracy for r in named], marker="*", c=NAMED, s=80, zorder=4,
                   label=f"named backbone, seeded ({len(named)})")
        for r in named:
            ax.annotate(r.named, (cost[r.number], r.accuracy), fontsize=7, xytext=(4, -10), textcoords="offset points")
    _front(ax, front, cost)
    budgeted = key == "macs" and budget < UNBOUNDED
    # the axis reaches the budget and the proposals up to twice it; those beyond sit at its edge
    near = [cost[r.number] for g in apart.values() for r in g if r.number in cost and cost[r.number] <= 2 * budget / scale]
    right = max([cost[r.number] for r in trained] + ([budget / scale] + near if budgeted else []), default=1.0) * 1.05
    if budgeted:
        ax.axvline(budget / scale, ls="--", c="0.4", lw=1, label="budget")
    ax.set_xlim(0, right)
    ax.set_ylabel("validation accuracy (proxy)")
    if strip_rows:
        _strip(axes[1][0], apart, cost, right, ax)
    elif any(apart.values()):  # nothing to place (a latency search never times what it does not train): say so
        counts = ", ".join(f"{len(g)} {s.value.replace('_', ' ')}" for s, g in apart.items() if g)
        ax.annotate(f"not drawn, no {label.split(' (')[0]}: {counts}", (0.01, 0.01), xycoords="axes fraction",
                    fontsize=7, color="0.3")
    axes[-1][0].set_xlabel(label)
    ax.legend(loc="best", fontsize=7)
    ax.set_title(title, fontsize=8)
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)
    return fig


def _front(ax: Any, front: list[TrialRecord], cost: dict[int, float]) -> None:
    """The front as a step line and red rings (around a grey dot or a backbone's star), each ring numbered
    with its rank (1 = most accurate, as in pareto.json)."""
    on = [r for r in front if r.number in cost]
    if not on:
        return
    ordered = sorted(on, key=lambda r: cost[r.number])
    ax.step([cost[r.number] for r in ordered], [r.accuracy for r in ordered], where="post", c=FRONT, lw=1)
    ax.scatter([cost[r.number] for r in on], [r.accuracy for r in on], s=90, facecolors="none", edgecolors=FRONT,
               linewidths=1.4, zorder=5, label=f"Pareto front ({len(on)}), numbered by rank")
    for rank, r in enumerate(front, 1):
        if r.number in cost:
            ax.annotate(str(rank), (cost[r.number], r.accuracy), fontsize=7, color=FRONT, xytext=(5, 4),
                        textcoords="offset points", weight="bold")


def _strip(strip: Any, apart: dict[TrialStatus, list[TrialRecord]], cost: dict[int, float], right: float,
           ax: Any) -> None:
    """The proposals that have a cost but no accuracy, one row each kind; those beyond the axis sit at its
    right edge as '>' (an over-budget proposal can cost many times the budget)."""
    rows = ((TrialStatus.FAILED, 1, "x", FAILED, "failed training"), (TrialStatus.OVER_BUDGET, 0, "|", OVER,
                                                                         "over budget, not trained"))
    for status, y, marker, colour, text in rows:
        group = apart[status]
        if not group:
            continue
        placed = [cost[r.number] for r in group if r.number in cost]
        inside = [x for x in placed if x <= right]
        beyond, unplaced = len(placed) - len(inside), len(group) - len(placed)
        note = (f", {beyond} beyond the axis" if beyond else "") + (f", {unplaced} without a cost" if unplaced else "")
        strip.scatter(inside, [y] * len(inside), marker=marker, c=colour, s=30)
        if beyond:
            strip.scatter([right], [y], marker=">", c=colour, s=40, clip_on=False)
            strip.annotate(str(beyond), (right, y), fontsize=7, xytext=(-14, 4), textcoords="offset points")
        # the main legend lists the strip's rows too (an empty scatter: a legend entry only)
        ax.scatter([], [], marker=marker, c=colour, s=30, label=f"{text} ({len(group)}{note})")
    strip.set_yticks([0, 1], ["over budget", "failed"], fontsize=7)
    strip.set_ylim(-0.6, 1.6)
    strip.tick_params(axis="x", labelsize=8)


def curves(path: Path, rows: list[TrialRecord], front: list[TrialRecord], title: str = "") -> bool:
    """curves.png: validation accuracy and train loss per epoch of every trial with a history, the front's in
    colour by rank, the others grey, failed trainings dashed. False (nothing written) when no trial has one."""
    with_history = [r for r in rows if r.history]
    if not with_history:
        return False
    plt = _pyplot()
    ranks = {r.number: rank for rank, r in enumerate(front, 1)}
    fig, (acc, loss) = plt.subplots(1, 2, figsize=(9.6, 4.2), dpi=120)
    labelled: set[str] = set()
    # drawn in this order: the trials off the front, then the front from its last rank to rank 1 (on top)
    for r in sorted(with_history, key=lambda r: -ranks[r.number] if r.number in ranks else -len(rows) - 1):
        epochs = [e["epoch"] for e in r.history]
        rank = ranks.get(r.number)
        failed = r.status == TrialStatus.FAILED
        if rank is not None and rank <= len(RANKS):
            style = {"c": RANKS[rank - 1], "lw": 1.6, "label": f"rank {rank} (trial {r.number})", "zorder": 3}
        else:
            group = "failed training" if failed else ("other trials" if rank is None else "front, rank > 9")
            style = {"c": FAILED if failed else "0.65", "lw": 0.8, "label": None if group in labelled else group}
            labelled.add(group)
        line = "--" if failed else "-"
        values = {k: [float("nan") if e.get(k) is None else e[k] for e in r.history] for k in ("val_accuracy",
                                                                                              "train_loss")}
        acc.plot(epochs, values["val_accuracy"], line, marker=".", **style)
        loss.plot(epochs, values["train_loss"], line, marker=".", **(style | {"label": None}))
    acc.set_xlabel("epoch")
    acc.set_ylabel("validation accuracy")
    loss.set_xlabel("epoch")
    loss.set_ylabel("train loss")
    for ax in (acc, loss):
        ax.xaxis.get_major_locator().set_params(integer=True)
    acc.legend(loc="best", fontsize=7)
    fig.suptitle(title, fontsize=8)
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)
    return True
