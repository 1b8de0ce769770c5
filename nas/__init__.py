"""nas: the user-facing toolkit over `search_spaces`, in rooms that import one way:
`nas.cli` -> `nas.search` -> `nas.training` -> `search_spaces`. The leaf helpers here (`budget`, `files`,
`settings`, `specs`) are used by every room and import none of them."""
from importlib.metadata import PackageNotFoundError, version

from nas.budget import parse_budget
from nas.specs import load_spec

try:
    __version__ = version("nas")
except PackageNotFoundError:  # run from a source tree that was never installed
    __version__ = "0+unknown"

__all__ = ["__version__", "load_spec", "parse_budget"]
