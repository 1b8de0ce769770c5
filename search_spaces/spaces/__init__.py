"""The search spaces, by name. Each family file exports `SPACE`, a stateless Space instance; `register`
adds a user's own (any `Space` subclass with a new `name`)."""
from __future__ import annotations

from importlib import import_module

from search_spaces.errors import SpaceError
from search_spaces.registry import Registry
from search_spaces.spaces.base import Space

FAMILIES = ("mobile", "resnet", "inception", "dense", "shuffle", "classic", "randwire", "elastic")


def _builtin() -> Registry[Space]:
    table: Registry[Space] = Registry("space", SpaceError, lambda space: space.name, "known spaces")
    for family in FAMILIES:
        table.register(import_module(f"search_spaces.spaces.{family}").SPACE, builtin=True)
    return table


SPACES = _builtin()


def get(name: str) -> Space:
    """The space called `name`, or a SpaceError listing the known spaces."""
    return SPACES.get(name)


def register(space: Space) -> Space:
    """Add a space of your own (a `Space` instance whose `name` is new): `nas.search.search(space=...)`
    and `get` find it by name. An error if the name is taken."""
    if not isinstance(space, Space):
        raise SpaceError(f"register takes a search_spaces.spaces.base.Space instance, got {type(space).__name__}")
    return SPACES.register(space)


def names(pattern: str | None = None) -> list[str]:
    """Space names in registration order, or those matching a shell-style pattern."""
    return SPACES.names(pattern)


__all__ = ["SPACES", "Space", "get", "names", "register"]
