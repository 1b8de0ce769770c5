"""User-facing errors of the toolkit and the small checks that raise them.

Every error is one line that names what is wrong and what would be right; the CLI prints it and exits 2.
"""
from __future__ import annotations

from typing import Any, Iterable

MAX_CHANNELS = 1 << 16  # no real layer is wider; a hostile spec must not make us allocate 10^9 channels
MAX_RESOLUTION = 8192


class NasError(ValueError):
    """Base of all user-facing errors: a one-line message, no traceback."""


class SpecError(NasError):
    """A network spec (or a cell's arguments) is invalid."""


class SpaceError(NasError):
    """A search-space parameter is missing, unknown or out of range."""


class BudgetError(NasError):
    """A budget string is malformed or below what the space can reach."""


def require(condition: bool, message: str) -> None:
    """Raise SpecError(message) unless condition holds."""
    if not condition:
        raise SpecError(message)


def check_int(cell: str, name: str, value: Any, low: int = 1, high: int = MAX_CHANNELS) -> None:
    """An integer argument within [low, high] (bools are not integers here)."""
    if type(value) is int and low <= value <= high:
        return  # the common case, first: specs are validated on every draw of a search
    if not isinstance(value, int) or isinstance(value, bool):
        raise SpecError(f"{cell} {name} must be an integer, got {value!r}")
    if not low <= value <= high:
        raise SpecError(f"{cell} {name} must be in [{low}, {high}], got {value}")


def check_float(cell: str, name: str, value: Any, low: float, high: float) -> None:
    """A real argument within [low, high]."""
    if not isinstance(value, (int, float)) or isinstance(value, bool):
        raise SpecError(f"{cell} {name} must be a number, got {value!r}")
    if not low <= value <= high:
        raise SpecError(f"{cell} {name} must be in [{low}, {high}], got {value}")


def check_choice(cell: str, name: str, value: Any, choices: Iterable[Any]) -> None:
    """An argument from a fixed set of choices."""
    if type(choices) is tuple and value in choices:
        return  # the common case, first
    choices = tuple(choices)
    if value not in choices:
        raise SpecError(f"{cell} {name} must be one of {', '.join(map(repr, choices))}; got {value!r}")


def check_kernel(cell: str, name: str, value: Any, odd: bool = True) -> None:
    """A kernel size: an int or a (height, width) pair, odd when `odd` (so 'same' padding exists)."""
    if type(value) is int and 1 <= value <= 31 and (value & 1 or not odd):
        return  # the common case, first
    sizes = value if isinstance(value, tuple) and len(value) == 2 else (value,)
    for k in sizes:
        check_int(cell, name, k, 1, 31)
        if odd and k % 2 == 0:
            raise SpecError(f"{cell} {name} must be odd, got {k}")
