"""What networks can be: specs, the cost model, the cell library, named backbones and search spaces."""
from search_spaces.cost import Cost, Shape
from search_spaces.counting import count
from search_spaces.errors import SpaceError, SpecError
from search_spaces.network import build
from search_spaces.spec import Block, NetSpec, Stage, from_json

__all__ = ["Block", "Cost", "NetSpec", "Shape", "SpaceError", "SpecError", "Stage", "build", "count", "from_json"]
