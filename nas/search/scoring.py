"""Where a search on a supernet computes: batches of candidates scored on the supernet, and the few networks
it retrains stand-alone, in this process or in Ray tasks spread over the CPUs (or GPUs) of a local Ray or a
cluster.

A task is not a Ray Tune trial: it scores a whole batch, and what every task needs (the supernet's weights,
the calibration sample, the validation and test images) goes into Ray's object store once. Each worker
process builds the supernet from it on its first task and keeps it for the next ones (Ray reuses its
worker processes), so a task costs its scoring and a few milliseconds besides.
"""
from __future__ import annotations

import dataclasses
import itertools
import time
from dataclasses import dataclass
from typing import Any

import optuna
import torch

from nas.search.config import SearchConfig
from nas.search.records import (
    OBJECTIVES,
    STANDALONE_ACCURACY,
    STANDALONE_TEST_ACCURACY,
    TEST_ACCURACY,
    TrialStatus,
    later_attrs,
    pareto_front,
    records,
    set_later,
)
from nas.search.trial import proxy_side
from nas.training.data import Data
from nas.training.device import choose
from nas.training.evaluate import evaluate
from nas.training.oneshot import score
from nas.training.stream import Batches, open_data
from nas.training.train import TrainConfig
from search_spaces.spaces.elastic import ElasticSpace
from search_spaces.spec import NetSpec, from_json
from search_spaces.supernet import Supernet


@dataclass(frozen=True)
class Shared:
    """What every scoring task needs, sent once: the supernet (its space, data shape and weights) and the
    data for scoring (the calibration sample in place of the training images, the validation and test
    images), with the settings of a score."""

    space: dict[str, Any]
    in_channels: int
    num_classes: int
    weights: dict[str, torch.Tensor] | None  # None in this process, which has the supernet itself
    data: Data
    batch_size: int
    reference: int
    device: str  # cpu, cuda or auto (a task granted a GPU uses it)


def shared(supernet: Supernet, data: Batches, calibration: torch.Tensor, batch_size: int, reference: int,
           device: str) -> Shared:
    """The scoring settings of a supernet and the search's data in memory (its training images replaced by the
    calibration sample: scoring needs no others; a streamed folder's validation and test images decoded here,
    once), without the weights."""
    if isinstance(data, Data):
        trimmed = dataclasses.replace(data, train_x=calibration, train_y=data.train_y[:len(calibration)])
    else:
        (val_x, val_y), (test_x, test_y) = _decoded(data, "val"), _decoded(data, "test")
        labels = torch.zeros(len(calibration), dtype=torch.long, device=calibration.device)  # never read
        trimmed = Data(data.name, calibration, labels, val_x, val_y, test_x, test_y, data.num_classes, data.mean,
                       data.std, data.flip)
    return Shared(supernet.space.to_dict(), supernet.in_channels, supernet.num_classes, None, trimmed, batch_size,
                  reference, device)


def _decoded(data: Batches, split: str) -> tuple[torch.Tensor, torch.Tensor]:
    """A split's images and labels, whole."""
    parts = list(data.eval_batches(split, 1024))
    return torch.cat([x for x, _ in parts]), torch.cat([y for _, y in parts])


BATCH = 8  # candidates a Ray task scores
_CACHE: dict[str, Any] = {}  # per worker process: the supernet and data of the search it last served


def _scorer(token: str, payload: list, granted: int) -> tuple[Supernet, Shared]:
    """The supernet and payload of search `token` on this worker's device, built on its first task."""
    if _CACHE.get("token") != token:
        import ray

        job: Shared = ray.get(payload[0])
        device = choose(job.device, granted)
        net = Supernet(ElasticSpace.from_dict(job.space), job.in_channels, job.num_classes)
        net.load_state_dict(job.weights)
        _CACHE.clear()
        _CACHE.update(token=token, net=net.to(device).eval(), job=dataclasses.replace(job, data=job.data.to(device)))
    return _CACHE["net"], _CACHE["job"]


def score_specs(net: Supernet, job: Shared, specs: list[str], split: str = "val") -> tuple[list[Any], float]:
    """Each spec's accuracy on `split` (or the failure's text), and the CPU seconds the batch took."""
    start, out = time.process_time(), []
    for text in specs:
        try:
            out.append(score(net, from_json(text), job.data, True, job.data.train_x, job.batch_size, job.reference,
                             split))
        except Exception as err:  # a candidate that cannot be scored is recorded as failed, never a crash
            out.append(f"{err.__class__.__name__}: {str(err).splitlines()[0][:200] if str(err) else ''}")
    return out, time.process_time() - start


def retrain_spec(spec: str, train: TrainConfig, data: Batches, reference: int | None) -> dict[str, Any]:
    """Train one network stand-alone with the proxy, on the data as a search's trial sees it."""
    net = from_json(spec)
    if reference:
        data = data.resized(proxy_side(data.resolution, net.resolution, reference))
    start = time.process_time()
    metrics = evaluate(net, train, data)
    return {"accuracy": metrics.accuracy, "test_accuracy": metrics.test_accuracy, "failure": metrics.failure,
            "train_seconds": metrics.train_seconds, "cpu_seconds": time.process_time() - start}


def _task(token: str, payload: list, threads: int, kind: str, args: tuple) -> Any:
    """One Ray task: a batch of scores ('score') or one stand-alone training ('retrain')."""
    import ray

    torch.set_num_threads(threads)
    granted = len(ray.get_gpu_ids())
    if kind == "score":
        return score_specs(*_scorer(token, payload, granted), *args)
    spec, train, data, reference = args
    train = dataclasses.replace(train, device=choose(train.device, granted).type)
    return retrain_spec(spec, train, ray.get(data[0]), reference)


class Pool:
    """Work in flight: `submit` a job under a key, `wait` for the next one done. In this process (run when
    waited for, oldest first) or, with `use_ray`, as Ray tasks of `cpus` CPUs and `gpus` GPUs each, `slots`
    at once. Jobs: ('score', (specs, split)) on the supernet, ('retrain', (spec, recipe, data, reference))."""

    def __init__(self, token: str, net: Supernet, job: Shared, slots: int, cpus: float = 1, gpus: float = 0,
                 threads: int = 1, use_ray: bool = False):
        self.token, self.slots, self.use_ray, self.threads = token, max(1, slots), use_ray, threads
        self.pending: dict[Any, Any] = {}
        self.count = itertools.count()
        self.data_ref: list | None = None
        if use_ray:
            import ray

            weights = {k: v.detach().cpu() for k, v in net.state_dict().items()}
            # boxed in a list, so that a task fetches it only when its worker has no copy yet
            self.payload = [ray.put(dataclasses.replace(job, weights=weights, data=job.data.to("cpu")))]
            self.remote = ray.remote(_task).options(num_cpus=cpus, num_gpus=gpus, max_retries=0)
        else:
            self.device = choose(job.device)
            self.net = net.to(self.device).eval()
            self.job = dataclasses.replace(job, data=job.data.to(self.device))

    def submit(self, key: Any, kind: str, args: tuple) -> None:
        if not self.use_ray:
            self.pending[next(self.count)] = (key, kind, args)
            return
        if kind == "retrain":
            if self.data_ref is None:
                import ray

                self.data_ref = [ray.put(args[2])]
            args = (args[0], args[1], self.data_ref, args[3])
        self.pending[self.remote.remote(self.token, self.payload, self.threads, kind, args)] = key

    def wait(self) -> tuple[Any, Any]:
        """The key and result of a job done."""
        if self.use_ray:
            import ray

            ready, _ = ray.wait(list(self.pending), num_returns=1)
            return self.pending.pop(ready[0]), ray.get(ready[0])
        key, kind, args = self.pending.pop(next(iter(self.pending)))
        torch.set_num_threads(self.threads)
        if kind == "score":
            return key, score_specs(self.net, self.job, *args)
        spec, train, data, reference = args
        return key, retrain_spec(spec, dataclasses.replace(train, device=self.device.type), data, reference)

    def cancel(self) -> list[Any]:
        """Drop the jobs in flight; their keys."""
        if self.use_ray:
            import ray

            for ref in self.pending:
                ray.cancel(ref, force=True)
            keys = list(self.pending.values())
        else:
            keys = [key for key, _, _ in self.pending.values()]
        self.pending.clear()
        return keys


@dataclass(frozen=True)
class Inherited:
    """A network of a search on a supernet with the weights it inherits: `build(spec)` for the supernet's
    data (its channels and classes), batch norms recalibrated as when it was scored, in eval mode."""

    module: torch.nn.Module
    spec: NetSpec  # as built: the supernet's input channels and classes
    side: int  # the image side it was scored at (its proxy side on the supernet's data)
    supernet: str  # the supernet's run directory

    def example(self) -> torch.Tensor:
        return torch.zeros(1, self.spec.in_channels, self.side, self.side)

    def state(self) -> dict[str, Any]:
        """What `nas export` writes beside the spec: plain data, read back with torch.load(weights_only=True)."""
        return {"format": 1, "spec": self.spec.to_json(indent=None), "side": self.side, "supernet": self.supernet,
                "state_dict": {k: v.contiguous() for k, v in self.module.state_dict().items()}}


def inherited_network(supernet_dir: str, spec: NetSpec) -> Inherited:
    """The network `spec` inherits from the trained supernet in `supernet_dir`, as a search scored it."""
    from nas.training.oneshot import calibration_images, inherited
    from nas.training.oneshot import proxy_side as side_of
    from nas.training.supernet import load_supernet

    trained = load_supernet(supernet_dir)
    data = open_data(trained.job.data)
    sample = calibration_images(data, trained.job.calibration_images)
    reference = trained.job.reference_resolution
    module = inherited(trained.supernet, spec, data, True, sample, trained.job.train.eval_batch_size, reference)
    return Inherited(module.to(memory_format=torch.contiguous_format), trained.supernet.adapt(spec),
                     side_of(spec, data, reference), str(supernet_dir))


def finish(study: optuna.Study, config: SearchConfig, pool: Pool, data: Batches) -> list[dict[str, Any]]:
    """Score the front's members on the test images and retrain the `config.retrain` best stand-alone (those
    not done by an earlier run on the study); record both beside the trials. Returns the retrained rows."""
    key, later = OBJECTIVES[config.objective], later_attrs(study)
    rows = records(study)
    tested = [r for r in pareto_front(rows, key) if TEST_ACCURACY not in later.get(r.number, {})]
    for start in range(0, len(tested), BATCH):
        chunk = tested[start:start + BATCH]
        pool.submit(("test", chunk), "score", ([r.spec for r in chunk], "test"))
    best: dict[str, Any] = {}
    for r in sorted((r for r in rows if r.status == TrialStatus.TRAINED and r.accuracy is not None),
                    key=lambda r: (-r.accuracy, getattr(r, key))):
        best.setdefault(r.digest, r)
    chosen = list(best.values())[:config.retrain]
    for r in chosen:
        if STANDALONE_ACCURACY not in later.get(r.number, {}):
            pool.submit(("retrain", [r]), "retrain", (r.spec, config.train, data, config.reference_resolution))
    while pool.pending:  # each result recorded as it comes: an interrupt keeps what is done
        (kind, members), result = pool.wait()
        if kind == "test":
            set_later(study, {r.number: {TEST_ACCURACY: value} for r, value in zip(members, result[0])
                              if not isinstance(value, str)})
        else:
            set_later(study, {members[0].number: {
                STANDALONE_ACCURACY: result["accuracy"], STANDALONE_TEST_ACCURACY: result["test_accuracy"],
                "standalone_failure": result["failure"], "standalone_seconds": result["train_seconds"]}})
    later = later_attrs(study)
    return [{"number": r.number, "digest": r.digest, "macs": r.macs, "params": r.params,
             "supernet_accuracy": r.accuracy, **{k: later.get(r.number, {}).get(k) for k in (
                 STANDALONE_ACCURACY, STANDALONE_TEST_ACCURACY, "standalone_failure", "standalone_seconds")}}
            for r in chosen]
