"""The space contract, checked the same way for every registered space: its named backbones are fixed
points (and no other backbone is a point), 100 seeded samples round-trip and are deterministic, budgeted
samples fit, and sampled networks build and count exactly. Family files hold what is specific."""
import dataclasses
import statistics

import pytest
import torch

from search_spaces import backbones, spaces
from search_spaces.counting import count
from search_spaces.network import build
from search_spaces.settings import without_settings
from tests.exact import assert_exact_network

SPACES = sorted(spaces.SPACES)
POINTS = [(space, name) for space in SPACES for name in spaces.get(space).fixed_points]


def test_every_space_of_the_issue_is_registered():
    assert set(SPACES) == {"mobile", "resnet", "inception", "dense", "shuffle", "classic", "randwire", "elastic_mbv3"}


@pytest.mark.parametrize("space,name", POINTS, ids=[f"{s}-{n}" for s, n in POINTS])
def test_named_backbones_are_fixed_points(space, name):
    spec = backbones.get(name)
    assert spaces.get(space).contains(spec)
    # a space encodes the architecture: BN settings and stochastic depth are no part of it
    assert without_settings(spaces.get(space).decode(spaces.get(space).encode(spec))) == without_settings(spec)


@pytest.mark.parametrize("space", SPACES)
def test_a_space_contains_exactly_its_fixed_points_among_all_backbones(space):
    inside = {name for name in backbones.names() if spaces.get(space).contains(backbones.get(name))}
    assert inside == set(spaces.get(space).fixed_points)


@pytest.mark.parametrize("space", SPACES)
def test_100_seeded_samples_round_trip_and_are_deterministic(space):
    s = spaces.get(space)
    samples = [s.sample(seed) for seed in range(100)]
    for spec in samples:
        assert s.decode(s.encode(spec)) == spec
    assert s.sample(11) == samples[11]
    assert len({spec.digest() for spec in samples}) >= 90  # seeds give different networks


@pytest.mark.parametrize("space", SPACES)
def test_budgeted_samples_fit(space):
    s = spaces.get(space)
    typical = [backbones.get(n) for n in s.fixed_points] or [s.sample(seed) for seed in range(5)]  # no named points
    budget = int(statistics.median(count(spec).macs for spec in typical))  # a typical budget
    for _, spec in zip(range(100), s.samples(0, budget)):
        assert count(spec).macs <= budget


@pytest.mark.parametrize("space", SPACES)
def test_sampled_networks_build_and_count_exactly(space):
    s = spaces.get(space)
    samples = sorted((s.sample(seed) for seed in range(10)), key=lambda spec: count(spec).macs)
    for spec in (s.smallest(), *samples[:2]):
        assert_exact_network(spec)  # meta device: 2 * macs == FlopCounterMode, params == sum(numel)
    side = 96
    spec = dataclasses.replace(s.smallest(), resolution=side)
    torch.manual_seed(0)
    with torch.no_grad():
        logits = build(spec).eval()(torch.randn(2, 3, side, side))
    assert logits.shape == (2, 1000) and torch.isfinite(logits).all()
