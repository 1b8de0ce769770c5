"""Exactness of the Res2Net bottleneck over scales, strides, groups and the stage-first variant."""
import pytest
import torch

from search_spaces import SpecError
from search_spaces.cells import get
from search_spaces.cells.res2net import Res2NetArgs, Res2Split
from search_spaces.cost import Shape
from tests.exact import assert_exact_cell

GRID = [
    ("res2net", Res2NetArgs(32, 6, 4, stage_first=True), Shape(16, 9, 9)),  # stage 1: projection, pool /1
    ("res2net", Res2NetArgs(32, 6, 4, 2, stage_first=True), Shape(16, 9, 9)),  # strided, odd size
    ("res2net", Res2NetArgs(32, 6, 4), Shape(32, 8, 8)),  # hierarchical, identity shortcut
    ("res2net", Res2NetArgs(24, 5, 2), Shape(24, 7, 6)),  # scale 2
    ("res2net", Res2NetArgs(48, 4, 8, 2, stage_first=True), Shape(24, 10, 11)),  # scale 8
    ("res2net", Res2NetArgs(32, 8, 4, 2, groups=4, stage_first=True), Shape(16, 9, 9)),  # Res2NeXt
    ("res2net", Res2NetArgs(32, 6, 3, projection=True), Shape(32, 5, 5)),  # forced projection
    ("res2net", Res2NetArgs(32, 6, 4, 3, stage_first=True), Shape(16, 13, 13)),  # stride 3
]


@pytest.mark.parametrize("name,args,shape", GRID, ids=[f"{g[0]}-{i}" for i, g in enumerate(GRID)])
def test_cell_cost_is_exact(name, args, shape):
    assert_exact_cell(name, args, shape)


def test_hierarchy_feeds_each_split_the_previous_output():
    # an ordinary block: split i sees split i-1's output, so a change in split 0 reaches split 2's conv
    torch.manual_seed(0)
    middle = Res2Split(2, 4, 1, 1, stage_first=False).eval()
    x = torch.randn(1, 8, 5, 5)
    y = x.clone()
    y[:, 0] += 1.0
    with torch.no_grad():
        a, b = middle(x), middle(y)
    assert not torch.allclose(a[:, 4:6], b[:, 4:6])  # third split's conv output changed
    assert torch.equal(a[:, 6:], x[:, 6:])  # last split passes through
    first = Res2Split(2, 4, 1, 1, stage_first=True).eval()
    with torch.no_grad():
        a, b = first(x), first(y)
    assert torch.allclose(a[:, 2:6], b[:, 2:6])  # stage-first: splits are independent


def test_copies_are_ordinary_blocks():
    first = Res2NetArgs(256, 26, 4, 2, stage_first=True, projection=True)
    assert get("res2net").repeat(first) == Res2NetArgs(256, 26, 4)


def test_errors():
    with pytest.raises(SpecError, match=r"res2net stride=2 needs stage_first=True"):
        Res2NetArgs(32, 6, 4, 2)
    with pytest.raises(SpecError, match=r"res2net scale must be in \[2, 16\], got 1"):
        Res2NetArgs(32, 6, 1)
    with pytest.raises(SpecError, match="res2net groups=4 must divide split_channels=6"):
        Res2NetArgs(32, 6, 4, groups=4)
    with pytest.raises(SpecError, match="res2net stage_first must be True or False"):
        Res2NetArgs(32, 6, 4, stage_first=1)
    with pytest.raises(SpecError, match="res2net without projection needs equal shapes"):
        get("res2net").cost(Res2NetArgs(32, 6, 4, projection=False), Shape(16, 8, 8))
