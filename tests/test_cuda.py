"""The GPU path on a real GPU (skipped where torch sees no CUDA device; `experiments/gpu_check.py` runs
them): the device chosen, the precision the device's capability allows, evaluation in full precision,
constants and data on the device, memory given back after an out-of-memory trial, latency, and a search
of fractional GPU trials on a local Ray."""
import dataclasses
import types

import optuna
import pytest
import torch

import nas.search.placement
import nas.search.trial
from nas.search.config import SearchConfig
from nas.search.run import search
from nas.search.trial import trial_fn
from nas.training.data import DataSource, load, normalize
from nas.training.device import capability, choose, cuda_devices, precision
from nas.training.evaluate import adapt, evaluate, measure_latency
from nas.training.train import TrainConfig, fit
from search_spaces.network import build
from tests.test_train import tiny_spec

pytestmark = [pytest.mark.cuda, pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")]
CUDA = torch.device("cuda")
FAST = TrainConfig(epochs=3, batch_size=32, lr=0.2, threads=1, device="cuda")


@pytest.fixture(scope="module")
def digits():
    return load(DataSource("digits", resolution=16), CUDA)


def test_auto_is_the_gpu_and_precision_follows_its_capability():
    assert cuda_devices() >= 1 and choose("auto") == CUDA and choose("auto", granted=1) == CUDA
    assert choose("auto", granted=0) == torch.device("cpu")  # a trial granted no GPU stays off the GPU
    expected = torch.bfloat16 if capability(CUDA) >= (8, 0) else torch.float32
    assert precision(CUDA) == expected


def test_trains_on_the_gpu_in_its_precision_and_evaluates_in_full(digits):
    torch.manual_seed(0)
    model = build(adapt(tiny_spec(), digits)).to(CUDA).to(memory_format=torch.channels_last)
    seen = {True: set(), False: set()}
    model.register_forward_hook(lambda module, inputs, out: seen[module.training].add(out.dtype))
    result = fit(model, digits, FAST)
    assert result.failure is None and result.accuracy > 0.5  # chance is 0.1
    assert seen == {True: {precision(CUDA)}, False: {torch.float32}}


def test_constants_and_resizing_stay_on_the_device(digits):
    mean, std = digits.constants(digits.train_x.device)
    assert mean.device.type == std.device.type == "cuda"
    assert digits.constants(digits.train_x.device) is digits.constants(digits.train_x.device)
    assert normalize(digits.train_x[:4], digits).device.type == "cuda"
    bigger = digits.resized(24)
    assert bigger.train_x.device.type == "cuda" and bigger.resolution == 24


def test_evaluate_and_latency_on_the_gpu():
    spec = dataclasses.replace(tiny_spec(), resolution=32)
    config = dataclasses.replace(FAST, epochs=1, device="auto", latency=True, latency_batch=4, latency_repeats=3)
    metrics = evaluate(spec, config, DataSource("synthetic", resolution=16, size=256, num_classes=4))
    assert metrics.device == "cuda" and metrics.failure is None and metrics.latency_ms > 0
    assert all(ms > 0 for ms in measure_latency(spec, CUDA, (1, 8), 3))


def test_an_out_of_memory_trial_gives_its_memory_back(monkeypatch):
    reports = []
    monkeypatch.setattr(nas.search.trial, "tune", types.SimpleNamespace(report=reports.append))
    monkeypatch.setattr(nas.search.placement, "granted_gpus", lambda: 1)
    torch.cuda.empty_cache()
    before = torch.cuda.memory_allocated()

    def oom(module, inputs, output):
        if module.training:
            torch.empty(2**50, dtype=torch.uint8, device="cuda")  # a petabyte: a real CUDA out-of-memory error

    handle = torch.nn.modules.module.register_module_forward_hook(oom)
    try:
        trial_fn({"spec": tiny_spec().to_json(indent=None), "train": dataclasses.asdict(FAST), "number": 0,
                  "data": dataclasses.asdict(DataSource("synthetic", resolution=64, size=2048)),
                  "reference_resolution": None})
    finally:
        handle.remove()
    assert reports[-1]["failure"].startswith("OutOfMemoryError: CUDA out of memory")
    assert reports[-1]["device"].startswith("cuda ")
    # the model, its optimiser and the trial's 25 MB copy of the data all freed (a library workspace may stay)
    assert torch.cuda.memory_allocated() - before < 2**20


def test_a_search_of_fractional_gpu_trials(tmp_path, plain_space):
    import ray

    if ray.is_initialized():
        ray.shutdown()  # search() starts its own local Ray, with this machine's GPUs
    config = SearchConfig(space="plain", budget=10**9, trials=4, strategy="random", scheduler="fifo",
                          data=DataSource("synthetic", resolution=16, channels=3, num_classes=4, size=256),
                          train=TrainConfig(epochs=1, batch_size=32), run_dir=str(tmp_path / "run"),
                          gpus_per_trial=0.25, max_concurrent=4, seed_backbones=False)
    search(config)
    trials = optuna.load_study(study_name="nas", storage=config.storage_url).get_trials()
    trained = [t for t in trials if t.user_attrs["status"] == "trained"]
    assert len(trained) == 4, [t.user_attrs.get("failure") for t in trials]
    assert all(t.user_attrs["device"] == f"cuda {torch.cuda.get_device_name(0)}" for t in trained)
