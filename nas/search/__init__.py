"""Search room: the config (`SearchConfig`), the Optuna study and its storage, heartbeat and re-queueing,
the Ray Tune searcher and trial function, strategies, records and reports, export and scaling sweeps.
Imports `nas.training` and `search_spaces`, never the CLI.

    from nas.search import search
    result = search(space="mobile", budget="300MFLOPs", trials=12)

The names below load their module when first used, so that reading a config (`nas.search.config`) does
not start importing Ray.
"""
from __future__ import annotations

import importlib
import os
from typing import Any

os.environ.setdefault("RAY_AIR_NEW_OUTPUT", "0")  # Ray Tune's console reporter off: we report progress ourselves

_EXPORTS = {
    "SearchConfig": "config", "SearchError": "config", "resolve": "config", "SearchResult": "results",
    "report": "results", "SearchInterrupted": "run", "search": "run", "Progress": "searcher",
}


def __getattr__(name: str) -> Any:
    if name not in _EXPORTS:
        raise AttributeError(f"module 'nas.search' has no attribute {name!r}")
    return getattr(importlib.import_module(f"nas.search.{_EXPORTS[name]}"), name)


__all__ = sorted(_EXPORTS)
