"""The `nas` command as a user runs it: output, exit codes, one-line errors, no tracebacks."""
import json
import subprocess
import sys
from pathlib import Path

import pytest

from nas.cli import main

EXAMPLE = str(Path(__file__).parent.parent / "examples" / "tiny_cnn.json")


def run(capsys, *argv):
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def test_count_example(capsys):
    code, out, _ = run(capsys, "count", EXAMPLE)
    assert code == 0
    assert "357,782,528 multiply-adds" in out  # conv 32/2, 2x conv 64 (first /2), 2x conv 128 (first /2), fc
    assert "multiply-adds of conv and linear layers" in out


def test_count_json_and_resolution(capsys):
    code, out, _ = run(capsys, "count", EXAMPLE, "--json", "--resolution", "112")
    data = json.loads(out)
    assert code == 0 and data["resolution"] == 112
    # every conv output is a quarter the size at half the resolution; the fc layer (128*1000) is not
    assert data["macs"] == (357_782_528 - 128_000) // 4 + 128_000


@pytest.mark.parametrize(
    "argv,message",
    [
        (["count", "missing.json"], "'missing.json' is neither a spec JSON file nor a backbone name"),
        (["count", "BAD"], "neither a spec JSON file"),
        (["export-spec", "nope"], "neither a spec JSON file"),
    ],
)
def test_bad_input_is_one_line_exit_2(capsys, argv, message):
    code, out, err = run(capsys, *argv)
    assert code == 2 and out == ""
    assert message in err and err.count("\n") == 1 and "Traceback" not in err


def test_malformed_spec_file(capsys, tmp_path):
    bad = tmp_path / "bad.json"
    bad.write_text('{"stem": [{"cell": "conv", "args": {"out_channels": 8, "kernel_size": 4}}], "stages": [], "head": [{"cell": "classifier"}]}')
    code, _, err = run(capsys, "count", str(bad))
    assert code == 2
    assert err.strip() == f"nas count: error: {bad}: conv kernel_size must be odd, got 4"


def test_export_then_count_round_trip(capsys, tmp_path):
    out_file = tmp_path / "spec.json"
    assert run(capsys, "export-spec", EXAMPLE, "-o", str(out_file))[0] == 0
    code, out, _ = run(capsys, "count", str(out_file), "--json")
    assert json.loads(out)["macs"] == 357_782_528


def test_cells_lists_every_cell(capsys):
    from search_spaces.cells import CELLS

    code, out, _ = run(capsys, "cells")
    assert code == 0
    for name in CELLS:
        assert f"\n{name} " in "\n" + out


def test_python_dash_m_entry_point():
    done = subprocess.run([sys.executable, "-m", "nas", "count", EXAMPLE, "--json"], capture_output=True, text=True)
    assert done.returncode == 0 and json.loads(done.stdout)["params"] == 407_176


def test_backbones_command_shows_reference_figures_exactly(capsys):
    # references: torchvision resnet50 (v1.5) 25,557,032 params (torchvision 0.28.0 models/resnet.py `_meta`
    # num_params), 4,089,184,256 multiply-adds (fvcore 0.1.5 conv + linear count on torchvision 0.28.0 resnet50,
    # random weights; `_ops` 4.089); torchvision mobilenet_v2 3,504,872 params (models/mobilenetv2.py `_meta`
    # num_params), 0.3008 G multiply-adds (the same fvcore measurement, rounded)
    code, out, _ = run(capsys, "backbones", "resnet50", "mobilenet_v2")
    lines = out.splitlines()
    assert code == 0 and len(lines) == 4 and lines[0].split()[:3] == ["backbone", "res", "params"]
    resnet = lines[1].split()
    assert resnet[:4] == ["resnet50", "224", "25,557,032", "25,557,032"] and resnet[4] == "exact"
    assert resnet[5:8] == ["4,089,184,256", "4,089,184,256", "exact"]
    mobilenet = lines[2].split()
    assert mobilenet[2:5] == ["3,504,872", "3,504,872", "exact"] and mobilenet[7] == "exact"
    assert mobilenet[6].endswith("~")  # a rounded reference, matched within its rounding
    assert "'~' marks a reference printed rounded" in lines[3]


def test_backbones_json_has_no_mismatch():
    done = subprocess.run([sys.executable, "-m", "nas", "backbones", "--json"], capture_output=True, text=True)
    rows = json.loads(done.stdout)
    assert done.returncode == 0 and len(rows) >= 55
    assert not [r["name"] for r in rows if r["params_match"] is False or r["macs_match"] is False]
    assert {r["name"]: r["params"] for r in rows}["efficientnet_b0"] == 5_288_548  # torchvision's count
