"""Each space's declared parameters (`Space.parameters()`) against its draws: every parameter a draw makes is
declared with a range that holds the draw's, and every declaration is reached, so `nas spaces` (which prints
the declarations) cannot drift from `suggest`."""
from importlib import import_module

import pytest

from scaling.spaces import CoefficientSpace, PhiSpace
from search_spaces import backbones
from search_spaces.spaces import FAMILIES, get
from search_spaces.spaces.audit import check, typical_size
from search_spaces.spaces.declared import Choice, Float, Int
from search_spaces.spaces.elastic import ElasticSpace
from tests.spaces.test_base import Plain

DRAWS = {"inception": 400, "randwire": 300}  # the slower spaces; every declaration is reached within these


@pytest.mark.parametrize("family", FAMILIES)
def test_every_drawn_parameter_is_declared_with_a_range_that_holds_it(family):
    space = import_module(f"search_spaces.spaces.{family}").SPACE  # each built-in space (elastic: elastic_mbv3)
    assert space.parameters(), f"{space.name} declares no parameters"
    assert check(space, DRAWS.get(family, 600)) == []


def test_an_elastic_space_declares_its_own_choices():
    space = ElasticSpace.grow("efficientnet_b0", name="elastic_b0", depths=(1, 3), widths=(1.0, 1.2))
    assert check(space, 300) == []
    assert [p.allowed for p in space.parameters()[:3]] == [
        "one of 128, 144, 160, 176, 192, 208, 224", "one of 1.0, 1.2", "one of 1, 3"]


def test_the_sweep_spaces_declare_their_one_parameter():
    base = backbones.get("resnet18")
    assert check(PhiSpace(base, (0.0, 1.0)), 20) == []
    assert [p.allowed for p in PhiSpace(base, (0.0, 1.0)).parameters()] == ["one of 0.0, 1.0"]
    assert CoefficientSpace(base, [PhiSpace(base, (0.0,)).scaling]).parameters()[0].choices == ("1.2/1.1/1.15",)


def test_a_drift_between_declaration_and_suggest_is_named():
    class Drifted(Plain):
        def parameters(self):  # kernel_size lost a choice, s{s}.width its top, depth is missing, gone is stale
            return (Int("resolution", 32, 64, 16), Choice("kernel_size", (1, 3)), Int("s{s}.width", 8, 16, 8),
                    Float("gone", 0.0, 1.0))

    assert check(Drifted(), 50) == [
        "plain: kernel_size is drawn as one of 1, 3, 5, outside its declaration one of 1, 3",
        "plain: s1.width is drawn as int in [8, 32] step 8, outside its declaration int in [8, 16] step 8",
        "plain: s1.depth is drawn but not declared",
        "plain: s2.width is drawn as int in [8, 32] step 8, outside its declaration int in [8, 16] step 8",
        "plain: s2.depth is drawn but not declared",
        "plain: kernel_size (one of 1, 3) is declared but no draw of 50 made it",
        "plain: s{s}.width (int in [8, 16] step 8) is declared but no draw of 50 made it",
        "plain: gone (float in [0.0, 1.0]) is declared but no draw of 50 made it",
    ]


def test_patterns_match_indices_from_one_and_nothing_else():
    p = Int("s{s}.b{r}.out_channels", 8, 1024, 8)
    assert p.matches("s1.b2.out_channels") and p.matches("s12.b3.out_channels")
    assert not p.matches("s0.b1.out_channels") and not p.matches("s1.b1.out_channelsX") and not p.matches("s1.out_channels")
    assert Int("x[0]", 1, 2).matches("x[0]") and not Int("x[0]", 1, 2).matches("x0")
    assert p.admits("int", 56, 224, 8) and not p.admits("int", 4, 224, 8) and not p.admits("int", 12, 224, 8)
    assert Float("r", 1.0, 6.0, 0.25).admits("float", 1.5, 6.0, 0.25)
    assert not Float("r", 1.0, 6.0, 0.25).admits("float", 1.1, 6.0, 0.25)


def test_a_space_without_a_declaration_still_describes_itself():
    assert Plain().parameters() == () and "kernel_size" in Plain().describe()
    size = typical_size(get("dense"))
    assert (size.median, size.low, size.high) == (11, 11, 12)
