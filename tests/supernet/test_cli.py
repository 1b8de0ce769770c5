"""`nas supernet train | score`: a tiny run end to end, resume rules, one-line errors with exit code 2."""
import pytest

from nas.cli import main
from search_spaces import spaces
from tests.helpers import only_spaces
from tests.supernet.helpers import DATA_ARG, TINY

TINY_RUN = ["--data", DATA_ARG, "--epochs", "1", "--batch-size", "16", "--calibration-images", "32"]


def run(capsys, *argv):
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


@pytest.fixture
def tiny_space(monkeypatch):
    monkeypatch.setattr(spaces, "SPACES", only_spaces(spaces.get("elastic_mbv3"), TINY))


def test_train_then_score(capsys, tmp_path, tiny_space):
    code, out, err = run(capsys, "supernet", "train", "--space", "tiny_elastic", "--run-dir", str(tmp_path), *TINY_RUN)
    assert code == 0, err
    assert out.startswith("supernet of tiny_elastic trained 1 epoch(s) on synthetic: largest ")
    assert "epoch 1/1  loss " in err  # the progress bar's epoch line, on stderr
    code, out, err = run(capsys, "supernet", "score", str(tmp_path), "-n", "1", "--calibration-images", "16")
    assert code == 0, err
    lines = out.splitlines()
    assert lines[0].startswith("supernet of tiny_elastic after 1 epoch(s); accuracy on the 6 validation images")
    assert [line.split()[0] for line in lines[2:5]] == ["largest", "smallest", "random"]


def test_resume_keeps_the_run_settings(capsys, tmp_path, tiny_space):
    assert run(capsys, "supernet", "train", "--space", "tiny_elastic", "--run-dir", str(tmp_path), *TINY_RUN)[0] == 0
    code, _, err = run(capsys, "supernet", "train", "--space", "tiny_elastic", "--run-dir", str(tmp_path), *TINY_RUN)
    assert code == 2 and "holds a supernet run already: --resume continues it" in err
    code, _, err = run(capsys, "supernet", "train", "--run-dir", str(tmp_path), "--resume", "--epochs", "3",
                       "--lr", "0.1")
    assert code == 2 and err.count("\n") == 1
    assert "started with other settings: epochs (the run has 1); lr (the run has 0.05)" in err
    code, out, _ = run(capsys, "supernet", "train", "--run-dir", str(tmp_path), "--resume", "--device", "cpu")
    assert code == 0 and "trained 1 epoch(s)" in out  # nothing left to do: where it runs may change


@pytest.mark.parametrize("argv,message", [
    (["train", "--space", "mobile"], "space 'mobile' is not elastic, so it has no supernet; elastic spaces: "
                                     "elastic_mbv3"),
    (["train", "--space", "nope"], "unknown space 'nope'"),
    (["train", "--random-subnets", "-1"], "random_subnets must be in [0, 16]"),
    (["train", "--data", "cifar10:/nowhere"], "/nowhere"),
    (["score", "/nowhere"], "/nowhere: no readable supernet run"),
])
def test_bad_input_is_one_line(capsys, tmp_path, argv, message):
    if argv[0] == "train":
        argv = argv + ["--run-dir", str(tmp_path / "run")]
    code, out, err = run(capsys, "supernet", *argv)
    assert code == 2 and err.startswith("nas supernet: error: ") and err.count("\n") == 1, err
    assert message in err and "Traceback" not in err
