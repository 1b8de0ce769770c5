"""Shared pieces of the reliability tests: the tiny `plain` search, faults injected into real Ray trials,
`nas` child processes, and polling a study from outside the process that writes it.

Faults are injected where they happen in real life: inside the model's forward pass during training (a
global forward hook raising, returning NaN, or raising torch.OutOfMemoryError) or in the worker process
itself (SIGKILL, a long sleep). This module is pickled by value, so Ray workers need not import it.
"""
from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any, Callable

import optuna
import torch
from ray import cloudpickle

from nas.search.config import SearchConfig
from nas.search.trial import trial_fn as real_trial_fn
from nas.training.data import DataSource
from nas.training.train import TrainConfig

ROOT = Path(__file__).resolve().parents[2]
DATA = DataSource("synthetic", resolution=16, channels=3, num_classes=4, size=64)
DATA_ARG = "synthetic:3,16,4,64"
TRAIN = TrainConfig(epochs=1, batch_size=32, threads=1)
BUDGET = 10**9  # every network of `plain` fits: each proposal is trained, trial numbers are predictable
FAULTS = ("raise", "nan", "oom", "kill")

cloudpickle.register_pickle_by_value(sys.modules[__name__])


def config(run_dir: Path, **settings: Any) -> SearchConfig:
    """A search of the `plain` test space on tiny synthetic data: seconds per trial on one core."""
    base = dict(space="plain", budget=BUDGET, trials=3, strategy="random", scheduler="fifo", data=DATA, train=TRAIN,
                run_dir=str(run_dir), max_concurrent=2, seed_backbones=False)
    return SearchConfig(**(base | settings))


def _hook(fault: str) -> Callable[..., Any]:
    def hook(module: torch.nn.Module, inputs: Any, output: Any) -> Any:
        if not module.training:
            return None
        if fault == "raise":
            raise RuntimeError("injected fault in the forward pass")
        if fault == "oom":
            raise torch.OutOfMemoryError("CUDA out of memory. Tried to allocate 20.00 GiB (injected)")
        if fault == "nan" and isinstance(output, torch.Tensor) and output.is_floating_point():
            return output * float("nan")
        return None

    return hook


def faulty(plan: dict[int, str]) -> Callable[..., None]:
    """A Ray trial function: the real one, with the fault `plan[trial number]` injected into that trial.
    Faults: raise, nan, oom (during training), kill (SIGKILL of the worker process), or a float: sleep
    that many seconds before training (to be caught running by an interrupt)."""

    def trial(config: dict[str, Any], data: Any = None, cells: Any = ()) -> None:
        fault = plan.get(config["number"])
        if fault == "kill":
            os.kill(os.getpid(), signal.SIGKILL)
        if isinstance(fault, (int, float)):
            time.sleep(fault)
        handle = torch.nn.modules.module.register_module_forward_hook(_hook(fault)) if fault in FAULTS else None
        try:
            real_trial_fn(config, data, cells)
        finally:
            if handle is not None:
                handle.remove()

    return trial


def nas(*argv: str, env: dict[str, str] | None = None, **popen: Any) -> subprocess.Popen:
    """Start `nas ARGV` (with the `plain` test space registered) as a child process in the repo root."""
    return subprocess.Popen([sys.executable, "-m", "tests.reliability.child", *argv], cwd=ROOT,
                            env=os.environ | (env or {}), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            **popen)


def search_argv(run_dir: Path, *extra: str, trials: int = 3) -> list[str]:
    """`nas search` arguments of the tiny plain search."""
    return ["search", "--space", "plain", "--budget", "1G", "--trials", str(trials), "--strategy", "random",
            "--scheduler", "fifo", "--epochs", "1", "--data", DATA_ARG, "--no-seed-backbones",
            "--run-dir", str(run_dir), *extra]


def load(storage: str, name: str = "nas") -> optuna.Study:
    """The study as another process wrote it."""
    return optuna.load_study(study_name=name, storage=storage)


def wait_for(check: Callable[[], bool], timeout: float, what: str, proc: subprocess.Popen | None = None) -> None:
    """Poll `check` until true; fail with `what` (and the child's output if it exited) after `timeout` s."""
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        try:
            if check():
                return
        except Exception:  # the study may not exist yet
            pass
        if proc is not None and proc.poll() is not None:
            out, err = proc.communicate()
            raise AssertionError(f"child exited {proc.returncode} before {what}:\n{out}\n{err[-3000:]}")
        time.sleep(0.5)
    raise AssertionError(f"timed out after {timeout}s waiting for {what}")


def statuses(study: optuna.Study) -> list[str]:
    """Each trial's recorded status (or its state when it has none), in trial order."""
    return [t.user_attrs.get("status") or t.state.name.lower() for t in study.get_trials(deepcopy=False)]


def assert_recorded_once(study: optuna.Study) -> None:
    """Every trial finished exactly once: numbers 0..n-1, none left running, no network trained twice."""
    trials = study.get_trials(deepcopy=False)
    assert [t.number for t in trials] == list(range(len(trials)))
    assert not [t.number for t in trials if t.state == optuna.trial.TrialState.RUNNING]
    trained = [t.user_attrs["digest"] for t in trials if t.user_attrs.get("status") == "trained"]
    assert len(trained) == len(set(trained)), "a network was trained twice"
