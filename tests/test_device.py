"""The device and precision of a run, on the CPU: the device a run asks for against the GPUs it was granted
and those torch sees (behind `nas.training.device`'s seam), precision by compute capability, evaluation in
full precision, normalisation constants made once, latency measured before training."""
import contextlib
import dataclasses
import warnings

import pytest
import torch

import nas.training.device as device_module
from nas.training.data import DataSource, load, normalize
from nas.training.device import DeviceError, OutOfMemoryError, autocast, choose, precision
from nas.training.evaluate import adapt, evaluate
from nas.training.train import TrainConfig, fit
from search_spaces.network import build
from tests.test_train import tiny_spec

FAST = TrainConfig(epochs=1, batch_size=32, lr=0.1, threads=1)
CPU, CUDA = torch.device("cpu"), torch.device("cuda")


@pytest.fixture
def gpus(monkeypatch):
    """Set how many CUDA devices torch 'sees' (the seam), as a GPU machine would answer."""
    def set_count(n):
        monkeypatch.setattr(device_module, "cuda_devices", lambda: n)
    return set_count


@pytest.fixture(scope="module")
def digits():
    return load(DataSource("digits", resolution=16))


def test_outside_a_trial_auto_follows_what_torch_sees(gpus):
    gpus(0)
    assert choose("auto") == CPU and choose("cpu") == CPU
    with pytest.raises(DeviceError, match="device cuda requested but torch sees no CUDA device.*use --device cpu"):
        choose("cuda")
    gpus(1)
    assert choose("auto") == CUDA and choose("cuda") == CUDA and choose("cpu") == CPU


def test_in_a_trial_the_device_follows_the_gpus_ray_granted(gpus, monkeypatch):
    gpus(1)  # a GPU node: torch sees the device Ray made visible
    assert choose("auto", granted=1) == CUDA and choose("cuda", granted=1) == CUDA
    assert choose("auto", granted=0) == CPU  # no GPU reserved: never train on one (another trial holds it)
    assert choose("cpu", granted=1) == CPU
    with pytest.raises(DeviceError, match="device cuda, but Ray granted this trial no GPU"):
        choose("cuda", granted=0)
    gpus(0)  # granted a GPU, but this process's torch sees none (a CPU build on a GPU node)
    monkeypatch.setenv("CUDA_VISIBLE_DEVICES", "3")
    with pytest.raises(DeviceError, match=r"Ray granted this trial 1 GPU\(s\) \(CUDA_VISIBLE_DEVICES=3\) but torch "
                                          "sees no CUDA device"):
        choose("auto", granted=1)
    with pytest.raises(DeviceError, match="device must be cpu, cuda, auto; got 'tpu'"):
        choose("tpu")


@pytest.mark.parametrize("cap,dtype", [((7, 0), torch.float32), ((7, 5), torch.float32), ((8, 0), torch.bfloat16),
                                       ((8, 9), torch.bfloat16), ((9, 0), torch.bfloat16)])
def test_bf16_only_from_compute_capability_8(monkeypatch, cap, dtype):
    # V100 (7.0) and T4 (7.5) have no bf16 convolution kernels: they train in fp32
    monkeypatch.setattr(device_module, "capability", lambda device: cap)
    assert precision(CUDA) == dtype
    with warnings.catch_warnings():  # torch.autocast("cuda") warns that this machine has no CUDA
        warnings.simplefilter("ignore")
        assert isinstance(autocast(CUDA), contextlib.nullcontext) == (dtype == torch.float32)
    assert precision(CPU) == torch.float32 and isinstance(autocast(CPU), contextlib.nullcontext)


def test_training_runs_in_the_chosen_precision_and_evaluation_in_full(monkeypatch, digits):
    # bf16 autocast on the CPU stands in for a GPU of capability 8.0+: the training steps' outputs are bf16,
    # and evaluation (accuracy and the dead-network check) sees fp32 logits
    monkeypatch.setattr(device_module, "precision", lambda device: torch.bfloat16)
    torch.manual_seed(0)
    model = build(adapt(tiny_spec(), digits))
    seen = {True: set(), False: set()}
    model.register_forward_hook(lambda module, inputs, out: seen[module.training].add(out.dtype))
    result = fit(model, digits, FAST)
    assert result.failure is None
    assert seen == {True: {torch.bfloat16}, False: {torch.float32}}


def test_normalisation_constants_are_made_once(digits, monkeypatch):
    x = digits.train_x[:8]
    mean = torch.tensor(digits.mean).view(1, -1, 1, 1)
    std = torch.tensor(digits.std).view(1, -1, 1, 1)
    assert torch.equal(normalize(x, digits), (x.float() / 255 - mean) / std)  # the same values as before
    assert digits.constants(x.device, torch.float32) is digits.constants(x.device, torch.float32)
    made = []
    real = torch.tensor
    monkeypatch.setattr(torch, "tensor", lambda *a, **k: made.append(a) or real(*a, **k))
    fresh = dataclasses.replace(digits)  # a Data of its own: no constants made yet
    torch.manual_seed(0)
    fit(build(adapt(tiny_spec(), fresh)), fresh, dataclasses.replace(FAST, epochs=2))
    # 2 epochs of 44 steps and 2 evaluations: the mean and std made once, not twice per step
    assert [a[0] for a in made if isinstance(a[0], tuple)] == [fresh.mean, fresh.std]


def test_latency_is_measured_before_training(monkeypatch):
    import nas.training.evaluate as evaluate_module

    events = []
    real_fit, real_latency = evaluate_module.fit, evaluate_module.measure_latency
    monkeypatch.setattr(evaluate_module, "fit", lambda *a, **k: events.append("fit") or real_fit(*a, **k))
    monkeypatch.setattr(evaluate_module, "measure_latency",
                        lambda *a, **k: events.append("latency") or real_latency(*a, **k))
    spec = dataclasses.replace(tiny_spec(), resolution=32)
    config = dataclasses.replace(FAST, latency=True, latency_batch=2, latency_repeats=2, lr=1e6, warmup_epochs=0,
                                 check_every=1, diverge_patience=1)  # diverges at once: a failed run keeps its latency too
    metrics = evaluate(spec, config, DataSource("synthetic", resolution=16, size=96, num_classes=3))
    assert events == ["latency", "fit"]
    assert metrics.failure and metrics.latency_ms > 0 and metrics.latency_batch_ms > 0


def test_out_of_memory_is_found_on_every_supported_torch():
    # torch.OutOfMemoryError exists from torch 2.5; pyproject allows 2.1, which has torch.cuda.OutOfMemoryError
    assert issubclass(OutOfMemoryError, RuntimeError)
    assert OutOfMemoryError is getattr(torch, "OutOfMemoryError", torch.cuda.OutOfMemoryError)
