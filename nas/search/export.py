"""Export a network: its spec JSON, or the module as TorchScript or ONNX, checked against the module.

What is exported (`source`):
- a training checkpoint (`nas train ... --run-dir DIR`: DIR or DIR/checkpoint.pt): the network as trained,
  with its weights, for the data it was trained on (its channels, side and classes). The file takes images as
  they come, scaled to 0..1 (pixel / 255): the standardisation by the training images' per-channel mean and
  std is inside it;
- a search run: a member of its Pareto front (`rank`, 1 = most accurate) or any of its trials (`trial`); a
  network of a search on a supernet comes with the weights it inherits (for the supernet's data, batch norms
  recalibrated as when it was scored, taking standardised images at the side it was scored at): beside its
  spec JSON a `.weights.pt` of plain data (`scoring.Inherited.state`), and as that module in TorchScript and
  ONNX;
- any other reference to a network (`nas.search.refs`: a spec file, a backbone name, RUN#TRIAL, a digest).

Without a checkpoint or a supernet the network is untrained (freshly initialised): an architecture to train
elsewhere, or to time. It is the spec at its own resolution and channels; a search's network gets the class count of the
search's data. TorchScript and ONNX files have a free batch size. After writing, the file is loaded back and
run on a batch of two (the ONNX file by onnx's reference evaluator, op by op in numpy, independent of torch)
and compared with the module in eval mode: `Exported.max_diff`, refused above the tolerance.
"""
from __future__ import annotations

import dataclasses
import json
import warnings
from dataclasses import dataclass
from pathlib import Path

import torch
from torch import Tensor, nn

from nas.files import writable_file
from nas.search.config import SearchError
from nas.search.records import TrialRecord
from nas.search.refs import SpecRef, resolve, trial_spec
from nas.search.results import report
from nas.search.scoring import Inherited, inherited_network
from nas.training.checkpoint import CHECKPOINT, Checkpoint, checkpoint_path, read_checkpoint
from search_spaces.network import build
from search_spaces.spec import NetSpec, from_json

FORMATS = ("spec", "torchscript", "onnx")
SUFFIX = {"spec": ".json", "torchscript": ".pt", "onnx": ".onnx"}
TOLERANCE = {"torchscript": 1e-5, "onnx": 1e-4}  # max |difference| over max(1, max |output|)


@dataclass(frozen=True)
class Source:
    """A network to export: its spec (the shape of its input and its classes), the checkpoint holding its
    weights (None: untrained), what it is, and where its file goes by default; a network of a search on a
    supernet has the weights it inherits (`inherited`) instead of a checkpoint."""

    spec: NetSpec
    checkpoint: Checkpoint | None
    what: str
    default: Path
    ref: str = ""  # how `nas train` names it
    inherited: Inherited | None = None


@dataclass(frozen=True)
class Exported:
    """A file written: what it holds and how it was checked against the module."""

    path: Path
    source: Source
    fmt: str
    input_shape: tuple[str | int, ...] = ()  # ("N", C, H, W): N is free
    max_diff: float | None = None  # max |file output - module output| on a batch of 2
    checked_by: str = ""

    @property
    def trained(self) -> bool:
        return self.source.checkpoint is not None


class Standardized(nn.Module):
    """A trained network taking images scaled to 0..1, standardised inside by its training data's mean and std."""

    def __init__(self, net: nn.Module, mean: list[float], std: list[float]) -> None:
        super().__init__()
        self.net = net
        self.register_buffer("mean", torch.tensor(mean).view(1, -1, 1, 1))
        self.register_buffer("std", torch.tensor(std).view(1, -1, 1, 1))

    def forward(self, x: Tensor) -> Tensor:
        return self.net((x - self.mean) / self.std)


def front_spec(run_dir: str | Path, rank: int, storage: str | None = None) -> NetSpec:
    """The spec at `rank` (1 = most accurate) of a run's Pareto front."""
    return from_json(front_record(run_dir, rank, storage).spec or "")


def front_record(run_dir: str | Path, rank: int, storage: str | None = None) -> TrialRecord:
    """The trial at `rank` (1 = most accurate) of a run's Pareto front."""
    front = report(run_dir, storage).front
    if not 1 <= rank <= len(front):
        raise SearchError(f"rank must be between 1 and {len(front)} (the Pareto front of {run_dir}), got {rank}")
    return front[rank - 1]


def source(target: str | Path, rank: int | None = None, trial: int | None = None, storage: str | None = None
           ) -> Source:
    """What `target` names: a checkpoint (file or `nas train` run directory), a search run directory (its
    front member `rank`, default 1, or its trial `trial`), or a reference to a network (`nas.search.refs`)."""
    path = Path(target)
    is_run = (path / "run.json").is_file()
    if not is_run and (path.is_file() and path.suffix == ".pt" or (path / CHECKPOINT).is_file()):
        if rank is not None or trial is not None:
            raise SearchError(f"{target} is a training checkpoint: --rank and --trial choose among a search's networks")
        found = read_checkpoint(checkpoint_path(path))
        name = "model" if found.path.name == CHECKPOINT else f"{found.path.stem}_model"
        return Source(found.spec, found, f"{found.ref}, {found.describe()}", found.path.parent / name, found.ref)
    if is_run:
        if rank is not None and trial is not None:
            raise SearchError("give --rank (a member of the front) or --trial (any trial), not both")
        if trial is not None:
            return _inheriting(_from_ref(trial_spec(path, trial, storage)), path)
        rank = 1 if rank is None else rank
        record = front_record(path, rank, storage)
        spec = from_json(record.spec or "")
        return _inheriting(_untrained(spec, f"rank {rank} of the front of {target} (trial {record.number})",
                                      path / f"rank{rank}_{spec.digest()[:12]}", _run_classes(path),
                                      f"{target}#{record.number}"), path)
    if rank is not None or trial is not None:
        raise SearchError(f"{target} is not a search run directory (no run.json): --rank and --trial need one")
    if path.is_dir():
        raise SearchError(f"{target} holds neither a search (run.json) nor a training checkpoint ({CHECKPOINT}: "
                          "nas train writes one when an epoch has finished)")
    return _from_ref(resolve(str(target), storage=storage))


def export(target: str | Path, rank: int | None = None, fmt: str = "spec", output: str | Path | None = None,
           storage: str | None = None, trial: int | None = None) -> Exported:
    """Write the network `target` names (see `source`) in `fmt`, checked against the module."""
    if fmt not in FORMATS:
        raise SearchError(f"unknown export format {fmt!r}; expected one of {', '.join(FORMATS)}")
    src = source(target, rank, trial, storage)
    path = writable_file(output or src.default.with_suffix(SUFFIX[fmt]))  # before building
    if src.checkpoint is not None and path.resolve() == src.checkpoint.path.resolve():
        raise SearchError(f"{path} is the checkpoint being exported; give another --output")
    if fmt == "spec":
        path.write_text(src.spec.to_json() + "\n")
        if src.inherited is not None:
            torch.save(src.inherited.state(), weights_file(path))
        return Exported(path, src, fmt)
    model = _module(src)
    spec = src.spec if src.inherited is None else src.inherited.spec
    side = spec.resolution if src.inherited is None else src.inherited.side
    shape = (1, spec.in_channels, side, side)
    example = torch.rand(shape) if src.checkpoint else torch.randn(shape)
    if fmt == "torchscript":
        torch.jit.trace(model, example).save(str(path))
        diff, by = _check_torchscript(path, model, example), "TorchScript reloaded with torch.jit.load"
    else:
        _write_onnx(model, example, path, src)
        diff, by = _check_onnx(path, model, example), "onnx's reference evaluator, op by op in numpy"
    return Exported(path, src, fmt, ("N",) + shape[1:], diff, by)


def supernet_of(run_dir: str | Path) -> str | None:
    """The supernet a run's candidates were scored on (None for a multi-trial search)."""
    path = Path(run_dir) / "run.json"
    try:
        return json.loads(path.read_text()).get("supernet")
    except (OSError, ValueError, AttributeError):
        return None  # reading the run says what is wrong with its directory


def weights_file(spec_file: Path) -> Path:
    """Where the inherited weights go beside an exported spec (rank1_....json: rank1_....weights.pt)."""
    return spec_file.with_name(spec_file.stem + ".weights.pt")


def _inheriting(src: Source, run_dir: Path) -> Source:
    """A search run's network with the weights it inherits when the search was on a supernet."""
    trained = supernet_of(run_dir)
    return src if trained is None else dataclasses.replace(src, inherited=inherited_network(trained, src.spec))


def _from_ref(ref: SpecRef) -> Source:
    where = Path(".") if ref.run_dir is None else ref.run_dir
    what = f"trial {ref.trial} of {ref.run_dir}" if ref.trial is not None else ref.text
    train = f"{ref.run_dir}#{ref.trial}" if ref.trial is not None else ref.text
    return _untrained(ref.spec, what, where / ref.label, ref.info.get("num_classes") if ref.run_dir else None, train)


def _untrained(spec: NetSpec, what: str, default: Path, classes: int | None, ref: str) -> Source:
    """A source without weights; a search's network with the class count of the search's data."""
    if classes is not None and classes != spec.num_classes:
        spec = dataclasses.replace(spec, num_classes=classes)
    return Source(spec, None, what, default, ref)


def _run_classes(run_dir: Path) -> int | None:
    from nas.search.study import load_run

    return load_run(run_dir)[1].get("num_classes") if (run_dir / "run.json").is_file() else None


def _module(src: Source) -> nn.Module:
    if src.inherited is not None:
        return src.inherited.module
    if src.checkpoint is None:
        return build(src.spec).eval()
    dataset = src.checkpoint.dataset
    return Standardized(src.checkpoint.model(), dataset["mean"], dataset["std"]).eval()


def _write_onnx(model: nn.Module, example: Tensor, path: Path, src: Source) -> None:
    """The legacy (TorchScript-based) exporter: the dynamo one needs onnxscript, not a dependency here."""
    import onnx

    batch = {0: "N"}
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # the legacy exporter's deprecation notice on every call
            torch.onnx.export(model, (example,), str(path), dynamo=False, input_names=["images"],
                              output_names=["logits"], dynamic_axes={"images": batch, "logits": batch})
    except (ImportError, torch.onnx.OnnxExporterError) as err:
        raise SearchError(f"ONNX export failed: {str(err).splitlines()[0]} (it needs the onnx package)") from None
    graph = onnx.load(str(path))
    meta = {"nas.network": src.what, "nas.spec": src.spec.to_json(None), "nas.classes": str(src.spec.num_classes),
            "nas.input": _input_note(src)}
    for key, value in meta.items():
        graph.metadata_props.add(key=key, value=value)
    onnx.checker.check_model(graph)
    onnx.save(graph, str(path))


def _input_note(src: Source) -> str:
    s = src.spec if src.inherited is None else src.inherited.spec
    side = s.resolution if src.inherited is None else src.inherited.side
    shape = f"float32 N x {s.in_channels} x {side} x {side}"
    if src.inherited is not None:
        return f"{shape}, standardised images (weights inherited from the supernet in {src.inherited.supernet})"
    if src.checkpoint is None:
        return f"{shape}, standardised images (the network is untrained)"
    return f"{shape}, images scaled to 0..1 (pixel / 255); standardised inside by the training data's mean and std"


def _batch_of_two(example: Tensor) -> Tensor:
    """Another batch size than the export's example (the batch axis is free), drawn as the example was
    (images in 0..1 for a trained network, standardised ones for an untrained)."""
    gen = torch.Generator().manual_seed(0)
    shape = (2,) + tuple(example.shape[1:])
    return torch.rand(shape, generator=gen) if float(example.min()) >= 0 else torch.randn(shape, generator=gen)


def _compared(got: Tensor, want: Tensor, fmt: str, path: Path) -> float:
    diff = float((got - want).abs().max())
    scale = max(1.0, float(want.abs().max()))
    if not diff <= TOLERANCE[fmt] * scale:
        raise SearchError(f"{path}: the exported {fmt} file computes other outputs than the module (max |difference| "
                          f"{diff:.3g} on outputs up to {scale:.3g}); it was written but should not be used")
    return diff


def _check_torchscript(path: Path, model: nn.Module, example: Tensor) -> float:
    x = _batch_of_two(example)
    with torch.inference_mode():
        return _compared(torch.jit.load(str(path))(x), model(x), "torchscript", path)


def _check_onnx(path: Path, model: nn.Module, example: Tensor) -> float:
    import onnx
    from onnx.reference import ReferenceEvaluator

    x = _batch_of_two(example)
    got = ReferenceEvaluator(onnx.load(str(path))).run(None, {"images": x.numpy()})[0]
    with torch.inference_mode():
        return _compared(torch.from_numpy(got), model(x), "onnx", path)
