"""Training a network to keep (`nas train SPEC --run-dir DIR`): a checkpoint after every epoch, and a run
killed at any point continued after its last finished epoch (`resume=True`).

`DIR/checkpoint.pt` is written to a temporary file and renamed after every epoch (a kill leaves the previous
one whole) and holds plain data only, read back with `torch.load(weights_only=True)`:

- `ref` (the network as the user named it), `source` (its spec JSON as given) and `spec` (as trained: the
  data's channels and classes, at the data's side);
- `train` (the recipe, TrainConfig's fields), `data` (the DataSource's) and `dataset`, what was loaded: its
  name, channels, classes, side, split sizes and the per-channel mean and std the images were standardised
  by (an export takes images as they come and standardises them itself);
- `epoch`, `epochs`, `history` (a dict per finished epoch: loss, train and validation accuracy, seconds);
- `model` and `optimizer` state dicts, `generator` (batch order and augmentation), `rng` and `cuda_rng`
  (torch's global generators: dropout and stochastic depth), `device` (cpu or cuda);
- `result`, after the last epoch: validation and test accuracy, or why the run failed.

`DIR/train.json` says the same without the tensors. A run resumed on the CPU ends with the weights of an
uninterrupted run, bit for bit; it keeps its own recipe and data (where it runs, RUNTIME, and how many
processes decode a streamed folder in what memory, DATA_RUNTIME, may change).
"""
from __future__ import annotations

import dataclasses
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from torch import nn

from nas.files import atomic_write, check_directory, writable_directory
from nas.settings import replace_flat
from nas.training.data import DataSource
from nas.training.evaluate import Metrics, TrainJob, finished, initial_model, prepare
from nas.training.stream import DATA_RUNTIME, Batches
from nas.training.train import EpochReport, Report, Resume, TrainConfig, TrainResult, evaluate_accuracy, fit
from search_spaces.errors import NasError, SpecError
from search_spaces.network import build
from search_spaces.spec import NetSpec, from_json

FORMAT = 1
CHECKPOINT, SUMMARY = "checkpoint.pt", "train.json"
RUNTIME = ("device", "threads", "eval_batch_size", "check_every")  # where a run computes, not what it learns
DATA_RUNTIMES = tuple(f"data_{name}" for name in DATA_RUNTIME)  # the same for its data, by flat name
OTHER_RUNS = {"run.json": "a search", "supernet.json": "a supernet training"}


class CheckpointError(NasError):
    """A checkpoint cannot be read, written over, or continued as asked."""


@dataclass(frozen=True)
class Checkpoint:
    """A training checkpoint read back: the network as trained, with its weights, recipe, data and history."""

    path: Path
    ref: str
    source: NetSpec  # the spec as given (its deployed resolution and classes)
    spec: NetSpec  # the spec as trained: the data's channels and classes, at the side of its images
    train: TrainConfig
    data: DataSource
    dataset: dict[str, Any]
    history: tuple[EpochReport, ...]
    result: dict[str, Any] | None  # after the last epoch
    state: dict[str, Any]  # everything, as loaded

    @property
    def epochs_done(self) -> int:
        return len(self.history)

    def model(self) -> nn.Module:
        """The trained network with its weights, in eval mode, on the CPU."""
        model = build(self.spec, init=False)
        model.load_state_dict(self.state["model"])
        return model.eval()

    def describe(self) -> str:
        """'trained 3 of 3 epochs on mnist: validation 97.10%, test 96.90%' and the like."""
        done = f"trained {self.epochs_done} of {self.train.epochs} epochs on {self.dataset['name']}"
        if self.result is None:
            last = self.history[-1].val_accuracy if self.history else None
            return done + (" (unfinished" + (f": validation {last:.2%} after the last)" if last is not None else ")"))
        if self.result.get("failure"):
            return done + f" (failed: {self.result['failure']})"
        return done + f": validation {self.result['accuracy']:.2%}, test {self.result['test_accuracy']:.2%}"


@dataclass(frozen=True)
class Trained:
    """What `train` returns: the Metrics of the run, the checkpoint (None without a run directory or before
    an epoch finished) and the epochs a resumed run found done."""

    metrics: Metrics
    checkpoint: Path | None
    resumed: int = 0


def checkpoint_path(path: str | Path) -> Path:
    """The checkpoint file `path` names: the file itself, or `checkpoint.pt` in a run directory."""
    path = Path(path)
    return path / CHECKPOINT if path.is_dir() else path


def read_checkpoint(path: str | Path, device: str | torch.device = "cpu") -> Checkpoint:
    """The checkpoint at `path` (a file, or a `nas train` run directory), its tensors on `device`."""
    file = checkpoint_path(path)
    if not file.is_file():
        raise CheckpointError(f"{path}: no training checkpoint there (nas train SPEC --run-dir DIR writes "
                              f"DIR/{CHECKPOINT})")
    try:
        state = torch.load(file, map_location=device, weights_only=True)
    except Exception as err:  # truncated, not a checkpoint, or holding more than tensors and plain data
        raise CheckpointError(f"{file}: not a readable training checkpoint ({type(err).__name__})") from None
    if not isinstance(state, dict) or state.get("format") != FORMAT or state.get("kind") != "train":
        raise CheckpointError(f"{file}: not a nas train checkpoint (format {FORMAT})")
    try:
        return Checkpoint(file, state["ref"], from_json(state["source"]), from_json(state["spec"]),
                          TrainConfig(**state["train"]), DataSource(**state["data"]), dict(state["dataset"]),
                          tuple(EpochReport(**e) for e in state["history"]), state.get("result"), state)
    except (KeyError, TypeError, SpecError) as err:
        raise CheckpointError(f"{file}: a damaged training checkpoint ({type(err).__name__}: {err})") from None


def check_run_dir(run_dir: str | Path, resume: bool) -> Checkpoint | None:
    """Before anything loads or trains: the checkpoint to continue (None: a new run) in a directory that can
    be written and holds no other kind of run; CheckpointError for a checkpoint there without `resume`."""
    run_dir = check_directory(run_dir)
    for name, what in OTHER_RUNS.items():
        if (run_dir / name).exists():
            raise CheckpointError(f"{run_dir} holds {what} ({name}); give the training a directory of its own, "
                                  f"e.g. {run_dir / 'train'}")
    if not (run_dir / CHECKPOINT).exists():
        return None
    found = read_checkpoint(run_dir)
    if not resume:
        raise CheckpointError(f"{run_dir} holds a checkpoint of {found.ref} ({found.describe()}): --resume "
                              "continues it, or give another --run-dir")
    return found


def resume_conflicts(found: Checkpoint, typed: dict[str, Any]) -> list[str]:
    """The settings among `typed` (flat names, as typed) that differ from those of the run `found`; where
    it runs (RUNTIME) and the run directory may change."""
    fields = TrainJob.fields()
    stored = TrainJob(found.train, found.data)
    asked = {k: v for k, v in typed.items() if k in fields and k not in RUNTIME + DATA_RUNTIMES + ("run_dir",)}
    wanted = replace_flat(stored, fields, asked)
    out = []
    for name in asked:
        owner = fields[name].owner
        was = getattr(stored if owner is None else getattr(stored, owner), fields[name].field.name)
        now = getattr(wanted if owner is None else getattr(wanted, owner), fields[name].field.name)
        if now != was:
            out.append(f"{name} (the run has {was!r})")
    return out


def train(spec: NetSpec | None, job: TrainJob = TrainJob(), ref: str = "", resume: bool = False,
          report: Report | None = None) -> Trained:
    """Train `spec` with `job` (its recipe, its data), checkpointing into `job.run_dir` after every epoch
    when it is set; `resume=True` continues the run found there with its own recipe and data (only RUNTIME
    and DATA_RUNTIME settings come from `job`), and `spec` None means the run's own network."""
    found = check_run_dir(job.run_dir, resume) if job.run_dir else None
    if found is not None:
        if spec is not None and spec.digest() != found.source.digest():
            raise CheckpointError(f"{job.run_dir} holds a run of another network ({found.ref}, digest "
                                  f"{found.source.digest()[:12]}); give it no SPEC, or another --run-dir")
        spec, ref = found.source, found.ref
        runtime = {name: getattr(job.train, name) for name in RUNTIME}
        data = dataclasses.replace(found.data, **{name: getattr(job.data, name) for name in DATA_RUNTIME})
        job = TrainJob(dataclasses.replace(found.train, **runtime), data, job.run_dir)
    if spec is None:
        raise CheckpointError(f"nothing to resume in {job.run_dir}: give the network to train")
    ready = prepare(spec, job.train, job.data)
    if ready.proxy is None:
        return Trained(ready.base, None)
    model = initial_model(ready.proxy, job.train, ready.device)
    start = _restore(found, model, ready.proxy, ready.data) if found else None
    saver = _Saver(Path(job.run_dir), ref, spec, ready.proxy, job, ready.data, model) if job.run_dir else None
    if found is not None and (found.result is not None or found.epochs_done == job.train.epochs):  # it had ended
        result = _stored_result(found, model, ready.data, job.train, start)
    else:
        result = fit(model, ready.data, job.train, report, start, saver)
    if saver is not None and (found is None or found.result is None):
        saver.finish(result)
    path = Path(job.run_dir) / CHECKPOINT if job.run_dir and (Path(job.run_dir) / CHECKPOINT).exists() else None
    return Trained(finished(ready.base, result), path, found.epochs_done if found else 0)


def _describe(data: Batches) -> dict[str, Any]:
    return {"name": data.name, "channels": data.channels, "num_classes": data.num_classes,
            "resolution": data.resolution, "mean": list(data.mean), "std": list(data.std),
            "images": {split: data.size(split) for split in ("train", "val", "test")}}


def _restore(found: Checkpoint, model: nn.Module, proxy: NetSpec, data: Batches) -> Resume:
    """The run's state where it stopped: weights into `model`, torch's generators, the optimizer's state."""
    if proxy != found.spec or _describe(data) != found.dataset:
        raise CheckpointError(f"{found.path}: the data loads differently now ({data.name}, {data.channels}x"
                              f"{data.resolution}x{data.resolution}, {data.size()} training images) than "
                              "when the run started; resume it where its data is the same")
    device = data.device
    if found.state.get("device") != device.type:
        raise CheckpointError(f"{found.path}: the run trained on {found.state.get('device')}; resume it with "
                              f"--device {found.state.get('device')} (its generators are of that device)")
    model.load_state_dict(found.state["model"])
    torch.set_rng_state(found.state["rng"].cpu())
    if device.type == "cuda" and found.state.get("cuda_rng") is not None:
        torch.cuda.set_rng_state(found.state["cuda_rng"].cpu(), device)
    return Resume(found.history, float(found.state["seconds"]), found.state["optimizer"],
                  found.state["generator"].cpu())


def _stored_result(found: Checkpoint, model: nn.Module, data: Batches, config: TrainConfig, start: Resume
                   ) -> TrainResult:
    """The result of a run that had ended (trained all its epochs, failed, or stopped early): as recorded, or
    measured now where a kill came between the last epoch's checkpoint and the result's."""
    seconds = start.seconds
    rate = sum(e.images_per_second * e.seconds for e in start.history) / max(seconds, 1e-9)
    if found.result is not None:
        r = found.result
        return TrainResult(r.get("accuracy"), r.get("epochs_run", len(start.history)), seconds, rate, start.history,
                           r.get("failure"), bool(r.get("stopped_early")), r.get("test_accuracy"))
    device = data.device
    val = evaluate_accuracy(model, data, config.eval_batch_size, device)[0]
    test = evaluate_accuracy(model, data, config.eval_batch_size, device, "test")[0]
    return TrainResult(val, len(start.history), seconds, rate, start.history, None, False, test)


class _Saver:
    """`fit`'s per-epoch callback: the run's checkpoint and summary, written whole or not at all."""

    def __init__(self, run_dir: Path, ref: str, source: NetSpec, spec: NetSpec, job: TrainJob, data: Batches,
                 model: nn.Module) -> None:
        self.run_dir, self.model, self.device = run_dir, model, data.device
        self.fixed = {"format": FORMAT, "kind": "train", "ref": ref, "source": source.to_json(None),
                      "spec": spec.to_json(None), "train": dataclasses.asdict(job.train),
                      "data": dataclasses.asdict(job.data), "dataset": _describe(data), "epochs": job.train.epochs,
                      "device": self.device.type}

    def __call__(self, state: Resume) -> None:
        cuda = self.device.type == "cuda"
        self._write(self.fixed | {
            "epoch": len(state.history), "history": [dataclasses.asdict(e) for e in state.history],
            "seconds": state.seconds, "model": self.model.state_dict(), "optimizer": state.optimizer,
            "generator": state.generator, "rng": torch.get_rng_state(),
            "cuda_rng": torch.cuda.get_rng_state(self.device) if cuda else None, "result": None})

    def finish(self, result: TrainResult) -> None:
        """Add the result to the last checkpoint (the weights of the last finished epoch, even when a later
        one failed)."""
        path = self.run_dir / CHECKPOINT
        if not path.exists():
            return
        state = torch.load(path, map_location="cpu", weights_only=True)
        state["result"] = {"accuracy": result.accuracy, "test_accuracy": result.test_accuracy,
                           "failure": result.failure, "stopped_early": bool(result.stopped_early),
                           "epochs_run": result.epochs_run}
        self._write(state)

    def _write(self, state: dict[str, Any]) -> None:
        writable_directory(self.run_dir)
        atomic_write(self.run_dir / CHECKPOINT, lambda f: torch.save(state, f))
        summary = {k: v for k, v in state.items() if k not in ("model", "optimizer", "generator", "rng", "cuda_rng")}
        summary |= {"source": json.loads(state["source"]), "spec": json.loads(state["spec"])}
        atomic_write(self.run_dir / SUMMARY, lambda f: f.write((json.dumps(summary, indent=1) + "\n").encode()))

