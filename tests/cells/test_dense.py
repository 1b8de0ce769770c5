"""Exactness of DenseNet's dense block and transition over a grid of arguments, and their errors."""
import pytest

from search_spaces.cells import get
from search_spaces.cells.dense import DenseArgs, TransitionArgs, dense_layer_cost
from search_spaces.cost import Cost, Shape
from search_spaces.errors import SpecError
from tests.exact import assert_exact_cell

GRID = [
    ("dense", DenseArgs(1, 8, 16), Shape(8, 9, 9)),  # a single layer
    ("dense", DenseArgs(3, 12, 48), Shape(24, 7, 5)),  # bn_size 4, odd non-square map
    ("dense", DenseArgs(4, 5, 7), Shape(3, 6, 6)),  # odd growth, bottleneck narrower than the input
    ("dense", DenseArgs(2, 32, 128), Shape(64, 4, 4)),  # DenseNet-121's widths on a small map
    ("dense_transition", TransitionArgs(12), Shape(24, 8, 8)),  # halving
    ("dense_transition", TransitionArgs(7), Shape(15, 9, 7)),  # odd sizes: the 2x2 pool floors
    ("dense_transition", TransitionArgs(16), Shape(16, 2, 2)),
]


@pytest.mark.parametrize("name,args,shape", GRID, ids=[f"{g[0]}-{i}" for i, g in enumerate(GRID)])
def test_cell_cost_is_exact(name, args, shape):
    assert_exact_cell(name, args, shape)


def test_block_adds_layers_times_growth():
    _, out = get("dense").cost(DenseArgs(6, 32, 128), Shape(64, 56, 56))
    assert out == Shape(64 + 6 * 32, 56, 56)


def test_transition_halves_the_map():
    _, out = get("dense_transition").cost(TransitionArgs(128), Shape(256, 56, 56))
    assert out == Shape(128, 28, 28)


@pytest.mark.parametrize("make,message", [
    (lambda: DenseArgs(0), "dense layers must be in [1, 128], got 0"),  # an empty block adds nothing
    (lambda: DenseArgs(6, growth_rate=0), "dense growth_rate must be in [1, 65536], got 0"),
    (lambda: DenseArgs(6, 32, bottleneck_channels=2.5), "dense bottleneck_channels must be an integer, got 2.5"),
    (lambda: TransitionArgs(0), "dense_transition out_channels must be in [1, 65536], got 0"),
])
def test_bad_arguments(make, message):
    with pytest.raises(SpecError) as err:
        make()
    assert str(err.value) == message


def test_widen_scales_growth_and_keeps_the_compression():
    assert get("dense").widen(DenseArgs(6, 32, 128), 0.5, 64, 32) == DenseArgs(6, 16, 64)
    # DenseNet-121's first transition halves 256 channels; at half width it halves 128
    assert get("dense_transition").widen(TransitionArgs(128), 0.5, 256, 128) == TransitionArgs(64)


@pytest.mark.parametrize("layers,growth,bottleneck,shape", [
    (1, 8, 16, Shape(8, 9, 9)), (24, 32, 128, Shape(256, 28, 28)), (48, 12, 48, Shape(3, 5, 7)),
    (128, 48, 192, Shape(96, 7, 7)),
])
def test_closed_form_is_the_layer_by_layer_sum(layers, growth, bottleneck, shape):
    """The block's closed form against the walk it replaces: one dense_layer_cost per layer on the
    concatenated width so far (FlopCounterMode checks small blocks above; this covers 128 layers)."""
    total = Cost()
    for i in range(layers):
        total += dense_layer_cost(Shape(shape.c + i * growth, shape.h, shape.w), bottleneck, growth)[0]
    assert get("dense").cost(DenseArgs(layers, growth, bottleneck), shape)[0] == total
