"""What every named backbone must do, whatever its family: count exactly what PyTorch counts at its
published resolution, run a real forward pass at a small resolution, survive JSON, and be its own image
under the identity multiplier. The reference figures themselves are checked per family (test_<family>.py),
typed there from outside sources."""
import dataclasses

import pytest
import torch

from search_spaces import backbones, build, count, from_json
from search_spaces.errors import SpecError
from search_spaces.scale import multiply
from tests.exact import assert_exact_network

NAMES = backbones.names()


def smallest_resolution(spec) -> int:
    """The smallest of a few sides at which the network keeps a feature map (Inception v3 needs 75)."""
    for side in (32, 64, 75, 96):
        try:
            return dataclasses.replace(spec, resolution=side).resolution
        except SpecError:
            continue
    raise AssertionError("no small resolution fits")


@pytest.mark.parametrize("name", NAMES)
def test_count_is_exact_against_pytorch_at_full_resolution(name):
    spec = backbones.get(name)
    assert spec.resolution == backbones.row(name).resolution
    assert assert_exact_network(spec) == (count(spec).macs, count(spec).params)


@pytest.mark.parametrize("name", NAMES)
def test_forward_pass_at_a_small_resolution(name):
    spec = backbones.get(name)
    side = smallest_resolution(spec)
    torch.manual_seed(0)
    net = build(dataclasses.replace(spec, resolution=side)).eval()
    with torch.no_grad():
        out = net(torch.randn(2, 3, side, side))
    outputs = out if isinstance(out, list) else [out]
    assert all(torch.isfinite(t).all() for t in outputs)
    if spec.neck is None:
        assert out.shape == (2, 1000)


@pytest.mark.parametrize("name", NAMES)
def test_json_round_trip_and_identity_multiplier(name):
    spec = backbones.get(name)
    assert from_json(spec.to_json()) == spec
    assert from_json(spec.to_json()).digest() == spec.digest()
    assert multiply(spec) == spec


def typed_references() -> dict[str, tuple[int, int, int, int | None]]:
    """name -> (params, macs, macs tolerance, resolution or None), from every family file's table, each
    row typed there from an outside source (the reference implementation, README or paper cited on its line)."""
    from tests.backbones import (
        test_classic,
        test_dense,
        test_inception,
        test_mobile,
        test_resnet,
        test_shuffle,
    )

    typed = {}
    for module in (test_classic, test_dense, test_inception, test_resnet, test_shuffle):
        typed |= {name: (params, round(macs), tol, None) for name, (params, macs, tol) in module.REFERENCE.items()}
    typed |= {name: (params, macs, tol, res) for name, (res, params, macs, tol) in test_mobile.REFERENCE.items()}
    return typed


TYPED = typed_references()


def test_every_backbone_is_checked_against_a_typed_reference():
    from tests.backbones import test_detection, test_randwire

    covered = set(TYPED) | set(test_detection.EXPECTED) | set(test_randwire.NAMES)  # RandWire: 5-seed means
    assert set(NAMES) <= covered


@pytest.mark.parametrize("name", sorted(TYPED))
def test_params_and_macs_match_the_typed_reference(name):
    params, macs, tol, resolution = TYPED[name]
    cost = count(backbones.get(name))
    assert cost.params == params
    assert abs(cost.macs - macs) <= tol, f"{name}: {cost.macs:,} vs {macs:,} +- {tol:,}"
    assert resolution in (None, backbones.row(name).resolution)
    ref = backbones.reference(name)  # the library's own Reference row says the same
    assert ref.params == params and abs(ref.macs - macs) <= tol
