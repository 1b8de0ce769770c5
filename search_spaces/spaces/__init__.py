"""The search spaces, by name. Each family file exports `SPACE`, a stateless Space instance."""
from __future__ import annotations

from importlib import import_module
from types import MappingProxyType
from typing import Mapping

from search_spaces.errors import SpaceError
from search_spaces.spaces.base import Space

FAMILIES = ("mobile", "resnet", "inception", "dense", "shuffle", "classic", "randwire")


def _collect() -> Mapping[str, Space]:
    table: dict[str, Space] = {}
    for family in FAMILIES:
        space = getattr(import_module(f"search_spaces.spaces.{family}"), "SPACE", None)
        if space is not None:
            table[space.name] = space
    return MappingProxyType(table)


SPACES: Mapping[str, Space] = _collect()


def get(name: str) -> Space:
    """The space called `name`, or a SpaceError listing the known spaces."""
    try:
        return SPACES[name]
    except KeyError:
        raise SpaceError(f"unknown space {name!r}; known spaces: {', '.join(SPACES)}") from None
