"""Compound-scaling runs end to end on tiny settings: a trained phi sweep and the coefficient grid search,
through the real trial machinery (Optuna study, Ray Tune), and the CLI that prints them."""
import json

import pytest

from nas.search.config import SearchConfig, SearchError
from nas.search.sweeps import phi_sweep, search_coefficients, write_sweep
from nas.training.data import DataSource
from nas.training.train import TrainConfig
from scaling.compound import CompoundScaling
from search_spaces.cells.conv import ConvArgs
from search_spaces.cells.head import ClassifierArgs
from search_spaces.counting import count
from search_spaces.spec import Block, NetSpec, Stage

BASE = NetSpec(stem=(Block("conv", ConvArgs(8, 3, 2)),),
               stages=(Stage((Block("conv", ConvArgs(16, 3, 2)),)), Stage((Block("conv", ConvArgs(24, 3, 2)),))),
               head=(Block("classifier", ClassifierArgs()),), resolution=64, num_classes=10)
DATA = DataSource("synthetic", resolution=16, channels=3, num_classes=4, size=64)


def config(tmp_path, **kw):
    return SearchConfig(space="phi", run_dir=str(tmp_path / "run"), data=DATA,
                        train=TrainConfig(epochs=1, batch_size=32), **kw)


def test_trained_phi_sweep_is_a_study_with_one_trial_per_phi(tmp_path, ray_local):
    rows = phi_sweep(BASE, [0.0, 1.0, 2.0], train=True, config=config(tmp_path))
    assert [r.phi for r in rows] == [0.0, 1.0, 2.0]
    assert [r.status for r in rows] == ["trained"] * 3 and all(0 <= r.accuracy <= 1 for r in rows)
    assert rows[0].macs == count(BASE).macs and rows[0].macs < rows[1].macs < rows[2].macs
    files = write_sweep(tmp_path / "run", rows, "tiny")
    assert {f.name for f in files} == {"sweep.csv", "sweep.json", "sweep.png"}
    assert json.loads((tmp_path / "run" / "sweep.json").read_text())[2]["resolution"] == rows[2].resolution


def test_coefficient_search_end_to_end(tmp_path, ray_local):
    best, rows = search_coefficients(BASE, config(tmp_path), trials=3)
    assert len(rows) == 3 and all(r.phi == 1.0 for r in rows)
    assert CompoundScaling() in [CompoundScaling(*map(float, r.coefficients.split("/"))) for r in rows]
    trained = [r for r in rows if r.accuracy is not None]
    assert trained and best == CompoundScaling(*map(float, max(trained, key=lambda r: (r.accuracy, -r.macs))
                                                    .coefficients.split("/")))
    for r in rows:  # every candidate of the grid keeps alpha * beta^2 * gamma^2 within 0.1 of 2
        a, b, g = map(float, r.coefficients.split("/"))
        assert abs(a * b * b * g * g - 2) <= 0.1 + 1e-9


def test_scale_cli_counts_without_training(capsys, tmp_path):
    from nas.cli import main

    assert main(["scale", "efficientnet_b0", "--phi", "0", "1", "--run-dir", str(tmp_path / "s")]) == 0
    out = capsys.readouterr().out
    assert "385.8M" in out and "859.9M" in out  # B0, and B0 at phi 1 (256 px)
    assert main(["scale", "resnet18", "--to", "1M", "--run-dir", str(tmp_path / "t")]) == 2
    assert "already over the budget" in capsys.readouterr().err
    (tmp_path / "a_file").write_text("")
    assert main(["scale", "resnet18", "--phi", "1", "--run-dir", str(tmp_path / "a_file")]) == 2
    err = capsys.readouterr().err
    assert err.startswith("nas scale: error: cannot use directory") and err.count("\n") == 1
    assert main(["scale", "resnet18", "--search-coefficients", "--trials", "0", "--run-dir", str(tmp_path / "c")]) == 2
    assert capsys.readouterr().err == "nas scale: error: trials must be at least 1, got 0\n"
    with pytest.raises(SearchError, match="needs at least one phi"):
        phi_sweep(BASE, [])


def test_scale_cli_trains_on_the_data_it_is_given(capsys, tmp_path, monkeypatch):
    # `nas scale --train` had no --data: every sweep trained on the default MNIST subset
    import nas.search.sweeps
    from nas.cli import main

    given = []
    monkeypatch.setattr(nas.search.sweeps, "phi_sweep", lambda base, phis, scaling, train, config, progress: given.append(
        config) or [])
    monkeypatch.setattr(nas.search.sweeps, "write_sweep", lambda *args: [])
    run = ["--run-dir", str(tmp_path / "run")]
    assert main(["scale", "resnet18", "--phi", "0", "--train", "--data", "synthetic:1,16,4,64", *run]) == 0
    assert given[0].data == DataSource("synthetic", resolution=16, channels=1, num_classes=4, size=64)
    assert main(["scale", "resnet18", "--phi", "0", "--train", "--data", "synthetic:1,16,4", *run]) == 2
    assert "synthetic data is synthetic:CHANNELS,RESOLUTION,CLASSES,SIZE" in capsys.readouterr().err


def test_an_interrupted_sweep_resumes_without_retraining(tmp_path, ray_local):
    import optuna

    from nas.search.run import search
    from scaling.spaces import PhiSpace

    phis = [0.0, 1.0, 2.0]
    # an interrupted sweep: its study holds the queued phis and only the first trained
    search(config(tmp_path, trials=1, strategy="random", seed_backbones=False, scheduler="fifo", budget=10**15),
           space=PhiSpace(BASE, tuple(phis)), enqueue=[{"phi": p} for p in phis])
    with pytest.raises(Exception, match="pass --resume"):  # the study exists: never started over silently
        phi_sweep(BASE, phis, train=True, config=config(tmp_path))
    rows = phi_sweep(BASE, phis, train=True, config=config(tmp_path, resume=True))
    assert [r.status for r in rows] == ["trained"] * 3
    trials = optuna.load_study(study_name="nas", storage=f"sqlite:///{tmp_path / 'run' / 'study.db'}").get_trials()
    assert sorted(t.params["phi"] for t in trials if t.user_attrs["status"] == "trained") == phis  # each once


def test_scale_never_overwrites_a_sweep_without_resume_and_records_each_spec(capsys, tmp_path):
    from nas.cli import main
    from search_spaces.spec import spec_from_dict

    run = ["--run-dir", str(tmp_path / "s")]
    assert main(["scale", "resnet18", "--phi", "0", "1", *run]) == 0
    capsys.readouterr()
    record = (tmp_path / "s" / "sweep.json").read_text()
    for row in json.loads(record):  # each scaled network can be counted, trained, exported: its spec is there
        spec = spec_from_dict(row["spec"])
        assert spec.digest() == row["digest"] and count(spec).macs == row["macs"]
    assert "spec" not in (tmp_path / "s" / "sweep.csv").read_text().splitlines()[0].split(",")
    assert main(["scale", "efficientnet_b0", "--phi", "2", *run]) == 2
    out, err = capsys.readouterr()
    assert out == "" and err.count("\n") == 1 and (tmp_path / "s" / "sweep.json").read_text() == record
    assert err.startswith(f"nas scale: error: {tmp_path / 's'} already holds a sweep (sweep.json, sweep.csv); "
                          "pass --resume")
    assert main(["scale", "efficientnet_b0", "--phi", "2", "--resume", *run]) == 0  # redone there on purpose
    assert json.loads((tmp_path / "s" / "sweep.json").read_text())[0]["resolution"] == 296


def test_scale_to_says_why_it_picked_its_phi(capsys, tmp_path):
    from nas.cli import main

    assert main(["scale", "resnet18", "--to", "3G", "--run-dir", str(tmp_path / "t")]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[1] == "largest phi within 3.00G FLOPs: 0.1 (2.76G, 92% of the budget; phi on a grid of 0.05)"
    assert lines[2] == ("  phi 0.15 would be 3.16G (+14.6%), over the budget: resolution +14.6%: 224 -> 232 px "
                        "(last feature map 7 -> 8 px)")
    assert lines[3].startswith("  the largest step below it: phi 0 -> 0.05, 1.81G -> 2.74G (+51.0%): depth +51.0%")


def test_a_counted_sweep_then_trained_with_resume_starts_its_study(capsys, tmp_path, monkeypatch):
    import nas.search.sweeps
    from nas.cli import main

    run = ["--run-dir", str(tmp_path / "run")]
    assert main(["scale", "resnet18", "--phi", "0", *run]) == 0  # counted only: a record, no study
    given = []
    monkeypatch.setattr(nas.search.sweeps, "phi_sweep", lambda base, phis, scaling, train, config, progress: given.append(
        config) or [])
    monkeypatch.setattr(nas.search.sweeps, "write_sweep", lambda *args: [])
    assert main(["scale", "resnet18", "--phi", "0", "--train", "--resume", *run]) == 0
    assert given[0].resume is False  # nothing to resume there: the search must start the study, not refuse
    (tmp_path / "run" / "study.db").write_text("")
    assert main(["scale", "resnet18", "--phi", "0", "--train", "--resume", *run]) == 0
    assert given[1].resume is True
