"""Compound scaling: EfficientNet-B1..B7 from B0, the rounding rules, the FLOPs growth per phi, the grid."""
import dataclasses

import pytest

from scaling.compound import (
    CompoundScaling,
    ScalingError,
    explain_phi,
    feasible_grid,
    largest_phi,
    scale,
    scale_resolution,
)
from scaling.spaces import CoefficientSpace, PhiSpace
from search_spaces import backbones
from search_spaces.counting import count
from search_spaces.errors import SpecError
from search_spaces.rounding import make_divisible

# (width, depth, resolution) per model: tensorflow/tpu models/official/efficientnet/efficientnet_builder.py
# efficientnet_params (the same as torchvision 0.28.0 efficientnet.py _efficientnet_conf)
PUBLISHED = {
    "efficientnet_b1": (1.0, 1.1, 240), "efficientnet_b2": (1.1, 1.2, 260), "efficientnet_b3": (1.2, 1.4, 300),
    "efficientnet_b4": (1.4, 1.8, 380), "efficientnet_b5": (1.6, 2.2, 456), "efficientnet_b6": (1.8, 2.6, 528),
    "efficientnet_b7": (2.0, 3.1, 600),
}
# torchvision 0.28.0 torchvision/models/efficientnet.py `_meta` num_params
PARAMS = {"efficientnet_b1": 7_794_184, "efficientnet_b2": 9_109_994, "efficientnet_b3": 12_233_232,
          "efficientnet_b4": 19_341_616, "efficientnet_b5": 30_389_784, "efficientnet_b6": 43_040_704,
          "efficientnet_b7": 66_347_960}


@pytest.mark.parametrize("name", sorted(PUBLISHED))
def test_b1_to_b7_are_b0_scaled_by_the_published_triples(name):
    width, depth, resolution = PUBLISHED[name]
    scaled = scale(backbones.get("efficientnet_b0"), width=width, depth=depth, resolution=resolution)
    named = backbones.get(name)
    # channels per stage, repeats, resolution: everything but the classifier's dropout rate, which the
    # published models raise with size (0.2 .. 0.5) as a training setting, not a scaling rule
    def undropped(head):
        return tuple(dataclasses.replace(b, args=dataclasses.replace(b.args, dropout=0.0))
                     if hasattr(b.args, "dropout") else b for b in head)

    assert undropped(scaled.head) == undropped(named.head)
    assert (scaled.stem, scaled.stages, scaled.resolution) == (named.stem, named.stages, named.resolution)
    assert count(scaled).params == PARAMS[name] and count(scaled).macs == count(named).macs


def test_rounding_rules_on_literal_cases():
    assert make_divisible(32 * 1.1) == 32  # 35.2 -> 32 (not below 90 % of 35.2)
    assert make_divisible(16 * 1.4) == 24  # 22.4 -> 24
    assert make_divisible(80 * 1.1) == 88  # B2's stage 4
    assert make_divisible(40 * 1.1) == 48  # 44 -> 48 (nearest multiple of 8, ties up)
    assert make_divisible(10.0) == 16  # 8 would be below 90 % of 10
    assert scale_resolution(224, 1.15) == 256  # 257.6 -> 256
    assert scale_resolution(224, 1.0) == 224


def test_phi_zero_is_the_base_and_depth_rounds_up():
    base = backbones.get("efficientnet_b0")
    assert scale(base, 0) == base
    one = scale(base, 1)  # depth 1.2: EfficientNet-B0's stage repeats 1,2,2,3,3,4,1 become 2,3,3,4,4,5,2
    assert sum(b.repeats for s in one.stages for b in s.blocks) == 2 + 3 + 3 + 4 + 4 + 5 + 2
    assert one.resolution == 256


@pytest.mark.parametrize("name", ["efficientnet_b0", "resnet18", "mobilenet_v2"])
def test_flops_grow_by_about_alpha_beta2_gamma2_per_phi(name):
    base = backbones.get(name)
    macs = [count(scale(base, phi)).macs for phi in range(4)]
    assert macs == sorted(macs)
    growth = (macs[3] / macs[0]) ** (1 / 3)  # geometric mean per step
    assert abs(growth / CompoundScaling().flops_factor - 1) < 0.15  # rounding of depth and channels only


def test_a_side_the_network_refuses_moves_to_the_nearest_one_it_accepts():
    # BN-Inception's stride-2 branches (3x3/2 conv, padding 1, and 3x3/2 max pool) disagree on odd maps, so
    # it takes multiples of 32 only. phi -2: 224 / 1.15^2 = 169.4 rounds to 168 (refused); of the multiples
    # of 8 nearest 169.4 (168, 176, 160) it accepts 160. phi 3: 340.7 rounds to 344; 352 is the nearest it takes.
    base = backbones.get("inception_v2")
    assert [scale(base, phi).resolution for phi in (-2, -1, 1, 3)] == [160, 192, 256, 352]
    with pytest.raises(SpecError, match="bn_inception branches give different sizes 10x10, 11x11"):
        scale(base, width=1.0, depth=1.0, resolution=168)  # an explicit side is never moved
    # ShuffleNet v1 g3 scales at every phi: a stem of 24 * 1.1^phi that the usual multiple of 8 leaves
    # indivisible by its 3 groups (phi 2: 29.0 -> 32, phi 3: 31.9 -> 32) is rounded to a multiple of 3
    shuffle = backbones.get("shufflenet_v1_g3")
    assert [scale(shuffle, phi).stem[0].args.out_channels for phi in (-2, -1, 1, 2, 3)] == [24, 24, 24, 30, 33]
    assert scale(backbones.get("efficientnet_b0"), 3).resolution == make_divisible(224 * 1.15**3)  # 344: unmoved


def test_largest_phi_within_budget():
    base = backbones.get("efficientnet_b0")
    phi, spec = largest_phi(base, 1_800_000_000)
    assert count(spec).macs <= 1_800_000_000 < count(scale(base, phi + 0.05)).macs
    with pytest.raises(ScalingError, match="already over the budget"):
        largest_phi(base, 100_000_000)


def test_explain_phi_names_the_rounding_that_jumped():
    # `nas scale resnet18 --to 3G` picked phi 0.1 without saying why: the next step's side rounds from 224 to
    # 232 (the last map from 7 to 8 px: +14.6 %), and the first step already rounded every stage's 2 blocks up to 3
    choice = explain_phi(backbones.get("resnet18"), 3_000_000_000)
    assert (choice.phi, choice.macs) == (0.1, count(scale(backbones.get("resnet18"), 0.1)).macs)
    assert (choice.over.phi_from, choice.over.phi, choice.over.macs) == (0.1, 0.15, 3_161_353_024)
    assert choice.over.changes == ("resolution +14.6%: 224 -> 232 px (last feature map 7 -> 8 px)",)
    assert (choice.largest.phi_from, choice.largest.phi) == (0.0, 0.05) and round(choice.largest.growth, 3) == 0.510
    assert choice.largest.changes == ("depth +51.0%: blocks per stage 2, 2, 2, 2 -> 3, 3, 3, 3 (repeats round up)",)
    shuffle = explain_phi(backbones.get("shufflenet_v1_g3"), 1_000_000_000).over.changes
    assert shuffle[0].startswith("depth +10.2%: blocks per stage 7, 14, 7 -> 8, 15, 8")
    assert shuffle[1] == "width +1.5%: 4 channel count(s) round to another multiple of 8"
    assert explain_phi(backbones.get("resnet18"), 10**15, limit=0.1).over is None  # the limit, not the budget


def test_feasible_grid_and_spaces():
    grid = feasible_grid(tolerance=0.1)
    assert CompoundScaling(1.2, 1.1, 1.15) in grid  # 1.92, within 0.1 of 2
    assert all(abs(g.flops_factor - 2) <= 0.1 + 1e-9 for g in grid)
    assert CompoundScaling(1.4, 1.4, 1.4) not in grid
    base = backbones.get("resnet18")
    space = CoefficientSpace(base, grid[:5])
    for seed in range(5):
        spec = space.sample(seed)
        assert space.contains(spec)
    phis = PhiSpace(base, (0.0, 1.0, 2.0))
    assert phis.decode({"phi": 1.0}) == scale(base, 1.0)


def test_bad_coefficients():
    with pytest.raises(ScalingError, match="compound scaling beta must be in \\[1, 4\\], got 0.9"):
        CompoundScaling(1.2, 0.9, 1.15)
    with pytest.raises(ScalingError, match="either phi or explicit"):
        scale(backbones.get("resnet18"), 1.0, width=1.1)
