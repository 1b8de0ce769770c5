"""The elastic space: Once-for-All's MobileNetV3 space grown from mobilenet_v3_large (or another mobile
backbone); every point is a NetSpec of the mobile space, built and counted by the existing code."""
import pytest

from nas.cli import main
from search_spaces import backbones, spaces
from search_spaces.counting import count
from search_spaces.errors import SpaceError
from search_spaces.settings import Norm
from search_spaces.spaces.elastic import SPACE, ElasticSpace
from search_spaces.spaces.mobile import SPACE as MOBILE
from tests.exact import assert_exact_network


def test_registered_as_elastic_mbv3_with_ofa_stages():
    assert spaces.get("elastic_mbv3") is SPACE
    # OFA-MBv3: widths 24 40 80 112 160, strides 2 2 2 1 2, SE on 40, 112, 160, hardswish from 80 on
    assert [(u.width, u.stride, u.se, u.activation) for u in SPACE.units] == [
        (24, 2, False, "relu"), (40, 2, True, "relu"), (80, 2, False, "hardswish"), (112, 1, True, "hardswish"),
        (160, 2, True, "hardswish")]
    largest, base = SPACE.largest(), backbones.get("mobilenet_v3_large")
    assert (largest.stem, largest.stages[0], largest.head) == (base.stem, base.stages[0], base.head)
    assert SPACE.encode(largest)["s6.b4.kernel_size"] == 7 and SPACE.encode(SPACE.smallest())["s2.depth"] == 2


def test_bn_settings_are_once_for_alls_and_a_grown_space_keeps_its_bases():
    # torchvision's momentum 0.01 left stand-alone proxy-trained points at chance (see elastic.SPACE)
    assert SPACE.largest().norm == SPACE.sample(3).norm == Norm(eps=1e-5, momentum=0.1)
    assert backbones.get("mobilenet_v3_large").norm == Norm(eps=1e-3, momentum=0.01)
    grown = ElasticSpace.grow("mobilenet_v3_large", resolutions=(224,))
    assert grown.smallest().norm == Norm(eps=1e-3, momentum=0.01)
    assert ElasticSpace.from_dict(SPACE.to_dict()) == SPACE and ElasticSpace.from_dict(SPACE.to_dict()).largest().norm == Norm()


def test_200_points_are_mobile_points_and_round_trip():
    for seed in range(200):
        spec = SPACE.sample(seed)
        assert MOBILE.contains(spec), seed
        assert SPACE.decode(SPACE.encode(spec)) == spec
    for spec in (SPACE.smallest(), SPACE.largest()):
        assert MOBILE.contains(spec) and SPACE.contains(spec)


def test_points_build_and_count_exactly():
    for spec in (SPACE.smallest(), SPACE.largest(), SPACE.sample(7)):
        assert_exact_network(spec)


def test_parameters_are_depths_kernels_expansions_and_resolution():
    ranges = SPACE.describe()
    assert ranges["resolution"] == "one of 128, 144, 160, 176, 192, 208, 224"
    assert ranges["s4.depth"] == "int in [2, 4]"
    assert ranges["s6.b4.kernel_size"] == "one of 3, 5, 7" and ranges["s2.b1.expand_ratio"] == "one of 3, 4, 6"
    assert len(ranges) == 1 + 5 * (1 + 4 * 2)


def test_budgeted_samples_fit_and_backbones_are_not_points():
    budget = 150_000_000
    for _, spec in zip(range(30), SPACE.samples(1, budget)):
        assert count(spec).macs <= budget
    assert not any(SPACE.contains(backbones.get(n)) for n in ("mobilenet_v3_large", "efficientnet_b0", "resnet50"))


def test_grown_from_efficientnet_b0_with_width_choices():
    space = ElasticSpace.grow("efficientnet_b0", widths=(0.75, 1.0), resolutions=(192, 224))
    assert space.name == "elastic_efficientnet_b0" and [u.width for u in space.units] == [24, 40, 80, 112, 192, 320]
    assert space.describe()["width"] == "one of 0.75, 1.0"
    for seed in range(40):
        spec = space.sample(seed)
        assert MOBILE.contains(spec) and space.decode(space.encode(spec)) == spec
    assert ElasticSpace.from_dict(space.to_dict()) == space
    assert_exact_network(space.point(width=0.75, pick=0))


@pytest.mark.parametrize("make,message", [
    (lambda: ElasticSpace.grow("resnet50"), "grows from a point of the mobile space"),
    (lambda: ElasticSpace.grow("mobilenet_v1"), "grows from MBConv stages"),
    (lambda: ElasticSpace.grow("mobilenet_v3_large", kernels=(3, 9)), "kernels \\[9\\] would leave the mobile space"),
    (lambda: ElasticSpace.grow("mobilenet_v3_large", depths=(2, 5)), "depths \\[5\\] would leave"),
    (lambda: ElasticSpace.grow("mobilenet_v3_large", expands=(6, 3)), "increasing order"),
    (lambda: ElasticSpace.grow("mobilenet_v3_large", resolutions=(100,)), "resolutions \\[100\\]"),
    (lambda: ElasticSpace.grow("efficientnet_b0", widths=(1.0, 1.25)), "width 1.25 gives networks outside"),
    (lambda: ElasticSpace.from_dict({"name": "x"}), "not an elastic space description"),
])
def test_bad_choices_are_one_line_errors(make, message):
    with pytest.raises(SpaceError, match=message):
        make()


def test_nas_spaces_lists_it(capsys):
    assert main(["spaces", "elastic_mbv3"]) == 0
    out = capsys.readouterr().out
    assert out.startswith("elastic_mbv3: elastic stages around mobilenet_v3_large (Once-for-All style)")
    assert "s{s}.b{j}.expand_ratio             one of 3, 4, 6   if 2 <= s <= 6, j <= s{s}.depth" in out
