"""Reading and writing state-dict files: `torch.load(weights_only=True)` only, one-line errors.

A checkpoint is a mapping of names to tensors, or a dict holding one under "state_dict", "model" or
"state_dict_ema" (timm's training checkpoints). `.safetensors` files are read when the safetensors package
is installed (it is not a dependency). Nothing in a file is executed: weights_only refuses pickled objects.
"""
from __future__ import annotations

import re
from pathlib import Path
from typing import Any, Mapping

import torch
from torch import Tensor

from search_spaces.weights import WeightsError

WRAPPERS = ("state_dict", "model", "state_dict_ema")


def _first_line(err: BaseException) -> str:
    text = str(err).strip().splitlines()
    return f"{type(err).__name__}: {text[0][:160]}" if text else type(err).__name__


def _load(path: Path) -> Any:
    if path.suffix == ".safetensors":
        try:
            from safetensors.torch import load_file
        except ImportError:
            raise WeightsError(f"{path}: reading .safetensors needs the safetensors package "
                               "(pip install safetensors)") from None
        try:
            return load_file(str(path))
        except Exception as err:  # safetensors raises its own error types for a malformed file
            raise WeightsError(f"{path}: not a safetensors file ({_first_line(err)})") from None
    try:
        return torch.load(path, map_location="cpu", weights_only=True)
    except Exception as err:  # a malformed file fails anywhere in the unpickler (IndexError, EOFError, ...)
        found = re.search(r"Unsupported global: GLOBAL (\S+)", str(err))
        if found:  # a pickled object: weights_only refuses to build it
            raise WeightsError(f"{path}: refused by torch.load(weights_only=True): it holds a pickled "
                               f"{found.group(1)}, not only tensors") from None
        raise WeightsError(f"{path}: not a PyTorch checkpoint ({type(err).__name__})") from None


def _tensors(value: Any) -> bool:
    return isinstance(value, Mapping) and bool(value) and all(
        isinstance(k, str) and isinstance(v, Tensor) for k, v in value.items())


def read_state_dict(path: str | Path) -> dict[str, Tensor]:
    """The state dict in a checkpoint file (unwrapped from a training checkpoint), or a WeightsError."""
    path = Path(path)
    if not path.is_file():
        raise WeightsError(f"{path}: no such checkpoint file")
    data = _load(path)
    if _tensors(data):
        return dict(data)
    if isinstance(data, Mapping):
        for key in WRAPPERS:
            if _tensors(data.get(key)):
                return dict(data[key])
    raise WeightsError(f"{path}: holds no state dict (a mapping of names to tensors, or one under "
                       f"{', '.join(map(repr, WRAPPERS))})")


def write_state_dict(state: Mapping[str, Tensor], path: str | Path) -> Path:
    """Save a state dict (plain tensors, so `weights_only=True` reads it back); WeightsError if unwritable."""
    path = Path(path)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        torch.save(dict(state), path)
    except OSError as err:
        raise WeightsError(f"{path}: cannot write ({_first_line(err)})") from None
    return path
