"""The markdown record of experiments/oneshot.py: its tables, from the results it gathered (also kept in
experiments/oneshot.json, so the record can be rewritten: python experiments/oneshot_report.py)."""
from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
LABELS = {"as_trained": "supernet, BN as trained", "recal_1000": "supernet, recalibrated (1,000 images)",
          "recal_250": "supernet, recalibrated (250 images)", "macs": "FLOPs alone"}


def _f(value: Any, digits: int = 3) -> str:
    return "-" if value is None else f"{value:.{digits}f}"


def _setting(r: dict[str, Any]) -> list[str]:
    """One data setting: its supernet, the tau table, the extremes and every sub-network."""
    images, sn = r["images"], r["supernet"]
    last = sn["history"][-1]
    p = r["proxy"]
    lines = [f"### Setting `{r['setting']}`: {images['train']:,} training, {images['val']:,} validation, "
             f"{images['test']:,} test images", "",
             f"Proxy (`nas.training.train.PROXY` at run time): {p['epochs']} epochs, batch {p['batch_size']}, lr "
             f"{p['lr']} {p['schedule']}, label smoothing {p['label_smoothing']}, weight decay {p['weight_decay']}. "
             f"Supernet: {r['supernet_epochs']} epochs of the same recipe, sandwich rule (largest, smallest, two "
             f"random a step) with in-place distillation; {sn['cpu']:.0f} CPU-s ({sn['wall']:.0f} s wall); after "
             f"its last epoch the largest scores {last['largest']:.3f}, the smallest {last['smallest']:.3f}.", "",
             "| Kendall tau over the sub-networks (validation accuracy) | tau | p |", "| --- | ---: | ---: |"]
    for name, (tau, pv) in r["taus"].items():
        label = name
        for key, text in LABELS.items():
            label = label.replace(key, text)
        lines.append(f"| {label} | {tau:+.3f} | {pv:.2g} |")
    rows = r["rows"]
    lines += ["", "Smallest and largest, inherited (recalibrated on 1,000) against stand-alone (validation; test "
              "in brackets):", ""]
    for row, name in ((rows[0], "smallest"), (rows[-1], "largest")):
        a0, a1 = row["alone_0"], row["alone_1"]
        lines.append(f"- {name} ({row['macs'] / 1e6:.1f}M, {row['resolution']} px): inherited {_f(row['recal_1000'])}"
                     f" ({_f(row['test'])}), as trained {_f(row['as_trained'])}; stand-alone seed 0 {_f(a0['val'])} "
                     f"({_f(a0['test'])}), seed 1 {_f(a1['val'])} ({_f(a1['test'])})")
    lines += ["", "| id | MFLOPs | res | as trained | recal 1000 | recal 250 | alone seed 0 | alone seed 1 | "
              "alone CPU-s |", "| ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |"]
    for row in rows:
        a0, a1 = row["alone_0"], row["alone_1"]
        lines.append(f"| {row['id']} | {row['macs'] / 1e6:.1f} | {row['resolution']} | {_f(row['as_trained'])} | "
                     f"{_f(row['recal_1000'])} | {_f(row['recal_250'])} | {_f(a0['val'])} | {_f(a1['val'])} | "
                     f"{a0['cpu']:.1f} |")
    return lines + [""]


def _cost(results: dict[str, Any]) -> list[str]:
    """Supernet training plus a search against stand-alone training, and the best networks found."""
    default, s = results["ranking"][0], results["search"]
    rows, sn, found, retrain = default["rows"], default["supernet"], s["search_300M"], s["retrain"]
    info = found["summary"]["supernet"]
    alone = sum(r["alone_0"]["cpu"] for r in rows)
    alone_wall = sum(r["alone_0"]["wall"] for r in rows)
    oneshot = sn["cpu"] + found["cpu"]
    score_cpu = {k: sum(r[f"{k}_cpu"] for r in rows) / len(rows) for k in ("recal_1000", "recal_250")}
    lines = ["### Cost (CPU seconds of one process on one thread; wall seconds beside)", "",
             "| step | CPU-s | wall s |", "| --- | ---: | ---: |",
             f"| supernet training ({default['supernet_epochs']} epochs) | {sn['cpu']:.0f} | {sn['wall']:.0f} |",
             f"| search over {info['scored']:,} candidates at 300M on it ({found['summary']['trials']:,} proposals) | "
             f"{found['cpu']:.0f} | {found['wall']:.0f} |",
             f"| supernet training + search | {oneshot:.0f} | {sn['wall'] + found['wall']:.0f} |",
             f"| training the {len(rows)} sub-networks stand-alone (seed 0) | {alone:.0f} | {alone_wall:.0f} |",
             f"| {info['scored']:,} candidates stand-alone (at the mean of the {len(rows)}) | "
             f"{alone / len(rows) * info['scored']:.0f} | - |",
             f"| retraining the {len(s['retrain']['summary']['retrained'])} best stand-alone (--retrain) | "
             f"{retrain['cpu']:.0f} | {retrain['wall']:.0f} |", "",
             f"Supernet training + search / {len(rows)} stand-alone trainings: **{oneshot / alone:.2f}** (target < "
             f"0.25). Per candidate the search spent {found['cpu'] / info['scored']:.3f} CPU-s, of which scoring "
             f"{info['cpu_seconds_per_candidate']:.3f} (extract, BN recalibration on "
             f"{info['calibration_images']:,} images, validation); recalibrating on 250 images instead costs "
             f"{score_cpu['recal_250']:.3f} CPU-s a score against {score_cpu['recal_1000']:.3f}. A stand-alone "
             f"training costs {alone / len(rows):.1f} CPU-s on average.", ""]
    second = s["search_150M"]
    sinfo = second["summary"]["supernet"]
    lines += [f"A search for another budget (150M) on the same supernet, scored by Ray tasks on "
              f"{sinfo['workers']} workers: {sinfo['scored']:,} candidates in {second['wall']:.0f} s wall "
              f"({sinfo['seconds_per_candidate']:.3f} s each; {sinfo['cpu_seconds_per_candidate']:.3f} CPU-s of "
              "scoring each), best supernet accuracy "
              f"{_f(second['summary']['best_accuracy'])}.", ""]
    return lines + _best(s)


def _best(s: dict[str, Any]) -> list[str]:
    best, multi = s["best"], s["multitrial"]
    acc, _, number, macs = multi["best"]
    return ["### The best under 300M: one-shot against multi-trial with the same compute", "",
            f"One-shot: supernet training + search + retraining = {s['oneshot_cpu']:.0f} CPU-s. At the mean "
            f"stand-alone cost of the sub-networks under 300M ({s['standalone_cpu_under_budget']:.1f} CPU-s) that "
            f"buys {s['multitrial_runs']} training runs: the multi-trial search (`nas search`, its defaults: "
            f"evolution, ASHA, two trials at a time) ran {multi['trained']} to the end or to ASHA's stop in "
            f"{multi['wall']:.0f} s wall (trials {multi['trial_seconds']:.0f} s, Ray's reaped processes "
            f"{multi['reaped_children_cpu']:.0f} CPU-s).", "",
            "| network | FLOPs | supernet val | stand-alone val seed 0 (test) | stand-alone val seed 1 (test) |",
            "| --- | ---: | ---: | ---: | ---: |",
            f"| one-shot best (trial {best['number']}) | {best['macs'] / 1e6:.1f}M | {_f(best['supernet_accuracy'])} | "
            f"{_f(best['standalone_accuracy'])} ({_f(best['standalone_test_accuracy'])}) | "
            f"{_f(s['best_seed1']['val'])} ({_f(s['best_seed1']['test'])}) |",
            f"| multi-trial best (trial {number}) | {macs / 1e6:.1f}M | - | {_f(acc)} (as found) | "
            f"{_f(s['multitrial_best_seed1']['val'])} ({_f(s['multitrial_best_seed1']['test'])}) |", ""]


def _tau(x: list[float], y: list[float]) -> float:
    from scipy.stats import kendalltau

    return float(kendalltau(x, y)[0])


def _predictor(results: dict[str, Any]) -> list[str]:
    """The searches with an accuracy predictor: cost, the best retrained, and how predictors rank."""
    default, s, p = results["ranking"][0], results["search"], results["predictor"]
    rows, sn, found = default["rows"], default["supernet"], p["search_300M"]
    guess, info = found["summary"]["predictor"], found["summary"]["supernet"]
    alone = sum(r["alone_0"]["cpu"] for r in rows)
    n = results["args"]["predictor"]
    lines = [f"### Search with an accuracy predictor (`--predictor {n}`)", "",
             f"The same supernet's weights, scored with today's default of {info['calibration_images']} calibration "
             f"images; the same evolution. The search scores its first {n} candidates on the supernet, then in "
             f"{guess['rounds']} rounds fits the predictor (`nas.search.predictor`) on every score so far, predicts "
             f"its share of {guess['predicted']:,} more candidates and scores {guess['verified']} of the predicted "
             f"fronts on the supernet in all. The last fit, on {guess['fitted_on']} scores (ridge penalty "
             f"{guess['alpha']:g}), predicts them at leave-one-out Kendall tau {_f(guess['loo_tau'], 2)} (error "
             f"{guess['loo_rmse']:.4f}).", "",
             "| step | CPU-s | wall s |", "| --- | ---: | ---: |",
             f"| supernet training ({default['supernet_epochs']} epochs) | {sn['cpu']:.0f} | {sn['wall']:.0f} |",
             f"| search over {n + guess['predicted']:,} candidates at 300M ({info['scored']} scored, "
             f"{guess['predicted']:,} predicted; {found['summary']['trials']:,} trials in the study) | "
             f"{found['cpu']:.0f} | {found['wall']:.0f} |",
             f"| supernet training + search | {sn['cpu'] + found['cpu']:.0f} | {sn['wall'] + found['wall']:.0f} |",
             f"| training the {len(rows)} sub-networks stand-alone (seed 0) | {alone:.0f} | - |", "",
             f"Supernet training + search / {len(rows)} stand-alone trainings: **{(sn['cpu'] + found['cpu']) / alone:.2f}**"
             f" (target < 0.25; scoring every candidate: {(sn['cpu'] + s['search_300M']['cpu']) / alone:.2f}). "
             f"Predicting took {guess['cpu_seconds']:.1f} CPU-s for {guess['predicted']:,} candidates. A search for "
             f"150M on the same supernet the same way: {p['search_150M']['wall']:.0f} s wall, best supernet accuracy "
             f"{_f(p['search_150M']['summary']['best_accuracy'])}.", "",
             "Its best three by supernet accuracy, retrained stand-alone (validation; test in brackets):", "",
             "| trial | FLOPs | supernet val | alone seed 0 | alone seed 1 |", "| ---: | ---: | ---: | ---: | ---: |"]
    for b in p["best"]:
        a0, a1 = b["alone_0"], b["alone_1"]
        lines.append(f"| {b['number']} | {b['macs'] / 1e6:.1f}M | {_f(b['supernet'])} | {_f(a0['val'])} "
                     f"({_f(a0['test'])}) | {_f(a1['val'])} ({_f(a1['test'])}) |")
    pick = max(p["best"], key=lambda b: b["alone_0"]["val"])
    retrain = sum(b["alone_0"]["cpu"] for b in p["best"])
    multi = s["multitrial_best_seed1"]
    third = p.get("seed2", {})
    later = {"one-shot pick": (pick["alone_1"], third.get("pick")), "multi-trial best": (multi, third.get("multitrial"))}
    lines += ["", f"Picked among them on seed 0's stand-alone validation accuracy (what `--retrain {len(p['best'])}` "
              f"offers): trial {pick['number']} ({pick['macs'] / 1e6:.1f}M). Against the multi-trial search's best, "
              "picked on its own seed-0 validation, at training seeds that played no part in either pick:", "",
              "| network | seed 1 val (test) | seed 2 val (test) | mean val | mean test |",
              "| --- | ---: | ---: | ---: | ---: |"]
    for name, (one, two) in later.items():
        runs = [r for r in (one, two) if r]
        lines.append(f"| {name} | {_f(one['val'])} ({_f(one['test'])}) | "
                     + (f"{_f(two['val'])} ({_f(two['test'])})" if two else "-")
                     + f" | {sum(r['val'] for r in runs) / len(runs):.4f} | {sum(r['test'] for r in runs) / len(runs):.4f} |")
    lines += ["", f"The one-shot path spent {sn['cpu'] + found['cpu'] + retrain:.0f} CPU-s with the retraining; the "
              f"multi-trial search had {s['multitrial_runs']} training runs, what {s['oneshot_cpu']:.0f} CPU-s buy. One "
              "search each: differences under about 0.01 are within the noise of 400 validation images and of a "
              "training seed."]
    mean = [(r["alone_0"]["val"] + r["alone_1"]["val"]) / 2 for r in rows]
    draws = sorted(_tau(d, mean) for d in p["draw_predictions"])
    lines += ["", f"Ranking of the {len(rows)} sub-networks above (Kendall tau with the mean of the two stand-alone "
              "seeds; they reach 566M, the predictors saw networks under 300M only):", "",
              "| ranked by | tau |", "| --- | ---: |",
              f"| the search's last predictor ({guess['fitted_on']} scores) | {_tau(p['subnet_predictions'], mean):+.3f} |",
              f"| predictors fitted on {len(draws)} other draws of {n} scores of the first search: median (min, max) | "
              f"{draws[len(draws) // 2]:+.3f} ({draws[0]:+.3f}, {draws[-1]:+.3f}) |",
              f"| the supernet, recalibrated (250 images) | {_tau([r['recal_250'] for r in rows], mean):+.3f} |",
              f"| FLOPs alone | {_tau([r['macs'] for r in rows], mean):+.3f} |",
              f"| seed 0 vs seed 1 (noise ceiling) | {default['taus']['seed 0 vs seed 1 (noise ceiling)'][0]:+.3f} |",
              ""]
    return lines


def report(results: dict[str, Any]) -> str:
    m = results["machine"]
    args = results["args"]
    command = ".venv/bin/python experiments/oneshot.py --work WORK" + (" --quick" if args["quick"] else "")
    lines = ["# One-shot search against stand-alone training", "",
             f"Command: `nohup {command}` (steps cached in WORK/cache.jsonl; the first run "
             f"{results.get('first_seconds', results['seconds']) / 3600:.1f} h wall, the last "
             f"{results['seconds'] / 60:.1f} min: each step's timing is that of the run that made it)", "",
             f"Machine: {m['cpu']}, {m['cores']} cores shared with other jobs, torch {m['torch']} on the CPU, one "
             f"thread; Python {m['python']}. Space `elastic_mbv3`; {args['subnets']} sub-networks spread across its "
             "FLOPs range (the smallest, the largest, and the sampled point nearest each of evenly spaced FLOPs "
             "between); accuracies are validation accuracies unless marked test.", ""]
    for r in results["ranking"]:
        lines += _setting(r)
    lines += _cost(results)
    if "predictor" in results:
        lines += _predictor(results)
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    data = json.loads((HERE / "oneshot.json").read_text())
    text = report(data)
    (HERE / "oneshot.md").write_text(text)
    sys.stdout.write(text)
