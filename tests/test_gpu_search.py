"""A search's GPU path on the CPU: requests that cannot work refused before anything starts, the trial's
device following the GPUs Ray granted (a local Ray given a fake GPU: Ray hands the trial the device, torch
sees none), memory freed after a failed trial, the dataset moved before it is resized, and the latency
objective under ASHA end to end (each latency timed before training, the device recorded per trial, a
latency study refusing another kind of worker)."""
import dataclasses
import gc
import re
import types
import weakref

import optuna
import pytest
import torch

import nas.search.placement
import nas.search.run
import nas.search.trial
from nas.cli import main
from nas.search.config import SearchConfig, SearchError
from nas.search.run import search
from nas.search.searcher import StudySearcher
from nas.search.trial import trial_fn
from nas.training.data import Data, DataSource
from nas.training.device import OutOfMemoryError
from nas.training.evaluate import Metrics
from nas.training.train import TrainConfig
from search_spaces import spaces
from tests.test_train import tiny_spec

DATA = DataSource("synthetic", resolution=16, channels=3, num_classes=4, size=64)
TRAIN = TrainConfig(epochs=2, batch_size=32, threads=1)
SEARCH = ("search", "--space", "mobile", "--budget", "300M", "--data", "synthetic:3,16,4,64", "--trials", "1")


def config(tmp_path, **kw):
    settings = dict(space="plain", budget=10**9, trials=2, strategy="random", scheduler="fifo", data=DATA,
                    train=TRAIN, run_dir=str(tmp_path / "run"), max_concurrent=2, seed_backbones=False)
    return SearchConfig(**(settings | kw))


def load_trials(tmp_path):
    return optuna.load_study(study_name="nas", storage=f"sqlite:///{tmp_path / 'run' / 'study.db'}").get_trials()


@pytest.mark.parametrize("argv,message", [
    (["--device", "cuda"], "device cuda needs a GPU per trial (Ray hides every GPU from a trial granted none): "
                           "give --gpus-per-trial"),
    (["--gpus-per-trial", "2"], "gpus per trial is 2, but a trial trains on one GPU (no data parallelism); give at "
                                "most 1, and run more trials at once with --max-concurrent"),
    (["--device", "cpu", "--gpus-per-trial", "0.25"], "device cpu with 0.25 GPUs per trial reserves GPUs no trial "
                                                      "uses; drop --gpus-per-trial, or use --device auto"),
    (["--objective", "latency", "--gpus-per-trial", "0.5"], "a latency search with 0.5 GPUs per trial times each "
                                                            "network on a GPU that other trials are training on"),
])
def test_requests_that_cannot_work_are_one_line_errors_before_anything_starts(tmp_path, capsys, monkeypatch,
                                                                                argv, message):
    monkeypatch.setattr(nas.search.run, "_start_ray", lambda config: pytest.fail("Ray started"))
    run = tmp_path / "run"
    assert main([*SEARCH, *argv, "--run-dir", str(run)]) == 2
    out, err = capsys.readouterr()
    assert out == "" and err.count("\n") == 1 and "Traceback" not in err
    assert err.startswith("nas search: error: " + message), err
    assert not run.exists()
    assert config(tmp_path, gpus_per_trial=1.0).trial_device == "cuda"  # a whole GPU, or a share: both work
    assert config(tmp_path, gpus_per_trial=0.25).trial_device == "cuda"
    assert config(tmp_path, objective="latency", gpus_per_trial=1.0).trial_device == "cuda"
    assert config(tmp_path).trial_device == "cpu"


def _trial_config(spec, train=TRAIN, reference=224):
    return {"spec": spec.to_json(indent=None), "train": dataclasses.asdict(train), "data": dataclasses.asdict(DATA),
            "reference_resolution": reference, "number": 0}


@pytest.fixture
def reports(monkeypatch):
    """trial_fn outside Ray: its reports collected, no GPU granted."""
    seen = []
    monkeypatch.setattr(nas.search.trial, "tune", types.SimpleNamespace(report=seen.append))
    monkeypatch.setattr(nas.search.placement, "granted_gpus", lambda: 0)
    return seen


def test_a_failed_trial_lets_go_of_its_model_before_memory_is_released(reports, monkeypatch):
    # torch.cuda.empty_cache() ran inside the except block, while the exception's traceback still held the
    # model, the optimiser and the data: a reused worker's next trial started short of GPU memory
    modules = []

    def oom(module, inputs, output):
        if module.training:
            modules.append(weakref.ref(module))
            raise OutOfMemoryError("CUDA out of memory. Tried to allocate 20.00 GiB (injected)")

    held = []

    def release():
        gc.collect()
        held.append(sum(ref() is not None for ref in modules))

    monkeypatch.setattr(nas.search.trial, "release_memory", release)
    handle = torch.nn.modules.module.register_module_forward_hook(oom)
    try:
        trial_fn(_trial_config(tiny_spec()))
    finally:
        handle.remove()
    assert modules and held == [0]
    assert reports[-1]["final"] and reports[-1]["failure"].startswith("OutOfMemoryError: CUDA out of memory")


def test_the_dataset_moves_to_the_device_before_it_is_resized(reports, monkeypatch):
    # CIFAR-10's training split took 12.7 s to resize on one CPU thread in every trial, before moving to the GPU
    events = []
    real_to, real_resized = Data.to, Data.resized
    monkeypatch.setattr(Data, "to", lambda self, device: events.append(f"to {device}") or real_to(self, device))
    monkeypatch.setattr(Data, "resized", lambda self, side: events.append(f"resize {side}") or real_resized(self, side))
    trained = []
    monkeypatch.setattr(nas.search.trial, "evaluate", lambda spec, train, data, report: trained.append(
        (train.device, data.resolution)) or Metrics(0.5, 1, 1, 1.0, 1.0, 1, data.resolution, train.device))
    trial_fn(_trial_config(dataclasses.replace(tiny_spec(), resolution=256)))
    # (loading the synthetic data in the trial moves it to the CPU first)
    assert events[-2:] == ["to cpu", "resize 18"] and trained == [("cpu", 18)]  # 16 px x 256 / 224 = 18 px


def test_every_report_carries_the_device_and_the_latency_timed_before_training(reports):
    spec = dataclasses.replace(tiny_spec(), resolution=32)
    trial_fn(_trial_config(spec, dataclasses.replace(TRAIN, latency=True, latency_batch=2, latency_repeats=2)))
    assert [r["final"] for r in reports] == [False, False, True]  # two epochs, then the final report
    assert len({r["latency_ms"] for r in reports}) == 1 and reports[0]["latency_ms"] > 0
    assert all(r["device"].startswith("cpu ") for r in reports) and reports[-1]["failure"] == ""


def test_a_latency_study_keeps_to_one_device(tmp_path, plain_space):
    study = optuna.create_study(directions=["maximize", "minimize"])
    searcher = StudySearcher(study, config(tmp_path, objective="latency", trials=10), spaces.get("plain"))

    def finish(result):
        trial = study.ask()
        searcher.running[str(trial.number)] = trial
        searcher.on_trial_complete(str(trial.number), result)
        return study.get_trials()[trial.number]

    first = finish({"accuracy": 0.5, "epoch": 1, "latency_ms": 2.0, "device": "cuda NVIDIA H200"})
    assert first.state.name == "COMPLETE" and first.values == [0.5, 2.0]
    assert first.user_attrs["device"] == study.user_attrs["latency_device"] == "cuda NVIDIA H200"
    other = finish({"accuracy": 0.6, "epoch": 1, "latency_ms": 9.0, "device": "cuda Tesla T4"})
    assert other.state.name == "FAIL" and other.user_attrs["failure"] == (
        "latency timed on cuda Tesla T4, the study's latencies are from cuda NVIDIA H200: a latency search runs on "
        "one kind of device")
    # a trial the scheduler stopped before any report with a latency (none is sent any more) fails, never
    # crashing the searcher inside Ray Tune's controller (the search hung there until killed)
    lost = finish({"accuracy": 0.6, "epoch": 1, "device": "cuda NVIDIA H200"})
    assert lost.state.name == "FAIL" and "reported no latency" in lost.user_attrs["failure"]
    # the next proposals carry the study's latency device, so a worker of another kind refuses before training
    assert searcher.suggest("next")["latency_device"] == "cuda NVIDIA H200"


def test_a_worker_refuses_to_time_latency_on_another_device(reports):
    train = dataclasses.replace(TRAIN, latency=True, latency_repeats=1)
    trial_fn(_trial_config(tiny_spec(), train) | {"latency_device": "cuda NVIDIA H200"})
    assert reports == [reports[-1]] and reports[-1]["failure"].startswith(
        "DeviceError: this worker times latency on cpu ")  # before training: not one epoch reported


def test_cpu_and_gpu_workers_never_share_a_latency_study(tmp_path):
    from nas.search.study import check_storage, open_study

    cpu = config(tmp_path, objective="latency")
    open_study(cpu)
    check_storage(dataclasses.replace(cpu, resume=True, max_concurrent=4))  # another CPU worker: welcome
    with pytest.raises(SearchError, match=re.escape("the study was recorded with latency_device 'cpu' (given 'cuda')")):
        check_storage(dataclasses.replace(cpu, resume=True, gpus_per_trial=1.0))


@pytest.fixture(scope="module")
def ray_one_gpu():
    """A local Ray told this CPU machine has one GPU: Ray grants it to trials (CUDA_VISIBLE_DEVICES, get_gpu_ids)
    while torch sees no CUDA, as on a GPU node with a CPU build of torch."""
    import ray

    ray.init(address="local", num_cpus=2, num_gpus=1, include_dashboard=False, log_to_driver=False,
             _node_ip_address="127.0.0.1")
    yield
    ray.shutdown()


def test_a_trial_sees_the_gpu_ray_granted_it(ray_one_gpu):
    import ray

    @ray.remote
    def where():
        from nas.training import device

        real, device.cuda_devices = device.cuda_devices, lambda: 1  # what torch on a GPU node answers
        try:
            granted = nas.search.placement.granted_gpus()
            return granted, str(device.choose("auto", granted))
        finally:
            device.cuda_devices = real

    assert ray.get(where.options(num_cpus=1, num_gpus=0.25).remote()) == (1, "cuda")
    assert ray.get(where.options(num_cpus=1, num_gpus=0).remote()) == (0, "cpu")


def test_a_search_trains_on_the_gpus_it_reserves(tmp_path, ray_one_gpu, plain_space, monkeypatch):
    # --gpus-per-trial alone used to reserve a GPU and train on the CPU: now the trial goes to the GPU Ray
    # granted, and here (torch sees none) says so in its failure instead of training on the CPU
    monkeypatch.setattr(nas.search.run, "cuda_devices", lambda: 1)  # the driver's check of the local Ray
    search(config(tmp_path, gpus_per_trial=0.5))
    failures = {t.user_attrs["failure"] for t in load_trials(tmp_path)}
    assert failures == {f"DeviceError: Ray granted this trial 1 GPU(s) (CUDA_VISIBLE_DEVICES=0) but torch sees no "
                        f"CUDA device (torch {torch.__version__} is a CPU build)"}


def test_a_latency_search_under_asha_records_every_latency(tmp_path, ray_one_gpu, plain_space):
    # latency was sent only in the final report; ASHA stopped trials before it, and the searcher raised a
    # TypeError inside Ray Tune's controller, which then hung until killed
    # ASHA also stops every trial that reaches max_t at its last epoch's report: no final report ever came
    digits = DataSource("digits", resolution=16)  # real labels: accuracies differ, so ASHA stops the worse
    result = search(config(tmp_path, objective="latency", scheduler="asha", trials=5, max_concurrent=1, seed=1,
                           data=digits))
    trials = load_trials(tmp_path)
    trained = [t for t in trials if t.user_attrs["status"] == "trained"]
    assert len(trained) == 5 and any(t.user_attrs["stopped_early"] for t in trained)
    assert all(t.values[1] == t.user_attrs["latency_ms"] > 0 for t in trained)
    devices = {t.user_attrs["device"] for t in trained}
    assert len(devices) == 1 and devices == {optuna.load_study(
        study_name="nas", storage=f"sqlite:///{tmp_path / 'run' / 'study.db'}").user_attrs["latency_device"]}
    assert result.front and all(r.latency_ms > 0 and r.device.startswith("cpu ") for r in result.front)
