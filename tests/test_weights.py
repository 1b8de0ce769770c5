"""Reference weights: the mapping against the references' own key lists, load and export both ways, and
one-line errors (exit code 2) for malformed or mismatched checkpoints, read with weights_only=True."""
import collections
import hashlib
import subprocess
import sys

import pytest
import torch

from search_spaces import backbones
from search_spaces.errors import NasError
from search_spaces.network import build
from search_spaces.weights import REFERENCES, WeightsError, export, load, mapping, shapes
from search_spaces.weights.files import read_state_dict, write_state_dict
from tests.reference_keys import KEYS

ORDER_DIFFERS = {"res2net50_26w_4s", "res2net101_26w_4s"}  # timm registers convs.0..2 before bns.0..2


def _figures(name: str) -> tuple[int, str, str, str, str]:
    """The mapping's reference names with our shapes, summarised as the experiment summarises the reference."""
    expected = shapes(name)
    lines = [f"{theirs} {expected[mine]}" for mine, theirs in mapping(name)]
    sha = [hashlib.sha256("\n".join(ls).encode()).hexdigest()[:16] for ls in (lines, sorted(lines))]
    return len(lines), sha[0], sha[1], mapping(name)[0][1], mapping(name)[-1][1]


def test_every_torchvision_and_timm_backbone_has_a_mapping():
    sources = {n: backbones.reference(n).source for n in backbones.names()}
    defined = {n for n, s in sources.items() if s.startswith(("torchvision 0.28 ", "timm "))}
    assert defined == set(REFERENCES) == set(KEYS)


@pytest.mark.parametrize("name", sorted(KEYS))
def test_mapping_names_the_references_tensors(name):
    count, ordered, unordered, first, last = KEYS[name]
    ours = _figures(name)
    assert (ours[0], ours[2], ours[3], ours[4]) == (count, unordered, first, last)  # same names, same shapes
    assert (ours[1] == ordered) == (name not in ORDER_DIFFERS)  # and the same order, Res2Net aside


def _random_state(name: str) -> collections.OrderedDict:
    torch.manual_seed(0)
    return collections.OrderedDict((k, torch.randn(s) if s else torch.tensor(7))
                                   for k, s in shapes(name).items())


@pytest.mark.parametrize("name", ["resnet18", "mobilenet_v3_small", "densenet121", "res2net50_26w_4s",
                                  "mnasnet_a1", "googlenet", "shufflenet_v2_x0_5"])
def test_round_trip_through_both_directions(name):
    ours = _random_state(name)
    theirs = export(name, ours)
    assert list(theirs.values())[0] is ours[mapping(name)[0][0]]
    back = load(name, theirs).state_dict()
    assert list(back) == list(ours) and all(torch.equal(back[k], ours[k].to(back[k].dtype)) for k in ours)
    assert list(export(name, load(name, theirs))) == list(theirs)


def test_load_ignores_aux_heads_and_module_prefix_and_tolerates_missing_batch_counts():
    theirs = export("googlenet", _random_state("googlenet"))
    with_aux = {"module." + k: v for k, v in theirs.items() if not k.endswith("num_batches_tracked")}
    with_aux["aux1.conv.conv.weight"] = torch.zeros(128, 512, 1, 1)  # torchvision's checkpoint keeps aux1, aux2
    net = load("googlenet", with_aux)
    assert torch.equal(net.state_dict()["head.b1.fc.weight"], theirs["fc.weight"])
    assert int(net.state_dict()["stem.b1.bn.num_batches_tracked"]) == 0


def test_fpn_takes_the_backbone_of_a_detector_checkpoint():
    # torchvision detection/faster_rcnn.py: FasterRCNN(backbone, ...) registers backbone.body.*, backbone.fpn.*,
    # then rpn.* and roi_heads.*; its FrozenBatchNorm2d has no num_batches_tracked
    theirs = export("fpn_resnet50", _random_state("fpn_resnet50"))
    detector = {"backbone." + k: v for k, v in theirs.items() if not k.endswith("num_batches_tracked")}
    detector |= {"rpn.head.conv.0.0.weight": torch.zeros(256, 256, 3, 3),
                 "roi_heads.box_head.fc6.bias": torch.zeros(1024)}
    net = load("fpn_resnet50", detector)
    assert torch.equal(net.state_dict()["neck.output.3.conv.bias"], theirs["fpn.layer_blocks.3.0.bias"])


@pytest.mark.parametrize("change,message", [
    (lambda s: s.pop("fc.weight"), "not a torchvision resnet18 state dict: no tensor 'fc.weight'"),
    (lambda s: s.__setitem__("fc.weight", torch.zeros(10, 512)),
     "'fc.weight' has shape (10, 512), resnet18 needs (1000, 512)"),
    (lambda s: s.__setitem__("layer5.0.conv1.weight", torch.zeros(1)), "1 tensor(s) resnet18 does not, first "
                                                                       "'layer5.0.conv1.weight'"),
    (lambda s: s.__setitem__("fc.bias", [0.0] * 1000), "no tensor 'fc.bias'"),
])
def test_a_mismatched_state_dict_is_one_line_naming_the_tensor(change, message):
    state = dict(export("resnet18", _random_state("resnet18")))
    change(state)
    with pytest.raises(WeightsError, match=message.replace("(", r"\(").replace(")", r"\)")) as err:
        load("resnet18", state)
    assert "\n" not in str(err.value) and isinstance(err.value, NasError)


def test_another_networks_checkpoint_names_the_first_mismatch():
    with pytest.raises(WeightsError, match=r"'layer1.0.conv1.weight' has shape \(64, 64, 3, 3\), resnet50 needs "
                                           r"\(64, 64, 1, 1\)"):
        load("resnet50", export("resnet18", _random_state("resnet18")))
    with pytest.raises(WeightsError, match="not the weights of our resnet34: no tensor 's1.b3"):
        export("resnet34", _random_state("resnet18"))
    with pytest.raises(WeightsError, match="antnet has no torchvision or timm definition"):
        load("antnet", {})


def test_files_are_read_with_weights_only(tmp_path, monkeypatch):
    path = write_state_dict({"a": torch.ones(2)}, tmp_path / "w.pt")
    calls = []
    real = torch.load
    monkeypatch.setattr(torch, "load", lambda *a, **k: calls.append(k) or real(*a, **k))
    assert torch.equal(read_state_dict(path)["a"], torch.ones(2))
    assert calls == [{"map_location": "cpu", "weights_only": True}]
    torch.save({"state_dict": {"a": torch.ones(2)}, "epoch": 3}, tmp_path / "train.pt")  # timm's training files
    assert list(read_state_dict(tmp_path / "train.pt")) == ["a"]


def _nas(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "nas", "weights", *args], capture_output=True, text=True)


def test_cli_load_and_export(tmp_path):
    reference = write_state_dict(export("resnet18", _random_state("resnet18")), tmp_path / "resnet18.pth")
    done = _nas("load", "resnet18", str(reference), "-o", str(tmp_path / "ours.pt"))
    assert done.returncode == 0 and "122 tensors of torchvision resnet18 loaded into resnet18" in done.stdout
    done = _nas("export", "resnet18", str(tmp_path / "ours.pt"), "-o", str(tmp_path / "back.pth"))
    assert done.returncode == 0 and "torchvision resnet18 names" in done.stdout
    back, original = read_state_dict(tmp_path / "back.pth"), read_state_dict(reference)
    assert list(back) == list(original) and all(torch.equal(back[k], original[k]) for k in back)
    listed = _nas("list").stdout.splitlines()
    assert len(listed) == len(REFERENCES) and listed[0].split() == ["alexnet", "torchvision", "alexnet"]


class Payload:
    """A pickled object: weights_only=True must refuse to build it."""


def _bad_files(tmp_path) -> list:
    text = tmp_path / "notes.pth"
    text.write_text("not a checkpoint\n")
    truncated = tmp_path / "truncated.pth"
    torch.save({"fc.weight": torch.ones(3)}, truncated)
    truncated.write_bytes(truncated.read_bytes()[:40])
    pickled = tmp_path / "pickled.pth"
    torch.save({"fc.weight": torch.ones(3), "extra": Payload()}, pickled)
    empty = tmp_path / "empty.pth"
    torch.save({"epoch": 3}, empty)
    other = write_state_dict(export("resnet18", _random_state("resnet18")), tmp_path / "resnet18.pth")
    return [(text, "not a PyTorch checkpoint"), (truncated, "not a PyTorch checkpoint"),
            (pickled, "refused by torch.load(weights_only=True): it holds a pickled tests.test_weights.Payload"), (empty, "holds no state dict"),
            (tmp_path / "missing.pth", "no such checkpoint file"),
            (other, "not a torchvision resnet50 state dict: 'layer1.0.conv1.weight' has shape")]


def test_cli_bad_checkpoints_are_one_line_and_exit_2(tmp_path):
    for path, message in _bad_files(tmp_path):
        done = _nas("load", "resnet50", str(path))
        assert done.returncode == 2 and done.stdout == "", path
        assert done.stderr.count("\n") == 1 and message in done.stderr, done.stderr
    done = _nas("export", "resnet50", str(tmp_path / "resnet18.pth"), "-o", str(tmp_path / "x.pth"))
    assert done.returncode == 2 and "not the weights of our resnet50" in done.stderr
    done = _nas("load", "antnet", str(tmp_path / "resnet18.pth"))
    assert done.returncode == 2 and done.stderr.count("\n") == 1


def test_loaded_module_computes_with_the_reference_settings():
    net = load("mobilenet_v3_small", export("mobilenet_v3_small", _random_state("mobilenet_v3_small")))
    bn = [m for m in net.modules() if isinstance(m, torch.nn.BatchNorm2d)]
    assert {(m.eps, m.momentum) for m in bn} == {(1e-3, 0.01)}
    assert isinstance(build(backbones.get("mobilenet_v3_small")), type(net))
