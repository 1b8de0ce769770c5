"""`nas spaces` and `nas sample`: listing, seeded budgeted sampling, one-line errors with exit code 2."""
import json

import pytest

from nas.cli import main
from search_spaces.spaces import get
from search_spaces.spec import spec_from_dict


def run(capsys, *argv):
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def test_spaces_lists_each_space_with_fixed_points_and_ranges(capsys):
    code, out, _ = run(capsys, "spaces", "dense", "classic")
    assert code == 0
    assert out.startswith("dense: DenseNet-BC")
    assert "fixed points: densenet121, densenet169, densenet201" in out
    assert "growth_rate                        int in [8, 48] step 4" in out
    assert "classic: plain conv stacks" in out and "squeezenet1_1" in out
    assert "s{s}.depth                         int in [2, 48] step 2   if s <= stages" in out  # with its condition
    assert "a typical point has 11 (median of 200 seeded draws, 11 to 12)" in out


def test_spaces_prints_the_whole_range_in_draw_order_with_conditions(capsys):
    # `nas spaces` printed s1.b2.out_channels as [56, 224] (one draw's range) while draws give 8; unordered
    code, out, _ = run(capsys, "spaces", "mobile")
    assert code == 0
    lines = [line.split()[0] for line in out.splitlines() if line.startswith("    ") and line.split()[0][0] != "("]
    assert lines[:3] == ["resolution", "width_mult", "depth_mult"] and lines[-1] == "head.dropout"
    assert lines.index("stages") < lines.index("s{s}.kind") < lines.index("s{s}.b{r}.out_channels")
    assert "s{s}.b{r}.out_channels             int in [8, 1024] step 8   if s <= stages, r <= s{s}.rows" in out
    assert "(within [half, twice] the previous row's base width" in out


def test_spaces_json(capsys):
    code, out, _ = run(capsys, "spaces", "shuffle", "--json")
    [space] = json.loads(out)
    assert code == 0 and space["name"] == "shuffle"
    assert "shufflenet_v2_x1_0" in space["fixed_points"]
    params = {p["name"]: p for p in space["parameters"]}
    assert params["unit"] == {"name": "unit", "kind": "categorical", "allowed": "one of 'v2', 'v1'",
                              "choices": ["v2", "v1"], "when": "", "note": ""}
    assert params["s{s}.split"]["when"] == "s <= stages, unit v2"
    assert params["s{s}.depth"] | {"when": ""} == {"name": "s{s}.depth", "kind": "int", "allowed": "int in [1, 12]",
                                                   "low": 1, "high": 12, "step": 1, "when": "", "note": ""}
    assert space["typical_parameter_count"] == {"median": 14, "low": 12, "high": 20, "draws": 200}


def test_sample_within_budget_is_seeded(capsys):
    code, out, _ = run(capsys, "sample", "--space", "mobile", "--budget", "300MFLOPs", "-n", "4", "--seed", "3")
    assert code == 0
    assert "4 candidates from space 'mobile' (seed 3) within 300.0M FLOPs" in out
    assert "FLOPs are multiply-adds" in out
    assert run(capsys, "sample", "--space", "mobile", "--budget", "300M", "-n", "4", "--seed", "3")[1] == out


def test_sample_json_gives_points_that_decode_to_the_spec(capsys):
    code, out, _ = run(capsys, "sample", "--space", "shuffle", "--budget", "0.2G", "-n", "3", "--json")
    rows = json.loads(out)
    assert code == 0 and len(rows) == 3
    for row in rows:
        spec = spec_from_dict(row["spec"])
        assert row["macs"] <= 200_000_000 and spec.digest() == row["digest"]
        assert get("shuffle").decode(row["point"]) == spec


@pytest.mark.parametrize(
    "argv,message",
    [
        (["sample", "--space", "nope"], "nas sample: error: unknown space 'nope'; known spaces: "),
        (["sample", "--space", "mobile", "--budget", "lots"], "nas sample: error: budget 'lots' is not understood"),
        (["sample", "--space", "mobile", "--budget", "1K"], "is below the smallest network of space 'mobile'"),
        (["sample", "--space", "dense", "-n", "0"], "nas sample: error: -n must be at least 1, got 0"),
        (["spaces", "nope"], "nas spaces: error: unknown space 'nope'"),
    ],
)
def test_errors_are_one_line_exit_2(capsys, argv, message):
    code, out, err = run(capsys, *argv)
    assert code == 2 and out == ""
    assert message in err and err.count("\n") == 1 and "Traceback" not in err
