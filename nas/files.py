"""Where the toolkit writes: a directory is checked before any work that fills it, so a bad `--run-dir` or
`--output` is one line at the start, never a traceback after the training it would have recorded."""
from __future__ import annotations

import os
from pathlib import Path
from typing import IO, Callable

from search_spaces.errors import NasError


class OutputError(NasError):
    """A file or directory the user named cannot be written."""


def check_directory(path: str | Path) -> Path:
    """`path` if it is, or can be created as, a directory this process can write; OutputError otherwise.
    Creates nothing: a search that fails a later check (an unreachable cluster) leaves no directory behind."""
    path = Path(path)
    existing = path
    while not existing.exists():  # the nearest existing folder on the way decides
        existing = existing.parent
    problem = ""
    if not existing.is_dir():
        problem = f"{existing} is a file"
    elif not os.access(existing, os.W_OK | os.X_OK):
        problem = f"{existing} is not writable"
    if problem:
        what = "cannot use directory" if existing == path else "cannot create directory"
        raise OutputError(f"{what} {path}: {problem}; give a directory you can write to")
    return path


def writable_directory(path: str | Path) -> Path:
    """`path` as a directory, created where missing (`check_directory` first); OutputError when it cannot be."""
    path = check_directory(path)
    try:
        path.mkdir(parents=True, exist_ok=True)
    except OSError as err:
        raise OutputError(f"cannot create directory {path}: {err.strerror}; give a directory you can write to") from None
    return path


def writable_file(path: str | Path) -> Path:
    """`path` as a file to write: its directory made ready (`writable_directory`) and the path itself not a
    directory; OutputError otherwise."""
    path = Path(path)
    writable_directory(path.parent)
    if path.is_dir():
        raise OutputError(f"{path} is a directory; give the path of a file (in it or elsewhere)")
    return path


def atomic_write(path: Path, write: Callable[[IO[bytes]], object]) -> None:
    """Write `path` through a temporary file beside it and a rename: a kill leaves the old file or the new
    one, whole, never a part."""
    tmp = path.with_name(path.name + ".tmp")
    with open(tmp, "wb") as f:
        write(f)
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, path)
