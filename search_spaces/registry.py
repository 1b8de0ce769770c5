"""One registry helper for cells, spaces and backbones: names to entries, duplicates refused, extensible.

The toolkit's own entries are registered when their package is imported; a user adds theirs with
`register` (a cell, space or backbone of their own, without editing the package) and finds names with
`names(pattern)`, a shell-style pattern as timm's `list_models` takes. A registry is the one piece of
process-wide mutable state in the toolkit: it only grows, and every name in it means one thing.
"""
from __future__ import annotations

import fnmatch
from typing import Callable, Generic, Iterator, TypeVar

from search_spaces.errors import NasError

T = TypeVar("T")


class Registry(Generic[T]):
    """Entries by name, in registration order. `kind` names them in errors ("cell", "space", ...),
    `error` is the NasError subclass raised for an unknown name or a duplicate, and an unknown name's
    error lists the known ones after `known` (sorted when `sort`)."""

    def __init__(self, kind: str, error: type[NasError], name_of: Callable[[T], str], known: str = "known",
                 sort: bool = False):
        self.kind, self.error, self.name_of, self.known, self.sort = kind, error, name_of, known, sort
        self._entries: dict[str, T] = {}
        self._added: list[str] = []  # names registered from outside the package, in order

    def register(self, entry: T, *, builtin: bool = False) -> T:
        """Add `entry` under its name; an error if the name is taken by another entry. Registering the
        same entry twice is a no-op (a module imported again, a Ray worker replaying registrations).
        Returns the entry, so `register` also works as a decorator on a function returning it."""
        name = self.name_of(entry)
        if not isinstance(name, str) or not name or not name.isidentifier():
            raise self.error(f"a {self.kind} name must be an identifier like 'my_{self.kind}', got {name!r}")
        taken = self._entries.get(name)
        if taken is not None:
            if taken is entry or taken == entry:
                return entry
            raise self.error(f"{self.kind} {name!r} is already registered; choose another name")
        self._entries[name] = entry
        if not builtin:
            self._added.append(name)
        return entry

    def get(self, name: str) -> T:
        """The entry called `name`, or the registry's error listing the known names."""
        try:
            return self._entries[name]
        except (KeyError, TypeError):
            listed = sorted(self._entries) if self.sort else self._entries
            raise self.error(f"unknown {self.kind} {name!r}; {self.known}: {', '.join(listed)}") from None

    def names(self, pattern: str | None = None) -> list[str]:
        """Every name in registration order, or those matching a shell-style `pattern` ('resnet*')."""
        return [n for n in self._entries if pattern is None or fnmatch.fnmatchcase(n, pattern)]

    def copy(self) -> "Registry[T]":
        """An independent registry with the same entries (to try registrations without keeping them)."""
        other: Registry[T] = Registry(self.kind, self.error, self.name_of, self.known, self.sort)
        other._entries, other._added = dict(self._entries), list(self._added)
        return other

    def added(self) -> list[T]:
        """The entries registered from outside the package (what a worker process must register again)."""
        return [self._entries[n] for n in self._added]

    def values(self) -> list[T]:
        """Every entry, in registration order."""
        return list(self._entries.values())

    def items(self) -> list[tuple[str, T]]:
        """(name, entry) pairs, in registration order."""
        return list(self._entries.items())

    def __contains__(self, name: object) -> bool:
        return name in self._entries

    def __getitem__(self, name: str) -> T:
        return self._entries[name]

    def __iter__(self) -> Iterator[str]:
        return iter(self._entries)

    def __len__(self) -> int:
        return len(self._entries)
