"""Each setting in one place: the command line's options derive from the config dataclasses, a config file
sets what the command line does, the resolved config is written to the run directory and repeats the run,
and the Python `search()` takes the command line's names."""
import json

import pytest

from nas.cli import main, parser
from nas.search.config import SearchConfig, SearchError, from_dict, read_config, resolve, search_fields
from nas.training.data import DataSource
from nas.training.train import TrainConfig

TINY = ["--space", "plain", "--budget", "3M", "--trials", "2", "--strategy", "random", "--scheduler", "fifo",
        "--data", "synthetic:3,16,4,64", "--epochs", "1"]


def test_every_search_setting_is_an_option_with_its_default_in_help(capsys):
    _, commands = parser()
    text = commands["search"].format_help()
    options = {s for a in commands["search"]._actions for s in a.option_strings}
    cli_names = [n for n, f in search_fields().items() if f.field.metadata.get("cli", True)]
    assert {"--" + n.replace("_", "-") for n in cli_names} <= options
    assert "--lr LR" in text and "(default: 0.05)" in text and "(default: 300MFLOPs)" in text
    assert "--train-seed" in options and "--data-holdout" in options  # nested settings, by their flat names


def test_the_python_api_takes_the_command_line_names():
    config = resolve(epochs=3, budget="1G", data="digits", data_holdout=0.25, train_seed=4, seed=7, lr=0.01)
    assert (config.train.epochs, config.train.seed, config.train.lr) == (3, 4, 0.01)
    assert (config.budget, config.seed) == (1_000_000_000, 7)
    assert config.data == DataSource("digits", holdout=0.25)
    with pytest.raises(TypeError, match="unknown setting.*epoch"):
        resolve(epoch=3)


def test_config_files_json_and_toml_nested_or_flat(tmp_path):
    nested = tmp_path / "c.json"
    nested.write_text(json.dumps({"space": "resnet", "train": {"epochs": 3, "seed": 2}, "data": {"holdout": 0.3}}))
    flat = tmp_path / "c.toml"
    flat.write_text('space = "resnet"\nepochs = 3\ntrain_seed = 2\ndata_holdout = 0.3\n')
    assert resolve(**read_config(nested)) == resolve(**read_config(flat))
    assert resolve(**read_config(nested)).train == TrainConfig(epochs=3, seed=2)
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps({"train": {"epoch": 3}}))
    with pytest.raises(SearchError, match="unknown train setting 'epoch'"):
        read_config(bad)
    bad.write_text("{not json")
    with pytest.raises(SearchError, match="not valid JSON"):
        read_config(bad)
    with pytest.raises(SearchError, match="expected a JSON object"):
        from_dict([1, 2])


def test_a_search_writes_its_resolved_config_and_the_file_repeats_it(tmp_path, ray_local, plain_space, capsys):
    run = tmp_path / "run"
    settings = tmp_path / "settings.json"
    settings.write_text(json.dumps({"trials": 5, "train": {"epochs": 1}}))
    # the file says 5 runs; the option typed after it says 2
    assert main(["search", "--config", str(settings), *TINY, "--run-dir", str(run)]) == 0
    written = json.loads((run / "config.json").read_text())
    assert written["trials"] == 2 and written["train"]["epochs"] == 1 and written["space"] == "plain"
    assert written["data"]["kind"] == "synthetic" and written["budget"] == 3_000_000
    assert resolve(**from_dict(written)) == SearchConfig(**{
        **{k: v for k, v in written.items() if k not in ("train", "data")},
        "train": TrainConfig(**written["train"]), "data": DataSource(**written["data"])})
    again = tmp_path / "again"
    assert main(["search", "--config", str(run / "config.json"), "--run-dir", str(again)]) == 0
    first, second = (json.loads((d / "config.json").read_text()) for d in (run, again))
    assert {k: v for k, v in first.items() if k != "run_dir"} == {k: v for k, v in second.items() if k != "run_dir"}
    capsys.readouterr()


def test_a_negative_value_reaches_the_settings_own_error(capsys, tmp_path):
    assert main(["search", "--budget", "-5M", "--run-dir", str(tmp_path / "r")]) == 2
    err = capsys.readouterr().err
    assert err == ("nas search: error: budget '-5M' is not understood; give a positive number with a unit, "
                   "e.g. 300M, 300MFLOPs, 0.3G, 4.1GFLOPs\n")


def test_a_mistyped_option_shows_the_subcommands_usage(capsys):
    with pytest.raises(SystemExit) as exit_:
        main(["search", "--budjet", "300M"])
    err = capsys.readouterr().err
    assert exit_.value.code == 2 and err.startswith("usage: nas search ")
    assert "unrecognized arguments: --budjet 300M; did you mean --budget?" in err


def test_version(capsys):
    from nas import __version__

    with pytest.raises(SystemExit):
        main(["--version"])
    assert capsys.readouterr().out == f"nas {__version__}\n" and __version__ == "0.1.0"
