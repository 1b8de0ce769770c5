"""Getting specs from what users type: a backbone name or a spec JSON file."""
from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Any

from search_spaces import backbones
from search_spaces.errors import SpecError
from search_spaces.network import count
from search_spaces.spec import NetSpec, from_json

MAX_SPEC_BYTES = 10 * 2**20


def load_spec(ref: str, resolution: int | None = None) -> NetSpec:
    """The spec named by `ref`: a backbone name (see `nas backbones`) or a path to spec JSON."""
    if ref in backbones.TABLE:
        spec = backbones.get(ref)
    else:
        path = Path(ref)
        if not path.is_file():
            raise SpecError(f"{ref!r} is neither a spec JSON file nor a backbone name (see `nas backbones`)")
        if path.stat().st_size > MAX_SPEC_BYTES:
            raise SpecError(f"{ref}: spec file larger than {MAX_SPEC_BYTES // 2**20} MiB; a spec is a few KB of JSON")
        try:
            text = path.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as err:
            raise SpecError(f"{ref}: cannot read spec file ({err.__class__.__name__})") from None
        try:
            spec = from_json(text)
        except SpecError as err:
            raise SpecError(f"{ref}: {err}") from None
    return spec if resolution is None else dataclasses.replace(spec, resolution=resolution)


def save_spec(spec: NetSpec, path: str | Path) -> Path:
    """Write `spec` as JSON to `path` (its directory created); OutputError when it cannot be written."""
    from nas.files import writable_file

    path = writable_file(path)
    path.write_text(spec.to_json() + "\n")
    return path


def cost_summary(spec: NetSpec) -> dict[str, Any]:
    """The figures `nas count` shows, as data."""
    cost = count(spec)
    return {
        "digest": spec.digest(),
        "resolution": spec.resolution,
        "macs": cost.macs,
        "params": cost.params,
        "activations": cost.acts,
        "blocks": sum(b.repeats for s in spec.stages for b in s.blocks),
    }
