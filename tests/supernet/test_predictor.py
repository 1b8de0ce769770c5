"""The accuracy predictor of a search on a supernet (`nas search --supernet DIR --predictor N`): its features,
a fit that recovers a linear law, and a search that scores N candidates, predicts the rest and scores the
predicted front on the supernet."""
import json
import math

import pytest

from nas.search.predictor import PREDICTED, Predictor, features, fit
from nas.search.run import search
from nas.training.data import load
from nas.training.oneshot import calibration_images, score
from nas.training.supernet import load_supernet
from search_spaces.counting import count
from search_spaces.spec import from_json
from tests.supernet.helpers import TINY
from tests.supernet.test_search import BUDGET, DATA, config, in_process, study_of, supernet  # noqa: F401 (fixtures)


def law(spec):
    """A made-up accuracy linear in the features, to be recovered."""
    f = features(TINY, spec)
    return 0.5 + 0.01 * f["s2.depth"] - 0.004 * f["s3.kernel"] + 0.02 * f["s5.expand"] + 0.0002 * f["resolution"]


def test_features_of_the_largest_point():
    largest = TINY.largest()  # four elastic stages, each of depth 2, kernel 5, expansion 4, at 224 px
    expected = {"resolution": 224.0, "width": 1.0, "log_flops": math.log(count(largest).macs)}
    for s in range(2, 6):
        expected |= {f"s{s}.depth": 2.0, f"s{s}.kernel": 5.0, f"s{s}.expand": 4.0}
    assert features(TINY, largest) == expected
    params = TINY.encode(largest) | {"s3.b1.kernel_size": 3, "s4.depth": 1}
    mixed = TINY.decode({k: v for k, v in params.items() if not k.startswith("s4.b2.")})
    assert features(TINY, mixed)["s3.kernel"] == 4.0 and features(TINY, mixed)["s4.depth"] == 1.0


def test_a_linear_law_is_recovered_and_survives_its_json():
    specs = [TINY.sample(i) for i in range(40)]
    predictor = fit(TINY, specs, [law(s) for s in specs])
    assert predictor.fitted_on == 40 and predictor.alpha <= 0.01 and predictor.loo_rmse < 1e-4
    for spec in (TINY.sample(i) for i in range(100, 110)):
        assert predictor.predict(TINY, spec) == pytest.approx(law(spec), abs=2e-4)
    again = Predictor.from_dict(json.loads(json.dumps(predictor.to_dict())))
    assert again == predictor and again.predict(TINY, specs[0]) == predictor.predict(TINY, specs[0])


def test_what_cannot_be_fitted_or_trusted_says_so():
    specs = [TINY.sample(i) for i in range(12)]
    with pytest.raises(ValueError, match="at least 10 scored networks, got 9"):
        fit(TINY, specs[:9], [0.5] * 9)
    flat = fit(TINY, specs, [0.5] * 12)  # nothing to rank: no tau, every prediction the mean
    assert flat.loo_tau is None and flat.predict(TINY, TINY.sample(50)) == pytest.approx(0.5)
    assert fit(TINY, specs, [2.0 - 0.1 * i for i in range(12)]).predict(TINY, specs[0]) <= 1.0  # an accuracy


def test_a_search_scores_n_predicts_the_rest_and_scores_the_predicted_front(supernet, tmp_path, in_process):  # noqa: F811
    run = tmp_path / "run"
    result = search(config(supernet, run, trials=40, predictor=12))
    trials = study_of(run).get_trials()
    scored = [t for t in trials if t.user_attrs["status"] == "trained"]
    first, verified = scored[:12], scored[12:]
    assert all(PREDICTED not in t.user_attrs for t in first) and all(PREDICTED in t.user_attrs for t in verified)
    info = result.summary["predictor"]
    assert (info["rounds"], info["predicted"], info["verified"]) == (4, 28, len(verified)) and len(verified) <= 16
    # predictor.json: the last round's fit, on every score before that round's
    last = info["fitted_on"]
    assert 12 < last < len(scored) and len(scored) - last <= 4
    predictor = Predictor.from_dict(json.loads((run / "predictor.json").read_text()))
    fitted = scored[:last]
    assert predictor == fit(TINY, [from_json(t.user_attrs["spec"]) for t in fitted], [t.values[0] for t in fitted])
    trained, data = load_supernet(supernet), load(DATA)
    sample = calibration_images(data, trained.job.calibration_images)
    for t in verified:  # scored on the supernet like any candidate
        spec = from_json(t.user_attrs["spec"])
        assert t.user_attrs["scored_on"] == "supernet" and t.values[0] == score(trained.supernet, spec, data, True,
                                                                                    sample)
    for t in scored[last:]:  # beside what the predictor said
        assert t.user_attrs[PREDICTED] == predictor.predict(TINY, from_json(t.user_attrs["spec"]))
    assert len({t.user_attrs["digest"] for t in scored}) == len(scored)  # none scored twice
    assert result.summary["supernet"]["scored"] == len(scored)
    # a larger search on the study refits on every score so far and predicts up to the new total
    again = search(config(supernet, run, trials=60, predictor=12, resume=True))
    now = [t for t in study_of(run).get_trials() if t.user_attrs["status"] == "trained"]
    assert len(scored) < again.summary["predictor"]["fitted_on"] < len(now)
    assert again.summary["predictor"]["predicted"] == 60 - len(scored)
    assert study_of(run).get_trials()[:len(trials)] == trials


def test_the_command_line_reports_the_predictor(supernet, tmp_path, in_process, capsys):  # noqa: F811
    from nas.cli import main

    code = main(["search", "--space", "tiny_elastic", "--supernet", str(supernet), "--budget", f"{BUDGET / 1e6}M",
                 "--trials", "24", "--predictor", "12", "--strategy", "random", "--run-dir", str(tmp_path / "run")])
    out, err = capsys.readouterr()
    assert code == 0, err
    assert "; the first 12 scored, the rest predicted" in out
    assert "predictor: predicted 12 candidates in 4 rounds and scored " in out and "(predictor.json)" in out
