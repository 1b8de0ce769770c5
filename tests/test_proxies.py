"""Zero-cost scores: finite, deterministic, leave the model alone, and respond to the architecture."""
import math

import pytest
import torch

from nas.training.data import DataSource, load, normalize
from nas.training.evaluate import adapt
from nas.training.proxies import PROXIES, naswot, score, synflow
from search_spaces.errors import NasError
from search_spaces.network import build
from tests.test_train import tiny_spec


@pytest.fixture(scope="module")
def digits():
    return load(DataSource("digits", resolution=16))


def test_every_score_is_finite_and_deterministic(digits):
    first = score(tiny_spec(), digits, batch_size=32)
    assert set(first) == set(PROXIES) and all(math.isfinite(v) for v in first.values())
    assert first == score(tiny_spec(), digits, batch_size=32)
    assert first["synflow"] > 0 and first["grad_norm"] > 0 and first["snip"] > 0


def test_scores_leave_the_model_unchanged(digits):
    torch.manual_seed(0)
    model = build(adapt(tiny_spec(), digits))
    before = {k: v.clone() for k, v in model.state_dict().items()}
    x = normalize(digits.train_x[:16], digits)
    for fn in PROXIES.values():
        fn(model, x, digits.train_y[:16])
    assert all(torch.equal(before[k], v) for k, v in model.state_dict().items())
    assert all(p.grad is None for p in model.parameters())


@pytest.mark.parametrize("activation", ["relu", "relu6"])
def test_wider_networks_have_more_synaptic_flow(digits, activation):
    # ReLU6 would clip the all-positive flow at 6 and make every network score alike; synflow linearises
    x = normalize(digits.train_x[:8], digits)
    narrow, wide = (build(adapt(tiny_spec(w, activation), digits)) for w in (4, 16))
    assert synflow(wide, x) > 4 * synflow(narrow, x)


def test_naswot_is_lower_for_indistinct_images(digits):
    torch.manual_seed(0)
    model = build(adapt(tiny_spec(), digits))
    x = normalize(digits.train_x[:16], digits)
    same = x[:1].expand(16, -1, -1, -1) + 1e-3 * torch.randn_like(x)  # near-identical images: K near rank one
    assert naswot(model, same) < naswot(model, x)


def test_unknown_score_is_an_error(digits):
    with pytest.raises(NasError, match="unknown zero-cost score"):
        score(tiny_spec(), digits, names=("jacov",))
