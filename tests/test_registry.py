"""The one registry helper behind cells, spaces and backbones: duplicate names refused, `register` for a
user's own entries (the README's example, run as written), `names(pattern)`, and registered cells reaching
a search's Ray workers."""
from pathlib import Path

import pytest
import torch
from torch.utils.flop_counter import FlopCounterMode

from search_spaces import backbones, build, cells, count, spaces
from search_spaces.errors import SpaceError, SpecError
from search_spaces.registry import Registry

README = Path(__file__).parent.parent / "README.md"


@pytest.fixture
def scratch(monkeypatch):
    """The package registries replaced by copies, so what a test registers is gone after it."""
    monkeypatch.setattr(cells, "CELLS", cells.CELLS.copy())
    monkeypatch.setattr(backbones, "TABLE", backbones.TABLE.copy())
    monkeypatch.setattr(spaces, "SPACES", spaces.SPACES.copy())


def test_the_readme_registration_example_runs_and_counts_exactly(scratch):
    block = next(b.split("```", 1)[0] for b in README.read_text().split("```python\n")[1:] if "register(" in b)
    namespace: dict = {}
    exec(block, namespace)
    spec = backbones.get("sep_net")
    assert "sep_gelu" in cells.names("sep_*") and backbones.names("sep_*") == ["sep_net"]
    # stem conv 16x3x3x3 at 16x16 (110,592); sep 16->32 (36,864 + 131,072); sep 32->32 (73,728 + 262,144); fc 320
    assert count(spec).macs == 614_720
    with FlopCounterMode(display=False) as counter:
        build(spec)(torch.zeros(1, 3, 32, 32))
    assert counter.get_total_flops() == 2 * 614_720
    assert count(spec).params == sum(p.numel() for p in build(spec).parameters())


def test_duplicate_names_are_refused_everywhere(scratch):
    with pytest.raises(SpecError, match="cell 'conv' is already registered"):
        cells.register(cells.Cell("conv", object, print, print, "another conv"))
    with pytest.raises(SpecError, match="backbone 'resnet50' is already registered"):
        backbones.register(backbones.Backbone("resnet50", "x", 224, lambda: None, backbones.Reference("x", None, None)))

    class Another(type(spaces.get("mobile"))):
        pass

    with pytest.raises(SpaceError, match="space 'mobile' is already registered"):
        spaces.register(Another())
    cells.register(cells.get("conv"))  # the same entry again is no change (a worker replaying registrations)
    assert cells.names().count("conv") == 1


def test_register_takes_only_its_own_kind_and_names_that_are_identifiers(scratch):
    with pytest.raises(SpecError, match="register takes a search_spaces.cells.base.Cell"):
        cells.register("conv")
    with pytest.raises(SpecError, match="a cell name must be an identifier"):
        cells.register(cells.Cell("my cell", object, print, print, ""))


def test_names_take_shell_patterns_in_registration_order():
    assert backbones.names("resnet5*") == ["resnet50", "resnet50_v1"]
    assert spaces.names("*s*") == ["resnet", "dense", "shuffle", "classic", "elastic_mbv3"]
    assert cells.names("inception_v4_*") == sorted(cells.names("inception_v4_*"), key=cells.names().index)


def test_unknown_names_list_the_known_ones():
    table = Registry("thing", SpecError, str, "known things", sort=True)
    table.register("b")
    table.register("a")
    with pytest.raises(SpecError, match="unknown thing 'c'; known things: a, b"):
        table.get("c")
    assert table.names() == ["b", "a"] and table.added() == ["b", "a"]


def test_a_cell_registered_in_the_driver_trains_in_the_ray_workers(tmp_path, ray_local, scratch):
    # A worker is another process: the cell (defined here, so pickled by value, not importable there) must
    # be shipped with the trials, or every trial fails with "unknown cell".
    from dataclasses import dataclass

    from torch import nn

    from nas.search import search
    from nas.training.data import DataSource
    from nas.training.train import TrainConfig
    from search_spaces.cells.conv import ConvArgs
    from search_spaces.cells.head import ClassifierArgs
    from search_spaces.cost import conv2d
    from search_spaces.spaces.base import Space
    from search_spaces.spec import Block, NetSpec, Stage

    @dataclass(frozen=True)
    class WideArgs:
        out_channels: int

    def wide_cost(a, shape):
        return conv2d(shape, a.out_channels, 1)

    cells.register(cells.Cell("wide_1x1", WideArgs, lambda a, c: nn.Conv2d(c, a.out_channels, 1, bias=False),
                              wide_cost, "a 1x1 conv"))

    class Tiny(Space):
        name = "tiny"

        def suggest(self, trial):
            width = trial.suggest_categorical("width", (8, 16))
            stages = (Stage((Block("wide_1x1", WideArgs(width)),)),)
            return NetSpec(stem=(Block("conv", ConvArgs(8, 3, 2)),), stages=stages,
                           head=(Block("classifier", ClassifierArgs()),), resolution=16, num_classes=4)

        def encode(self, spec):
            return {"width": spec.stages[0].blocks[0].args.out_channels}

    spaces.register(Tiny())
    result = search(space="tiny", budget="1G", trials=2, strategy="random", scheduler="fifo", seed_backbones=False,
                    data=DataSource("synthetic", resolution=16, channels=3, num_classes=4, size=64),
                    train=TrainConfig(epochs=1), run_dir=str(tmp_path / "run"))
    assert result.summary["by_status"] == {"trained": 2}
