"""Image folders too large for memory, streamed from disk: what a trainer reads (`Batches`) from either path.

`Batches` is the interface `fit`, the supernet trainer and the searches consume: seeded training batches
(one epoch each call), evaluation batches, a fixed sample of training images, the shape and the per-channel
statistics. The in-memory `Data` implements it by indexing its tensors; `FolderStream` by decoding files.

`FolderStream` holds the file list of a folder (relative paths as one numpy byte array, so worker processes
share it without copying) and its splits, and nothing decoded. A `torch.utils.data.DataLoader` with worker
processes decodes each batch (PIL: `nas.training.data.decode`, resized to the stream's side in the worker)
into uint8 tensors, which go to the training device (pinned, non-blocking, on CUDA); augmentation stays on
the device, as for data in memory. What matches the in-memory path, by construction:

- the splits: the same seeded rule (`_split` with holdout, then validation) over the same sorted file list;
- the batch order: the same permutation, drawn from the trainer's generator (a CPU run streamed and one in
  memory train the same network, bit for bit, when they decode at the same side);
- the pixels at the data's side (the same decoder); at another side (`resized`: a candidate's proxy side)
  the stream decodes each file at that side, where data in memory resizes its decoded images;
- the per-channel mean and std: estimated on a fixed seeded sample of STATS_IMAGES training images (all of
  them when there are fewer, which gives exactly the in-memory statistics).

`open_data` chooses: a folder streams with `stream="stream"`, or with `"auto"` (the default) when its decoded
images (count x 3 x side^2 bytes) pass `memory_gib` or it has more than MAX_FOLDER_IMAGES images; every other
dataset loads into memory (`load`). Files are checked as they are decoded: a corrupt one met in training is a
one-line DataError naming it.
"""
from __future__ import annotations

import dataclasses
import os
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

import numpy as np
import torch
from torch import Tensor
from torch.utils.data import DataLoader, Dataset

from nas.training.data import (
    MAX_FOLDER_IMAGES,
    Data,
    DataError,
    DataSource,
    _split,
    check_splits,
    decode,
    list_folder,
    load,
    statistics,
)

STATS_IMAGES = 1000  # training images the per-channel statistics of a streamed folder are estimated on
STATS_SEED = 0
MAX_WORKERS = 8
# DataSource fields that say where and how images are decoded, not which: a resumed run or another worker of a
# study may change them (decoding processes, the memory budget)
DATA_RUNTIME = ("workers", "memory_gib")


class Batches(Protocol):
    """What a trainer reads from a dataset, in memory (`Data`) or streamed (`FolderStream`): uint8 images
    (N, C, side, side) and int64 labels, on `device`."""

    name: str
    num_classes: int
    mean: tuple[float, ...]
    std: tuple[float, ...]
    flip: bool

    @property
    def channels(self) -> int: ...
    @property
    def resolution(self) -> int: ...
    @property
    def device(self) -> torch.device: ...
    def size(self, split: str = "train") -> int: ...
    def train_batches(self, batch: int, generator: torch.Generator) -> Iterator[tuple[Tensor, Tensor]]: ...
    def eval_batches(self, split: str, batch: int) -> Iterator[tuple[Tensor, Tensor]]: ...
    def sample(self, count: int, seed: int) -> tuple[Tensor, Tensor]: ...
    def resized(self, side: int) -> Batches: ...
    def to(self, device: torch.device | str) -> Batches: ...
    def constants(self, device: torch.device, dtype: torch.dtype = torch.float32) -> tuple[Tensor, Tensor]: ...


class _Decoder(Dataset):
    """Decodes a batch of files (given by index) into uint8 images (B, 3, side, side) and their labels."""

    def __init__(self, root: str, paths: np.ndarray, labels: Tensor, side: int):
        self.root, self.paths, self.labels, self.side = root, paths, labels, side

    def __len__(self) -> int:
        return len(self.paths)

    def __getitem__(self, indices: Tensor) -> tuple[Tensor, Tensor]:
        images = np.empty((len(indices), self.side, self.side, 3), dtype=np.uint8)
        for row, i in enumerate(indices.tolist()):
            images[row] = decode(os.path.join(self.root, os.fsdecode(self.paths[i])), self.side)
        return torch.from_numpy(images).permute(0, 3, 1, 2).contiguous(), self.labels[indices]


@dataclass(frozen=True, eq=False)
class FolderStream:
    """An image folder read from disk batch by batch (see the module's notes): file paths, labels and split
    indices, no pixels. Pickles small (for Ray: a search's driver passes it to every trial)."""

    name: str
    root: str
    paths: np.ndarray  # relative file paths, bytes (os.fsencode), in the folder's sorted order
    labels: Tensor  # int64, per file
    splits: dict[str, Tensor]  # train, val, test: sorted file indices
    num_classes: int
    side: int
    workers: int | None  # decoding processes; None: one per core (at most 8) where batches are decoded
    mean: tuple[float, ...] = (0.5, 0.5, 0.5)
    std: tuple[float, ...] = (0.25, 0.25, 0.25)
    flip: bool = True
    where: str = "cpu"  # the device batches go to

    channels = 3

    @property
    def resolution(self) -> int:
        return self.side

    @property
    def device(self) -> torch.device:
        return torch.device(self.where)

    def size(self, split: str = "train") -> int:
        return len(self.splits[split])

    def resized(self, side: int) -> FolderStream:
        """The same files decoded at `side` x `side` (the statistics stay those of the data's side)."""
        return self if side == self.side else dataclasses.replace(self, side=side)

    def to(self, device: torch.device | str) -> FolderStream:
        return dataclasses.replace(self, where=str(torch.device(device)))

    def constants(self, device: torch.device, dtype: torch.dtype = torch.float32) -> tuple[Tensor, Tensor]:
        return Data.constants(self, device, dtype)  # type: ignore[arg-type]  # the same cache, by the same fields

    def train_batches(self, batch: int, generator: torch.Generator) -> Iterator[tuple[Tensor, Tensor]]:
        """One epoch of full batches in an order drawn from `generator`, as `Data.train_batches` draws it."""
        order = torch.randperm(self.size("train"), generator=generator, device=generator.device).cpu()
        files = self.splits["train"][order]
        return self._stream([files[i * batch:(i + 1) * batch] for i in range(len(files) // batch)])

    def eval_batches(self, split: str, batch: int) -> Iterator[tuple[Tensor, Tensor]]:
        files = self.splits[split]
        return self._stream([files[i:i + batch] for i in range(0, len(files), batch)])

    def sample(self, count: int, seed: int) -> tuple[Tensor, Tensor]:
        """`count` training images and labels: the first of a permutation seeded by `seed`, as `Data.sample`."""
        return self.decode(self.splits["train"][_first(self.size("train"), count, seed)])

    def decode(self, files: Tensor) -> tuple[Tensor, Tensor]:
        """The images and labels of these files (indices into the folder's list), decoded in parallel."""
        parts = list(self._stream([files[i:i + 256] for i in range(0, len(files), 256)]))
        if not parts:
            return torch.empty(0, 3, self.side, self.side, dtype=torch.uint8), torch.empty(0, dtype=torch.long)
        return torch.cat([p[0] for p in parts]), torch.cat([p[1] for p in parts])

    def _stream(self, batches: list[Tensor]) -> Iterator[tuple[Tensor, Tensor]]:
        """The batches of file indices decoded by the worker processes, in order, on the stream's device."""
        device = self.device
        cuda = device.type == "cuda"
        # its own generator: the loader's seed draw must not move the global one (dropout draws from it)
        loader = DataLoader(_Decoder(self.root, self.paths, self.labels, self.side), sampler=batches,
                            batch_size=None, num_workers=min(_workers(self.workers), len(batches)), pin_memory=cuda,
                            generator=torch.Generator())
        try:
            for x, y in loader:
                yield x.to(device, non_blocking=cuda), y.to(device, non_blocking=cuda)
        except DataError as err:  # raised in a worker: its message ends with the original one
            last = str(err).strip().splitlines()[-1]
            raise DataError(last.removeprefix(f"{DataError.__module__}.{DataError.__qualname__}: ")) from None


def _workers(given: int | None) -> int:
    """Decoding processes: as given, else one per CPU core this process may use (on the machine that trains:
    a search's driver may have other cores), at most MAX_WORKERS."""
    if given is not None:
        return given
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1
    return max(1, min(MAX_WORKERS, cores))


def open_folder(source: DataSource, listing: tuple[list[Path], list[int], int] | None = None) -> FolderStream:
    """A streamed image folder: its files listed (unless `listing`, `list_folder`'s, is given) and split,
    its statistics estimated on a decoded sample."""
    root = Path(source.path or "")
    files, labels, classes = listing or list_folder(root)
    y = torch.tensor(labels)
    (train, train_y), (test, _) = _split(torch.arange(len(files)), y, source.holdout, source.seed)
    (train, _), (val, _) = _split(train, train_y, source.validation, source.seed, minimum=2)
    name = root.name or "folder"
    check_splits(name, len(train), len(val), len(test))
    paths = np.array([os.fsencode(f.relative_to(root)) for f in files])
    stream = FolderStream(name, str(root), paths, y, {"train": train, "val": val, "test": test}, classes,
                          source.resolution or 32, source.workers)
    # in the folder's order: with every training image in the sample, exactly the in-memory statistics
    x, _ = stream.decode(train[_first(len(train), STATS_IMAGES, STATS_SEED).sort().values])
    return dataclasses.replace(stream, **dict(zip(("mean", "std"), statistics(x))))


def _first(n: int, count: int, seed: int) -> Tensor:
    """The first `count` of a permutation of range(n) seeded by `seed`."""
    return torch.randperm(n, generator=torch.Generator().manual_seed(seed))[:count]


def streams(source: DataSource) -> bool:
    """Whether `open_data` streams this dataset (see the module's notes)."""
    return _listing(source) is not None


def _listing(source: DataSource) -> tuple[list[Path], list[int], int] | None:
    """The folder's listing when it streams, else None."""
    if source.kind != "folder" or source.stream == "memory":
        return None
    listing = list_folder(Path(source.path or ""))
    count, side = len(listing[0]), source.resolution or 32
    fits = count <= MAX_FOLDER_IMAGES and count * 3 * side * side <= source.memory_gib * 2**30
    return None if source.stream == "auto" and fits else listing


def open_data(source: DataSource | None = None, device: torch.device | str = "cpu") -> Batches:
    """The dataset `source` describes, on `device`: streamed from disk or loaded into memory (`streams`)."""
    source = source or DataSource()
    listing = _listing(source)
    return load(source, device) if listing is None else open_folder(source, listing).to(device)
