"""Small helpers shared by test modules."""
from search_spaces.errors import SpaceError
from search_spaces.registry import Registry
from search_spaces.spaces import Space


def only_spaces(*spaces: Space) -> Registry[Space]:
    """A space registry holding just these spaces, to monkeypatch over `search_spaces.spaces.SPACES`."""
    table: Registry[Space] = Registry("space", SpaceError, lambda space: space.name, "known spaces")
    for space in spaces:
        table.register(space, builtin=True)
    return table
