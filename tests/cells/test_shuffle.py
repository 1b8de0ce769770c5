"""Exactness of the ShuffleNet v1 and v2 units over a grid of arguments, their repeats and their errors."""
import pytest
import torch

from search_spaces.cells import get
from search_spaces.cells.shuffle import ShuffleV1Args, ShuffleV2Args, channel_shuffle
from search_spaces.cost import Shape
from search_spaces.errors import SpecError
from tests.exact import assert_exact_cell

GRID = [
    # v1: (out, mid, groups, stride)
    ("shuffle_v1", ShuffleV1Args(240, 60, 3, 2, ungrouped_first=True), Shape(24, 15, 15)),  # Megvii's first unit
    ("shuffle_v1", ShuffleV1Args(48, 12, 3, 1), Shape(48, 7, 7)),  # residual add
    ("shuffle_v1", ShuffleV1Args(96, 24, 3, 2), Shape(48, 8, 7)),  # pooled concat, even and odd sides
    ("shuffle_v1", ShuffleV1Args(64, 16, 8, 2), Shape(32, 9, 9)),  # g = 8
    ("shuffle_v1", ShuffleV1Args(20, 6, 2, 1, kernel_size=5), Shape(20, 6, 5)),  # 5x5 depthwise
    ("shuffle_v1", ShuffleV1Args(30, 5, 1, 2, kernel_size=5), Shape(10, 5, 5)),  # g = 1, k = 5, stride 2
    ("shuffle_v1", ShuffleV1Args(16, 4, 4, 2), Shape(8, 1, 1)),  # a 1x1 map stays 1x1
    # v2: (out, mid, stride, proj)
    ("shuffle_v2", ShuffleV2Args(116, 58, 2, 58), Shape(24, 15, 15)),  # torchvision split
    ("shuffle_v2", ShuffleV2Args(244, 122, 2, 24), Shape(24, 15, 15)),  # Megvii split: proj keeps C_in
    ("shuffle_v2", ShuffleV2Args(48, 24, 1), Shape(48, 7, 9)),  # channel split, odd sides
    ("shuffle_v2", ShuffleV2Args(40, 12, 1), Shape(20, 6, 6)),  # widening at stride 1: main makes 30
    ("shuffle_v2", ShuffleV2Args(32, 16, 2, 10, kernel_size=5), Shape(12, 8, 7)),
    ("shuffle_v2", ShuffleV2Args(20, 6, 1, kernel_size=7), Shape(20, 5, 5)),
]


@pytest.mark.parametrize("name,args,shape", GRID, ids=[f"{g[0]}-{i}" for i, g in enumerate(GRID)])
def test_cell_cost_is_exact(name, args, shape):
    assert_exact_cell(name, args, shape)


def test_channel_shuffle_interleaves_groups():
    x = torch.arange(6.0).view(1, 6, 1, 1)
    assert channel_shuffle(x, 2).flatten().tolist() == [0, 3, 1, 4, 2, 5]
    assert channel_shuffle(x, 3).flatten().tolist() == [0, 2, 4, 1, 3, 5]


def test_repeat_resets_stride_and_first_unit_options():
    v1 = get("shuffle_v1").repeat(ShuffleV1Args(240, 60, 3, 2, ungrouped_first=True))
    assert v1 == ShuffleV1Args(240, 60, 3, 1)
    v2 = get("shuffle_v2").repeat(ShuffleV2Args(244, 122, 2, 24))
    assert v2 == ShuffleV2Args(244, 122, 1)


def test_v2_stride_one_is_numerically_a_split_unit():
    # the untouched half reaches the output: zero the main branch and the output is the shuffled input half
    torch.manual_seed(0)
    unit = get("shuffle_v2").build(ShuffleV2Args(8, 4, 1), 8).eval()
    torch.nn.init.zeros_(unit.main.expand.conv.weight)
    torch.nn.init.zeros_(unit.main.expand.bn.bias)
    x = torch.randn(2, 8, 3, 3)
    y = unit(x)
    assert torch.equal(y[:, 0::2], x[:, :4])
    assert torch.equal(y[:, 1::2], torch.zeros(2, 4, 3, 3))


@pytest.mark.parametrize("make,message", [
    (lambda: ShuffleV1Args(240, 61, 3), "shuffle_v1 groups=3 must divide mid_channels=61"),
    (lambda: ShuffleV1Args(240, 60, 3, 3), "shuffle_v1 stride must be one of 1, 2; got 3"),
    (lambda: ShuffleV1Args(240, 60, 0), "shuffle_v1 groups must be in [1, 64], got 0"),
    (lambda: ShuffleV1Args(240, 60, 3, kernel_size=4), "shuffle_v1 kernel_size must be odd, got 4"),
    (lambda: ShuffleV2Args(117, 58), "shuffle_v2 out_channels must be even (shuffled in 2 groups), got 117"),
    (lambda: ShuffleV2Args(116, 58, 2), "shuffle_v2 stride 2 needs proj_channels (out_channels // 2 or in_channels)"),
    (lambda: ShuffleV2Args(116, 58, 1, 58), "shuffle_v2 proj_channels is for stride 2 only; leave it None at stride 1"),
    (lambda: ShuffleV2Args(116, 0), "shuffle_v2 mid_channels must be in [1, 65536], got 0"),
])
def test_bad_arguments(make, message):
    with pytest.raises(SpecError) as err:
        make()
    assert str(err.value) == message


@pytest.mark.parametrize("name,args,shape,message", [
    # a grouped first 1x1 needs the input divisible by the groups (Megvii's 24 -> g=8 would not be)
    ("shuffle_v1", ShuffleV1Args(64, 16, 8, 2), Shape(20, 8, 8),
     "shuffle_v1 groups=8 must divide in_channels=20 (or set ungrouped_first)"),
    ("shuffle_v1", ShuffleV1Args(48, 12, 3, 1), Shape(24, 8, 8),
     "shuffle_v1 stride 1 adds its input: out_channels=48 must equal in_channels=24"),
    ("shuffle_v1", ShuffleV1Args(24, 12, 3, 2), Shape(24, 8, 8),
     "shuffle_v1 stride 2 concatenates its input: out_channels=24 must exceed in_channels=24"),
    ("shuffle_v1", ShuffleV1Args(50, 12, 3, 2), Shape(24, 8, 8),
     "shuffle_v1 groups=3 must divide out_channels - in_channels = 26"),
    ("shuffle_v2", ShuffleV2Args(48, 24, 1), Shape(47, 8, 8),
     "shuffle_v2 stride 1 splits its input in half: in_channels=47 must be even"),
    ("shuffle_v2", ShuffleV2Args(20, 10, 1), Shape(48, 8, 8),
     "shuffle_v2 out_channels=20 must exceed half the input (24)"),
    ("shuffle_v2", ShuffleV2Args(24, 12, 2, 24), Shape(24, 8, 8),
     "shuffle_v2 out_channels=24 must exceed proj_channels=24"),
])
def test_input_dependent_errors(name, args, shape, message):
    with pytest.raises(SpecError) as err:
        get(name).cost(args, shape)
    assert str(err.value) == message


def test_v1_widen_keeps_groups_and_the_concat():
    cell = get("shuffle_v1")
    # Megvii 1.0x -> 2.0x: the stem 24 -> 48, the first unit 240 -> 480 with mid 60 -> 120 (Megvii's 2.0x table)
    assert cell.widen(ShuffleV1Args(240, 60, 3, 2, ungrouped_first=True), 2.0, 24, 48) == \
        ShuffleV1Args(480, 120, 3, 2, ungrouped_first=True)
    # a stride-1 unit outputs its input width, whatever the multiplier gives
    assert cell.widen(ShuffleV1Args(240, 60, 3, 1), 0.5, 240, 120) == ShuffleV1Args(120, 30, 3, 1)


def test_v2_widen_keeps_each_split():
    cell = get("shuffle_v2")
    # torchvision: projection and main branch are half the output, before and after
    assert cell.widen(ShuffleV2Args(116, 58, 2, 58), 2.0, 24, 48) == ShuffleV2Args(232, 116, 2, 116)
    # Megvii: the projection keeps the (new) input width
    assert cell.widen(ShuffleV2Args(244, 122, 2, 24), 0.5, 24, 16) == ShuffleV2Args(120, 60, 2, 16)
    assert cell.widen(ShuffleV2Args(244, 122, 1), 0.5, 244, 120) == ShuffleV2Args(120, 60, 1)
