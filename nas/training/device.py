"""Where a run trains and in what precision.

- `choose(requested, granted)`: the device of a run. `cpu` and `cuda` are what they say; `auto` is cuda
  when the run has a GPU: in a Ray trial, when Ray granted it one (`granted`, counted by the search), and
  outside a trial (`nas train`), when torch sees one. A request that cannot work is a `DeviceError` with
  the reason: cuda in a trial granted no GPU (Ray hides every GPU from it), or a trial granted a GPU in a
  process whose torch sees none (a CPU build of torch on a GPU node).
- `precision(device)`: bf16 autocast on CUDA devices of compute capability 8.0 or more (A100, H100, L4,
  RTX 30xx on); fp32 elsewhere: T4 (7.5) and V100 (7.0) have no bf16 convolution kernels, and fp16 would
  need loss scaling. `autocast(device)` is the matching context; evaluation runs in full precision.
- `release_memory()`: what a failed run held goes back to the GPU, so the next trial of a reused worker
  starts with the memory it should have.

The questions asked of the machine (`cuda_devices`, `capability`, `name`) are module functions: the seam
tests replace to check the choices on a machine without CUDA.
"""
from __future__ import annotations

import contextlib
import gc
import os

import torch

from search_spaces.errors import NasError

DEVICES = ("cpu", "cuda", "auto")
BF16_CAPABILITY = (8, 0)  # Ampere: the first GPUs with bf16 tensor-core convolutions
# torch.OutOfMemoryError exists from torch 2.5; pyproject allows 2.1, which has only the CUDA one
OutOfMemoryError: type[Exception] = getattr(torch, "OutOfMemoryError", torch.cuda.OutOfMemoryError)


class DeviceError(NasError):
    """The device asked for cannot be used here (one line saying why)."""


def cuda_devices() -> int:
    """CUDA devices torch sees in this process (0 with a CPU build of torch, or where none are visible)."""
    return torch.cuda.device_count()


def capability(device: torch.device) -> tuple[int, int]:
    """The compute capability of a CUDA device, e.g. (9, 0) for an H100."""
    return tuple(torch.cuda.get_device_capability(device))  # type: ignore[return-value]


def name(device: torch.device) -> str:
    """A device as recorded with a trial: 'cuda NVIDIA H200' or 'cpu AMD EPYC 7B13'."""
    if device.type == "cuda":
        return f"cuda {torch.cuda.get_device_name(device)}"
    return f"cpu {cpu_model()}"


def cpu_model() -> str:
    """The CPU's model name (Linux /proc/cpuinfo), else the platform's processor string."""
    try:
        with open("/proc/cpuinfo", encoding="utf-8", errors="replace") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.partition(":")[2].strip()
    except OSError:
        pass
    import platform

    return platform.processor() or platform.machine() or "unknown"


def choose(requested: str, granted: int | None = None) -> torch.device:
    """The device of a run asked for `requested` (cpu, cuda or auto). `granted`: the GPUs Ray granted the
    trial this runs in (None: not in a trial)."""
    if requested not in DEVICES:
        raise DeviceError(f"device must be {', '.join(DEVICES)}; got {requested!r}")
    if requested == "cpu":
        return torch.device("cpu")
    if granted is None:  # nas train, a script: the GPUs this process sees
        if requested == "auto":
            return torch.device("cuda" if cuda_devices() else "cpu")
        if not cuda_devices():
            raise DeviceError(f"device cuda requested but torch sees no CUDA device{_why_none()}; use --device cpu")
        return torch.device("cuda")
    if granted == 0:
        if requested == "cuda":
            raise DeviceError("device cuda, but Ray granted this trial no GPU (it hides every GPU from such a "
                              "trial); give --gpus-per-trial")
        return torch.device("cpu")
    if not cuda_devices():
        visible = os.environ.get("CUDA_VISIBLE_DEVICES")
        raise DeviceError(f"Ray granted this trial {granted} GPU(s) (CUDA_VISIBLE_DEVICES={visible}) but torch sees "
                          f"no CUDA device{_why_none()}")
    return torch.device("cuda")  # Ray makes the granted GPU the only one visible: device 0


def _why_none() -> str:
    """Why torch may see no GPU: a CPU build says so."""
    return f" (torch {torch.__version__} is a CPU build)" if torch.version.cuda is None else ""


def precision(device: torch.device) -> torch.dtype:
    """The autocast type of training and latency: bf16 on CUDA of capability 8.0 or more, else fp32."""
    if device.type == "cuda" and capability(device) >= BF16_CAPABILITY:
        return torch.bfloat16
    return torch.float32


def autocast(device: torch.device) -> contextlib.AbstractContextManager:
    """Mixed precision where `precision` allows it; nothing (fp32) elsewhere."""
    dtype = precision(device)
    if dtype == torch.float32:
        return contextlib.nullcontext()
    return torch.autocast(device.type, dtype)


FULL_COLLECTION_EVERY = 50  # releases between collections that also walk the frozen objects


def release_memory() -> None:
    """Free what a finished or failed run left: reference cycles collected, then CUDA's cached blocks given
    back (only where this process has used CUDA). Call it after the exception that failed the run is gone:
    its traceback holds the model, the optimiser and the data.

    A full collection walks every object of the process (torch, Ray and Optuna hold about 300,000: 0.35 to
    0.7 s measured, most of a tiny trial's overhead), so what survives a release is frozen (`gc.freeze`: left
    out of later collections, still freed by reference counting) and the next release walks only what was
    made since; every FULL_COLLECTION_EVERY releases the frozen objects are collected too."""
    _releases[0] += 1
    if _releases[0] % FULL_COLLECTION_EVERY == 0:
        gc.unfreeze()
    gc.collect()
    gc.freeze()
    if torch.cuda.is_initialized():
        torch.cuda.empty_cache()


_releases = [0]
