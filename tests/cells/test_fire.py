"""Exactness of SqueezeNet's fire module over a grid of widths and sizes, and its argument errors."""
import pytest

from search_spaces.cells.fire import FireArgs
from search_spaces.cost import Shape
from search_spaces.errors import SpecError
from tests.exact import assert_exact_cell

GRID = [
    ("fire", FireArgs(16, 64, 64), Shape(96, 13, 13)),  # SqueezeNet 1.0 fire2, reduced map
    ("fire", FireArgs(4, 8, 12), Shape(10, 7, 9)),  # unequal expands, odd non-square map
    ("fire", FireArgs(1, 1, 1), Shape(1, 1, 1)),  # the smallest fire on a 1x1 map
    ("fire", FireArgs(6, 3, 5), Shape(32, 5, 4)),
]


@pytest.mark.parametrize("name,args,shape", GRID, ids=[f"{g[0]}-{i}" for i, g in enumerate(GRID)])
def test_cell_cost_is_exact(name, args, shape):
    assert_exact_cell(name, args, shape)


def test_output_width_is_both_expands():
    from search_spaces.cells import get

    _, out = get("fire").cost(FireArgs(16, 64, 48), Shape(96, 10, 10))
    assert out == Shape(112, 10, 10)


@pytest.mark.parametrize("kwargs,message", [
    (dict(squeeze_channels=0, expand1x1_channels=4, expand3x3_channels=4),
     "fire squeeze_channels must be in [1, 65536], got 0"),
    (dict(squeeze_channels=4, expand1x1_channels=4.0, expand3x3_channels=4),
     "fire expand1x1_channels must be an integer, got 4.0"),
    (dict(squeeze_channels=4, expand1x1_channels=4, expand3x3_channels=True),
     "fire expand3x3_channels must be an integer, got True"),
])
def test_bad_arguments(kwargs, message):
    with pytest.raises(SpecError) as err:
        FireArgs(**kwargs)
    assert str(err.value) == message
