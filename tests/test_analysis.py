"""`nas analyze`: the error EDF and the per-choice errors of a run with known trials."""
import json

import numpy as np
import optuna
import pytest
from optuna.distributions import CategoricalDistribution, IntDistribution

from nas.cli import main
from nas.search.analysis import analyze, edf, effects
from nas.search.records import NAMED, STATUS

DIST = {"norm": CategoricalDistribution((True, False)), "width": IntDistribution(8, 64, step=8)}


def make_run(path, trials, num_classes=10):
    """A run directory whose study holds `trials`: (norm, width, status, accuracy, named)."""
    path.mkdir(parents=True)
    study = optuna.create_study(study_name="nas", storage=f"sqlite:///{path / 'study.db'}",
                                directions=["maximize", "minimize"])
    for norm, width, status, accuracy, named in trials:
        attrs = {STATUS: status} | ({NAMED: named} if named else {})
        state = optuna.trial.TrialState.COMPLETE if status == "trained" else optuna.trial.TrialState.FAIL
        study.add_trial(optuna.trial.create_trial(
            state=state, values=[accuracy, 1.0] if status == "trained" else None,
            params={"norm": norm, "width": width}, distributions=DIST, user_attrs=attrs))
    (path / "run.json").write_text(json.dumps({"storage": f"sqlite:///{path / 'study.db'}", "study_name": "nas",
                                               "space": "plain", "budget": 10**9, "objective": "flops",
                                               "num_classes": num_classes}))
    return path


TRIALS = [  # norm=False networks fail or stay near chance; the named backbone is left out of the EDF
    (True, 8, "trained", 0.90, None), (True, 16, "trained", 0.80, None), (True, 24, "trained", 0.70, None),
    (False, 8, "trained", 0.20, None), (False, 16, "failed", None, None), (False, 24, "trained", 0.60, None),
    (True, 64, "trained", 0.99, "mobilenet_v2"), (True, 32, "over_budget", None, None),
]


def test_edf_is_the_fraction_at_or_below_each_error():
    xs, ys = edf([0.5, 0.1, 1.0, 0.3])
    assert xs.tolist() == [0.1, 0.3, 0.5, 1.0] and ys.tolist() == [0.25, 0.5, 0.75, 1.0]


def test_analyze_counts_and_figures_of_a_known_run(tmp_path):
    run = make_run(tmp_path / "run", TRIALS)
    (analysis,), found, out = analyze([run])
    # six drawn networks (the seeded backbone and the over-budget proposal are not drawn ones): five trained,
    # one failed; near chance is below 3 x 10 % = 30 %: the 0.20 network
    assert (analysis.trained, analysis.failed, analysis.near_chance) == (5, 1, 1)
    assert analysis.median == pytest.approx(0.70) and analysis.best == pytest.approx(0.90)
    assert sorted(round(n.error, 2) for n in analysis.drawn) == [0.1, 0.2, 0.3, 0.4, 0.8, 1.0]
    # norm: errors (0.1, 0.2, 0.3) with, (0.8, 1.0, 0.4) without: means 0.2 and 0.733, the largest spread
    assert found[0].name == "norm" and found[0].labels == ("False", "True")
    assert found[0].means == pytest.approx((2.2 / 3, 0.2)) and found[0].counts == (3, 3)
    assert (out / "edf.png").stat().st_size > 0 and (out / "params.png").stat().st_size > 0


def test_many_valued_parameters_are_binned():
    from nas.search.analysis import Drawn

    networks = [Drawn({"w": w}, w / 100) for w in range(8, 88, 8)]  # 10 widths: 4 quantile bins
    (effect,) = effects(networks)
    assert len(effect.labels) == 4 and sum(effect.counts) == 10
    assert np.all(np.diff(effect.means) < 0)  # wider is better here, bin by bin


def test_the_cli_prints_the_counts_for_each_run(tmp_path, capsys):
    first = make_run(tmp_path / "a", TRIALS)
    second = make_run(tmp_path / "b", [(True, 8, "trained", 0.95, None), (True, 16, "trained", 0.85, None)])
    assert main(["analyze", str(first), str(second), "--out", str(tmp_path / "fig")]) == 0
    out = capsys.readouterr().out
    assert "a  6 drawn: 5 trained, 1 failed, 1 near chance (< 30%); median 0.7000, best 0.9000" in out
    assert "b  2 drawn: 2 trained, 0 failed, 0 near chance (< 30%); median 0.9000, best 0.9500" in out
    assert "norm" in out and (tmp_path / "fig" / "edf.png").is_file()
    assert main(["analyze", str(tmp_path / "nothing")]) == 2
    assert "not a search run directory" in capsys.readouterr().err
