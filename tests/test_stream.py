"""Streaming an image folder from disk (`nas.training.stream`): real JPEG files written here give the same
splits, pixels, statistics and training as the folder held in memory; the automatic choice; one-line errors;
the supernet, a search and the command line on a streamed folder."""
import dataclasses
import pickle

import numpy as np
import optuna
import pytest
import torch

import nas.training.stream as stream_module
from nas.cli import main
from nas.search.config import SearchConfig
from nas.search.run import search
from nas.training.data import DataError, DataSource, load
from nas.training.evaluate import evaluate
from nas.training.stream import FolderStream, open_data, open_folder, streams
from nas.training.supernet import train_supernet
from nas.training.train import TrainConfig
from search_spaces.cells.conv import ConvArgs
from search_spaces.cells.head import ClassifierArgs
from search_spaces.spec import Block, NetSpec, Stage
from tests.supernet.helpers import TINY, tiny_job

SMALL = NetSpec(stem=(), stages=(Stage((Block("conv", ConvArgs(8, 3, 2)),)), Stage((Block("conv", ConvArgs(16, 3, 2)),))),
                head=(Block("classifier", ClassifierArgs()),), resolution=16, in_channels=3, num_classes=3)
TIMING = ("seconds", "images_per_second")


def write_jpegs(root, classes=3, per_class=16, seed=0):
    """Real JPEG files of 40 to 90 px, each class tinted in its own channel (so there is something to learn)."""
    from PIL import Image

    rng = np.random.default_rng(seed)
    for c in range(classes):
        (root / f"class_{c}").mkdir(parents=True)
        for i in range(per_class):
            w, h = rng.integers(40, 91, 2)
            pixels = rng.integers(0, 120, (h, w, 3), dtype=np.uint8)
            pixels[..., c] += 120
            Image.fromarray(pixels).save(root / f"class_{c}" / f"{i:03d}.jpg", quality=90)
    return root


@pytest.fixture(scope="module")
def folder(tmp_path_factory):
    return write_jpegs(tmp_path_factory.mktemp("jpegs"))


def source(folder, **settings):
    return DataSource("folder", str(folder), resolution=16, **({"workers": 2} | settings))


def test_the_stream_has_the_in_memory_splits_pixels_and_statistics(folder):
    memory, streamed = load(source(folder)), open_data(source(folder, stream="stream"))
    assert isinstance(streamed, FolderStream) and (streamed.num_classes, streamed.channels, streamed.resolution) == (3, 3, 16)
    assert (streamed.mean, streamed.std) == (memory.mean, memory.std)  # 33 training images: all in the sample
    for split in ("train", "val", "test"):
        assert streamed.size(split) == memory.size(split)
        ours, theirs = list(streamed.eval_batches(split, 5)), list(memory.eval_batches(split, 5))
        assert len(ours) == len(theirs)
        assert all(torch.equal(a[0], b[0]) and torch.equal(a[1], b[1]) for a, b in zip(ours, theirs))
    gen_a, gen_b = torch.Generator().manual_seed(3), torch.Generator().manual_seed(3)
    epoch = list(streamed.train_batches(8, gen_a))
    assert len(epoch) == memory.size("train") // 8  # full batches only
    assert all(torch.equal(a[0], b[0]) for a, b in zip(epoch, memory.train_batches(8, gen_b)))  # the same order
    assert torch.equal(streamed.sample(7, 1)[0], memory.sample(7, 1)[0])


def test_a_generated_jpeg_folder_trains_through_the_stream(folder):
    config = TrainConfig(epochs=2, batch_size=8, threads=1, device="cpu")
    streamed = evaluate(SMALL, config, source(folder, stream="stream"))
    memory = evaluate(SMALL, config, source(folder, stream="memory"))
    assert streamed.failure is None and streamed.epochs_run == 2 and streamed.accuracy is not None
    # the same splits, pixels, order and statistics: on the CPU the same run, bit for bit
    assert (streamed.accuracy, streamed.test_accuracy) == (memory.accuracy, memory.test_accuracy)
    strip = lambda m: [{k: v for k, v in dataclasses.asdict(e).items() if k not in TIMING} for e in m.history]
    assert strip(streamed) == strip(memory)


def test_auto_streams_past_the_memory_budget(folder, monkeypatch):
    # 48 images of 3 x 16 x 16 bytes: 36,864 bytes, 3.4e-5 GiB
    assert not streams(source(folder)) and isinstance(open_data(source(folder)), type(load(source(folder))))
    assert streams(source(folder, memory_gib=3e-5)) and isinstance(open_data(source(folder, memory_gib=3e-5)), FolderStream)
    assert not streams(source(folder, memory_gib=3e-5, stream="memory"))
    assert not streams(DataSource("synthetic", memory_gib=1e-9))  # only a folder streams
    monkeypatch.setattr(stream_module, "MAX_FOLDER_IMAGES", 47)  # too many images to hold, whatever their size
    assert streams(source(folder))


def test_a_streamed_folder_decodes_at_a_candidates_side(folder):
    streamed = open_folder(source(folder, workers=0))
    wider = streamed.resized(24)
    assert wider.resolution == 24 and (wider.mean, wider.std) == (streamed.mean, streamed.std)
    x, y = next(wider.eval_batches("val", 4))
    assert x.shape == (4, 3, 24, 24) and x.dtype == torch.uint8 and y.dtype == torch.long
    assert streamed.resized(16) is streamed


def test_the_driver_decodes_only_the_statistics_sample_and_pickles_small(folder, monkeypatch):
    decoded = []
    real = stream_module.decode
    monkeypatch.setattr(stream_module, "decode", lambda file, side: decoded.append(file) or real(file, side))
    monkeypatch.setattr(stream_module, "STATS_IMAGES", 5)
    streamed = open_data(source(folder, stream="stream", workers=0))
    assert len(decoded) == 5
    assert len(pickle.dumps(streamed)) < 8_000  # paths, labels, split indices: what Ray sends each trial
    again = pickle.loads(pickle.dumps(streamed.to("cpu")))
    assert torch.equal(next(again.eval_batches("test", 3))[0], next(streamed.eval_batches("test", 3))[0])


@pytest.mark.parametrize("workers", [0, 2])
def test_a_corrupt_file_met_in_training_is_one_line_naming_it(tmp_path, workers):
    root = write_jpegs(tmp_path / "data", per_class=6)
    streamed = open_folder(source(root, workers=workers))
    bad = root / streamed.paths[int(streamed.splits["train"][5])].decode()  # a training image
    bad.write_bytes(b"not a jpeg")
    with pytest.raises(DataError) as err:
        for _ in streamed.train_batches(2, torch.Generator().manual_seed(0)):
            pass
    assert str(err.value) == f"{bad}: not a readable image (UnidentifiedImageError)"


@pytest.mark.parametrize("settings,message", [
    ({"kind": "mnist", "stream": "stream"}, "streaming reads an image folder"),
    ({"kind": "synthetic", "stream": "disk"}, "dataset stream must be one of auto, memory, stream; got 'disk'"),
    ({"kind": "synthetic", "workers": -1}, "workers in \\[0, 64\\]"),
    ({"kind": "synthetic", "memory_gib": 0}, "memory_gib must be positive"),
])
def test_bad_stream_settings_are_one_line(settings, message):
    with pytest.raises(DataError, match=message):
        DataSource(**settings)


def test_the_supernet_trains_on_a_streamed_folder_as_in_memory(folder, tmp_path):
    runs = [train_supernet(tiny_job(tmp_path / mode, epochs=1, data=source(folder, stream=mode)), space=TINY)
            for mode in ("stream", "memory")]
    a, b = (run.supernet.state_dict() for run in runs)
    assert all(torch.equal(a[k], b[k]) for k in a)
    assert runs[0].history[0]["largest"] == runs[1].history[0]["largest"]


def test_a_search_on_a_supernet_of_a_streamed_folder_scores_as_in_memory(folder, tmp_path, monkeypatch):
    from nas.search import oneshot
    from nas.search.export import export

    monkeypatch.setattr(oneshot, "uses_ray", lambda config, cpus: False)  # scored in this process
    scores = {}
    for mode in ("stream", "memory"):
        train_supernet(tiny_job(tmp_path / f"supernet_{mode}", epochs=1, data=source(folder, stream=mode)), space=TINY)
        run = tmp_path / f"search_{mode}"
        # decoding processes are this call's (not the supernet's data): no refusal
        search(SearchConfig(space="tiny_elastic", supernet=str(tmp_path / f"supernet_{mode}"), budget=10**9, trials=3,
                            strategy="random", run_dir=str(run), data=source(folder, stream=mode, workers=0),
                            train=TrainConfig(epochs=1, batch_size=8, threads=1)))
        trials = optuna.load_study(study_name="nas", storage=f"sqlite:///{run / 'study.db'}").get_trials()
        scores[mode] = {t.user_attrs["digest"]: t.values for t in trials if t.user_attrs["status"] == "trained"}
        assert len(scores[mode]) == 3
        last = max(t.number for t in trials if t.user_attrs["status"] == "trained")
        assert export(run, trial=last).source.inherited is not None  # any trial, with the weights it inherits
    assert scores["stream"] == scores["memory"]  # the same supernet, validation images and statistics


def test_nas_train_streams_with_the_flag(folder, capsys, tmp_path):
    spec = tmp_path / "small.json"
    spec.write_text(SMALL.to_json())
    code = main(["train", str(spec), "--data", f"folder:{folder}", "--data-resolution", "16", "--data-stream", "stream",
                 "--data-workers", "1", "--epochs", "1", "--batch-size", "8", "--device", "cpu"])
    out = capsys.readouterr().out
    assert code == 0 and "trained 1 epoch(s) at 16x16 on cpu" in out


def test_a_checkpointed_training_on_a_streamed_folder_resumes_with_other_workers(folder, tmp_path):
    from nas.training.checkpoint import read_checkpoint, resume_conflicts, train
    from nas.training.evaluate import TrainJob

    config = TrainConfig(epochs=2, batch_size=8, threads=1)
    whole = train(SMALL, TrainJob(config, source(folder, stream="stream"), str(tmp_path / "whole")), "small")

    def stop(report):
        if report.epoch == 1:
            raise KeyboardInterrupt  # after epoch 1's checkpoint
    with pytest.raises(KeyboardInterrupt):
        train(SMALL, TrainJob(config, source(folder, stream="stream"), str(tmp_path / "run")), "small", report=stop)
    found = read_checkpoint(tmp_path / "run")
    assert found.dataset["images"] == read_checkpoint(tmp_path / "whole").dataset["images"]
    # decoding processes and the memory budget are where a run computes: a resume may change them
    assert resume_conflicts(found, {"data_workers": 0, "data_memory_gib": 1.0}) == []
    assert resume_conflicts(found, {"data_stream": "memory"}) == ["data_stream (the run has 'stream')"]
    resumed = train(None, TrainJob(config, source(folder, workers=0), str(tmp_path / "run")), resume=True)
    a, b = read_checkpoint(tmp_path / "run").state["model"], read_checkpoint(tmp_path / "whole").state["model"]
    assert resumed.resumed == 1 and all(torch.equal(a[k], b[k]) for k in a)
    assert resumed.metrics.test_accuracy == whole.metrics.test_accuracy
    assert read_checkpoint(tmp_path / "run").data.workers == 0  # this call's


def test_a_search_streams_each_trial(folder, tmp_path, ray_local, plain_space):
    data = source(folder, stream="stream", workers=1)
    config = SearchConfig(space="plain", budget=3_000_000, trials=2, strategy="random", scheduler="fifo", data=data,
                          train=TrainConfig(epochs=1, batch_size=8, threads=1), run_dir=str(tmp_path / "run"),
                          max_concurrent=1, seed_backbones=False)
    search(config)
    trials = optuna.load_study(study_name="nas", storage=f"sqlite:///{tmp_path / 'run' / 'study.db'}").get_trials()
    trained = [t for t in trials if t.user_attrs.get("status") == "trained"]
    assert len(trained) == 2, [t.user_attrs.get("failure") for t in trials]


@pytest.mark.cuda
@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")
def test_a_streamed_folder_trains_on_cuda(folder):
    # batches decoded by the workers into pinned memory, copied without blocking, augmented on the GPU
    config = TrainConfig(epochs=2, batch_size=8, threads=1, device="cuda")
    metrics = evaluate(SMALL, config, source(folder, stream="stream"))
    assert metrics.failure is None and metrics.device == "cuda" and metrics.accuracy is not None
    streamed = open_data(source(folder, stream="stream"), "cuda")
    x, y = next(streamed.train_batches(8, torch.Generator(device="cuda").manual_seed(0)))
    assert x.device.type == y.device.type == "cuda" and x.dtype == torch.uint8
