"""Auxiliary heads as spec data: where they attach, their JSON (absent when there are none, so older specs
digest as before), their cost apart from the deployed network (exact against PyTorch in training mode), the
module that runs them only in training, what drops them, and one-line errors."""
import dataclasses
import json

import pytest
import torch

from search_spaces import backbones, build, count, from_json
from search_spaces.cells.conv import AdaptivePoolArgs, ConvArgs
from search_spaces.cells.head import ClassifierArgs
from search_spaces.cost import Shape
from search_spaces.counting import aux_costs, block_shape, count_with_aux
from search_spaces.errors import SpecError
from search_spaces.scale import multiply
from search_spaces.spec import AuxHead, Block, NetSpec, Stage
from tests.exact import BATCH, torch_count

HEAD = (Block("conv", ConvArgs(8, 1)), Block("classifier", ClassifierArgs(2, (16,), dropout=0.5)))


def small(aux=()) -> NetSpec:
    """Two stages, the second a repeated row, with auxiliary heads after chosen blocks."""
    return NetSpec(
        stem=(Block("conv", ConvArgs(8, 3, 2)),),
        stages=(Stage((Block("conv", ConvArgs(16, 3, 2)), Block("conv", ConvArgs(16, 3)))),
                Stage((Block("conv", ConvArgs(32, 3, 2)), Block("conv", ConvArgs(32, 3), 3)))),
        head=(Block("classifier", ClassifierArgs()),), resolution=32, num_classes=10, aux=tuple(aux))


def test_block_shape_counts_the_copies_of_a_repeated_row():
    spec = small()
    assert block_shape(spec, 1, 1) == Shape(16, 8, 8)
    assert block_shape(spec, 2, 1) == Shape(32, 4, 4)
    assert block_shape(spec, 2, 4) == Shape(32, 4, 4)  # the last copy of the repeated row


def test_heads_are_counted_apart_and_exactly_in_training_mode():
    spec = small([AuxHead(1, 2, HEAD, 0.3), AuxHead(2, 3, (Block("adaptive_avgpool", AdaptivePoolArgs(2)), *HEAD))])
    assert count(spec) == count(small())  # the deployed network
    costs = aux_costs(spec)
    # aux1 on 16x8x8: 1x1 conv to 8 (128 weights, BN 16), classifier pool 2x2 -> fc 32 -> 16 -> 10
    assert costs[0].params == 16 * 8 + 16 + (32 * 16 + 16) + (16 * 10 + 10)
    assert costs[0].macs == 16 * 8 * 64 + 32 * 16 + 16 * 10
    assert count_with_aux(spec).params == count(spec).params + sum(c.params for c in costs)
    with torch.device("meta"):
        net = build(spec, aux=True).train()
        flops, params, out = _train_count(net, spec)
    assert flops == 2 * BATCH * count_with_aux(spec).macs and params == count_with_aux(spec).params
    logits, extra = out
    assert logits.shape == (BATCH, 10) and [t.shape for t in extra] == [(BATCH, 10)] * 2
    with torch.device("meta"):  # eval mode: the logits alone, and the deployed count
        flops, _, out = torch_count(build(spec, aux=True), torch.empty(BATCH, 3, 32, 32))
    assert isinstance(out, torch.Tensor) and flops == 2 * BATCH * count(spec).macs


def _train_count(net, spec):
    from torch.utils.flop_counter import FlopCounterMode

    with FlopCounterMode(display=False) as counter, torch.no_grad():
        out = net(torch.empty(BATCH, spec.in_channels, spec.resolution, spec.resolution))
    return counter.get_total_flops(), sum(p.numel() for p in net.parameters()), out


def test_outputs_follow_the_specs_order_and_only_built_when_asked():
    spec = small([AuxHead(2, 4, HEAD, 0.4), AuxHead(1, 1, HEAD, 0.3)])  # the later block first
    net = build(spec, aux=True)
    assert net.aux_weights == (0.4, 0.3)
    assert [m[0].conv.in_channels for m in net.aux] == [32, 16]
    torch.manual_seed(0)
    _, extra = net.train()(torch.randn(2, 3, 32, 32))
    assert [t.shape for t in extra] == [(2, 10), (2, 10)]
    plain = build(spec)  # what export, evaluation and latency build
    assert plain.aux is None and sum(p.numel() for p in plain.parameters()) == count(spec).params
    assert isinstance(plain.train()(torch.randn(2, 3, 32, 32)), torch.Tensor)


def test_json_round_trip_and_no_key_without_heads():
    spec = small([AuxHead(1, 2, HEAD, 0.3)])
    data = json.loads(spec.to_json())
    assert data["aux"] == [{"stage": 1, "block": 2, "weight": 0.3, "layers": [
        {"cell": "conv", "args": dataclasses.asdict(ConvArgs(8, 1))},
        {"cell": "classifier", "args": {**dataclasses.asdict(ClassifierArgs(2, (16,), dropout=0.5)), "hidden": [16]}}]}]
    assert from_json(spec.to_json()) == spec and from_json(spec.to_json()).digest() == spec.digest()
    assert "aux" not in small().to_dict() and "aux" not in backbones.get("resnet50").to_dict()
    assert spec.digest() != small().digest()  # the heads are part of what a spec is


@pytest.mark.parametrize("make,message", [
    (lambda: small([AuxHead(3, 1, HEAD)]), "aux1 attaches to stage 3, but the network has 2 stages"),
    (lambda: small([AuxHead(2, 5, HEAD)]), r"aux1 attaches after s2.b5, but stage 2 has 4 blocks"),
    (lambda: AuxHead(1, 1, (Block("conv", ConvArgs(8, 1)),)), "body rows then one head row"),
    (lambda: AuxHead(1, 1, (HEAD[1], HEAD[0])), "body rows then one head row"),
    (lambda: AuxHead(1, 1, ()), "layers must be a non-empty tuple of Blocks"),
    (lambda: AuxHead(1, 1, HEAD, weight=-1), r"aux weight must be in \[0.0, 10.0\], got -1"),
    (lambda: AuxHead(0, 1, HEAD), r"aux stage must be in \[1, 64\], got 0"),
    (lambda: small([AuxHead(1, 1, HEAD)] * 9), "at most 8 auxiliary heads"),
])
def test_bad_heads_are_one_line_errors(make, message):
    with pytest.raises(SpecError, match=message):
        make()


@pytest.mark.parametrize("change,message", [
    ({"aux": {"stage": 1}}, "spec 'aux' must be a list"),
    ({"aux": [{"stage": 1, "block": 1}]}, "an auxiliary head must be an object with stage, block, layers"),
    ({"aux": [{"stage": 1, "block": 1, "layers": [], "where": 1}]}, "must be an object with stage, block, layers"),
    ({"aux": [{"stage": 1, "block": 1, "layers": {}}]}, "an auxiliary head's layers must be a list of blocks"),
    ({"aux": [{"stage": "1", "block": 1, "layers": [{"cell": "classifier"}]}]}, "aux stage must be an integer"),
])
def test_bad_head_json_is_one_line(change, message):
    with pytest.raises(SpecError, match=message):
        from_json(json.dumps(small().to_dict() | change))


def test_a_head_that_does_not_fit_is_reported_when_counted_or_built_not_when_the_spec_is_made():
    # Inception-v3's AuxLogits pools 5x5 with stride 3 after Mixed_6e: at 96 px that map is 4x4 (torchvision's
    # InceptionAux fails there too), while the deployed network runs from 75 px
    spec = dataclasses.replace(backbones.get("inception_v3"), resolution=96)
    message = r"auxiliary head aux1 after s3.b5 does not fit at 96x96: aux1.b1 \(avgpool\): the feature map vanishes"
    with pytest.raises(SpecError, match=message):
        aux_costs(spec)
    with pytest.raises(SpecError, match=message):
        build(spec, aux=True)
    assert count(spec).macs > 0 and build(spec).aux is None


def test_neck_networks_take_no_heads_and_multiply_keeps_heads_only_at_depth_one():
    fpn = backbones.get("fpn_resnet50")
    with pytest.raises(SpecError, match="a network with a neck"):
        dataclasses.replace(fpn, aux=(AuxHead(1, 1, HEAD),))
    googlenet = backbones.get("googlenet")
    assert multiply(googlenet) == googlenet
    assert multiply(googlenet, width=0.5).aux == googlenet.aux  # their own widths; the input width follows
    assert aux_costs(multiply(googlenet, width=0.5))[0].params < aux_costs(googlenet)[0].params
    assert multiply(googlenet, depth=1.5).aux == ()  # the blocks they attach to moved


def test_export_leaves_them_out(tmp_path, monkeypatch):
    from nas.search import export as export_module

    spec = small([AuxHead(1, 2, HEAD)])
    (tmp_path / "net.json").write_text(spec.to_json())
    built = []
    monkeypatch.setattr(export_module, "build", lambda s, *a, **k: built.append((a, k)) or build(s, *a, **k))
    path = export_module.export(tmp_path / "net.json", fmt="torchscript", output=tmp_path / "net.pt").path
    assert built == [((), {})]  # the deployed network: built without aux=True
    module = torch.jit.load(str(path)).train()
    assert isinstance(module(torch.randn(1, 3, 32, 32)), torch.Tensor)
    assert sum(p.numel() for p in module.parameters()) == count(spec).params


def test_nas_count_shows_the_deployed_network_and_the_one_that_trains(capsys):
    from nas.cli import main

    assert main(["count", "googlenet"]) == 0
    out = capsys.readouterr().out.splitlines()
    assert out[2] == "  params           6.62M  (6,624,904)"  # the deployed network first, as before
    assert out[4] == "  with its 2 auxiliary head(s), training only (0.3 x loss after s3.b2, 0.3 x loss after s3.b5):"
    assert out[6] == "  params          13.00M  (13,004,888)"  # torchvision googlenet(weights=None), aux_logits=True
    assert main(["count", "inception_v3", "--json"]) == 0
    aux = json.loads(capsys.readouterr().out)["aux"]
    assert aux["params"] == 27_161_264 and aux["heads"] == [  # torchvision inception_v3 num_params
        {"where": "s3.b5", "weight": 0.4, "macs": 5_683_200, "params": 3_326_696}]
    assert main(["count", "inception_v3", "--resolution", "96"]) == 0
    assert "    auxiliary head aux1 after s3.b5 does not fit at 96x96" in capsys.readouterr().out
    assert main(["count", "resnet50", "--json"]) == 0
    assert "aux" not in json.loads(capsys.readouterr().out)
