"""Export a network of a search's Pareto front: its spec JSON, or the built module as TorchScript or ONNX.

Exports are architectures at the deployed resolution and class count, freshly initialised: proxy-trained
weights belong to the proxy data and resolution and are not what a user deploys. A network of a search on a
supernet is exported with the weights it inherits (for the supernet's data, batch norms recalibrated as when
it was scored): beside its spec JSON a `.pt` of plain data (`scoring.Inherited.state`), and as that module in
TorchScript and ONNX.
"""
from __future__ import annotations

import json
from pathlib import Path

import torch

from nas.files import writable_file
from nas.search.config import SearchError
from nas.search.results import report
from nas.search.scoring import inherited_network
from search_spaces.network import build
from search_spaces.spec import NetSpec, from_json

FORMATS = ("spec", "torchscript", "onnx")


def front_spec(run_dir: str | Path, rank: int, storage: str | None = None) -> NetSpec:
    """The spec at `rank` (1 = most accurate) of a run's Pareto front."""
    front = report(run_dir, storage).front
    if not 1 <= rank <= len(front):
        raise SearchError(f"rank must be between 1 and {len(front)} (the Pareto front of {run_dir}), got {rank}")
    return from_json(front[rank - 1].spec)


def supernet_of(run_dir: str | Path) -> str | None:
    """The supernet a run's candidates were scored on (None for a multi-trial search)."""
    path = Path(run_dir) / "run.json"
    try:
        return json.loads(path.read_text()).get("supernet")
    except (OSError, ValueError, AttributeError):
        return None  # front_spec says what is wrong with the run directory


def weights_file(spec_file: Path) -> Path:
    """Where the inherited weights go beside an exported spec (rank1_....json: rank1_....weights.pt)."""
    return spec_file.with_name(spec_file.stem + ".weights.pt")


def export(run_dir: str | Path, rank: int = 1, fmt: str = "spec", output: str | Path | None = None,
           storage: str | None = None) -> Path:
    """Write the network at `rank` of the front in `fmt`; returns the file written."""
    if fmt not in FORMATS:
        raise SearchError(f"unknown export format {fmt!r}; expected one of {', '.join(FORMATS)}")
    spec = front_spec(run_dir, rank, storage)
    trained = supernet_of(run_dir)
    suffix = {"spec": ".json", "torchscript": ".pt", "onnx": ".onnx"}[fmt]
    path = writable_file(output or Path(run_dir) / f"rank{rank}_{spec.digest()[:12]}{suffix}")  # before building
    inherited = None if trained is None else inherited_network(trained, spec)
    if fmt == "spec":
        path.write_text(spec.to_json() + "\n")
        if inherited is not None:
            torch.save(inherited.state(), weights_file(path))
        return path
    model = build(spec).eval() if inherited is None else inherited.module
    example = torch.zeros(1, spec.in_channels, spec.resolution, spec.resolution) if inherited is None else \
        inherited.example()
    if fmt == "torchscript":
        torch.jit.trace(model, example).save(str(path))
    else:
        try:
            torch.onnx.export(model, (example,), str(path), dynamo=False, input_names=["images"], output_names=["logits"])
        except (ImportError, torch.onnx.OnnxExporterError) as err:
            raise SearchError(f"ONNX export failed: {str(err).splitlines()[0]} (it needs the onnx package)") from None
    return path
