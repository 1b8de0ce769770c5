"""Where the toolkit writes: a directory is checked (created, writable) before any work that fills it, so
a bad `--run-dir` or `--output` is one line at the start, never a traceback after the training it would
have recorded."""
from __future__ import annotations

import os
from pathlib import Path

from search_spaces.errors import NasError


class OutputError(NasError):
    """A file or directory the user named cannot be written."""


def writable_directory(path: str | Path) -> Path:
    """`path`, created where missing and writable; OutputError when it cannot be (a file of that name, no
    permission, a read-only disk)."""
    path = Path(path)
    try:
        path.mkdir(parents=True, exist_ok=True)
    except OSError as err:
        raise OutputError(f"cannot create directory {path} ({err.strerror}); give a directory you can write to") from None
    if not os.access(path, os.W_OK):
        raise OutputError(f"directory {path} is not writable; give a directory you can write to")
    return path


def writable_file(path: str | Path) -> Path:
    """`path` as a file to write: its directory made ready (`writable_directory`) and the path itself not a
    directory; OutputError otherwise."""
    path = Path(path)
    writable_directory(path.parent)
    if path.is_dir():
        raise OutputError(f"{path} is a directory; give the path of a file (in it or elsewhere)")
    return path
