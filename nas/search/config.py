"""Every setting of a search in one place: `SearchConfig` (with the training recipe and the data nested),
the flat names the command line and `search(**settings)` use for them, and config files.

Flat names: a SearchConfig field by its own name (`trials`), a TrainConfig field by its own name unless a
search field has it (`epochs`, `lr`; `train_seed`), a DataSource field with `data_` before it
(`data_holdout`); `data` itself takes what `--data` takes ('cifar10:DIR') or a DataSource.
"""
from __future__ import annotations

import dataclasses
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from nas.budget import parse_budget
from nas.search.predictor import MIN_SCORES
from nas.search.records import OBJECTIVES
from nas.settings import Flat, flat_fields, replace_flat, setting
from nas.training.data import DATA_HELP, DataSource, parse_data
from nas.training.train import TrainConfig
from scaling.compound import CompoundScaling
from search_spaces.errors import NasError

STRATEGIES = ("evolution", "tpe", "nsga2", "random")
SCHEDULERS = ("asha", "fifo")


class SearchError(NasError):
    """A search setting is wrong, or the run directory / study does not allow what was asked."""


@dataclass(frozen=True)
class SearchConfig:
    """Every setting of a search. The defaults finish in about 10 minutes on 2 CPU cores."""

    space: str = setting("mobile", "search space (see `nas spaces`)")
    budget: int = setting(300_000_000, "FLOPs (multiply-adds) of the deployed network, e.g. 300M, 300MFLOPs, "
                          "0.3G; over-budget candidates are never trained", parse=parse_budget, shown="300MFLOPs")
    trials: int = setting(12, "training runs: trained or failed (over-budget and duplicate proposals do not count)")
    strategy: str = setting("evolution", "evolution, tpe, nsga2 or random")
    objective: str = setting("flops", "the second objective, minimised: flops, params or latency")
    scheduler: str = setting("asha", "early stopping on per-epoch accuracy: asha or fifo (none)")
    seed: int = setting(0, "seed of the strategy's proposals")
    run_dir: str = setting("runs/search", "where the study and the results go")
    storage: str | None = setting(None, "SQLAlchemy URL of the study (default: SQLite in the run directory)")
    study_name: str = setting("nas", "the study's name in its storage")
    address: str | None = setting(None, "Ray cluster address (default: a local Ray embedded in this process)")
    cpus_per_trial: float = setting(1.0, "CPUs Ray gives each trial")
    gpus_per_trial: float = setting(0.0, "GPUs Ray gives each trial, at most 1 (0.25: four trials share a GPU); "
                                    "with --device auto (the default) a trial granted a GPU trains on it")
    max_concurrent: int = setting(2, "trials trained at the same time")
    population: int = setting(6, "evolution: the aging population of most recent trained trials")
    sample_size: int = setting(3, "evolution: tournament size")
    resume: bool = setting(False, "continue the study (after Ctrl-C, SIGTERM or a crash), or join it as another worker")
    seed_backbones: bool = setting(True, "first train the named backbones that fit the budget (at most half the runs)")
    fix: tuple[str, ...] = setting((), "hold these space parameters fixed, NAME=VALUE each (e.g. norm=true); "
                                   "added to the space's default distribution (see `nas spaces`)")
    free: tuple[str, ...] = setting((), "draw these parameters that the space's default distribution holds "
                                    "fixed (e.g. norm; all: every one)")
    max_proposals: int = setting(2000, "stop after this many proposals that train nothing (over budget, invalid, "
                                 "duplicate)")
    supernet: str | None = setting(None, "run directory of a trained supernet (`nas supernet train`): candidates are "
                                   "scored on it, with the weights they inherit and BN recalibrated, instead of "
                                   "trained; --trials counts the candidates scored, --space must be the supernet's, "
                                   "the data is the supernet's")
    retrain: int = setting(0, "with --supernet: after the search, train the K best by supernet accuracy stand-alone "
                              "with the proxy and record their accuracy beside")
    predictor: int = setting(0, "with --supernet: score the first N candidates on the supernet, fit an accuracy "
                                "predictor to them (ridge regression on depths, kernels, expansions, resolution and "
                                "FLOPs) and answer the rest of --trials with its predictions, in 4 rounds that each "
                                "score 4 of the predicted front on the supernet and refit. 0: score every candidate")
    # Each candidate trains at the data's side times its resolution / reference_resolution (a 256 px network
    # trains at 32 * 256 / 224 = 37 px on 32 px data), so resolution choices still matter in the proxy. A
    # network whose feature map would vanish at that side (AlexNet) trains at the smallest larger side it
    # accepts (`nas.training.evaluate.adapt`).
    reference_resolution: int | None = setting(224, "a candidate trains at the data's side times its resolution "
                                               "over this; None: every candidate at the data's side")
    train: TrainConfig = setting(help="the proxy training recipe", factory=TrainConfig, cli=False)
    data: DataSource = setting(help=DATA_HELP, factory=DataSource, parse=parse_data, shown="mnist")

    def __post_init__(self) -> None:
        for name, value, allowed in (("strategy", self.strategy, STRATEGIES), ("objective", self.objective, OBJECTIVES),
                                     ("scheduler", self.scheduler, SCHEDULERS)):
            if value not in allowed:
                raise SearchError(f"unknown {name} {value!r}; expected one of {', '.join(allowed)}")
        checks = ((self.trials >= 1, "trials must be at least 1"), (self.budget >= 1, "budget must be positive"),
                  (self.cpus_per_trial > 0, "cpus per trial must be positive"),
                  (self.gpus_per_trial >= 0, "gpus per trial must be zero or more"),
                  (self.max_concurrent >= 1, "max concurrent trials must be at least 1"),
                  (self.population >= 2 and 1 <= self.sample_size <= self.population,
                   "evolution needs population >= 2 and 1 <= sample_size <= population"),
                  (self.max_proposals >= 1, "max proposals must be at least 1"),
                  (self.retrain >= 0, "retrain must be 0 or more"),
                  (self.predictor == 0 or self.predictor >= MIN_SCORES,
                   f"predictor must be 0 (score every candidate) or at least {MIN_SCORES} scores to fit on"),
                  (self.supernet or not self.predictor, "--predictor predicts supernet scores; give --supernet DIR"),
                  (self.supernet or not self.retrain, "--retrain trains the best of a search on a supernet; give "
                                                      "--supernet DIR (a multi-trial search trains every candidate)"),
                  (not self.supernet or self.objective != "latency", "a search on a supernet ranks accuracy against "
                                                                     "flops or params, not latency"))
        for ok, message in checks:
            if not ok:
                raise SearchError(message)
        self._check_devices()
        if self.objective == "latency" and not self.train.latency:
            object.__setattr__(self, "train", dataclasses.replace(self.train, latency=True))

    def _check_devices(self) -> None:
        """A trial's device follows the GPUs Ray grants it: refuse what cannot work or wastes a GPU."""
        gpus, device = self.gpus_per_trial, self.train.device
        if gpus > 1:
            raise SearchError(f"gpus per trial is {gpus:g}, but a trial trains on one GPU (no data parallelism); "
                              "give at most 1, and run more trials at once with --max-concurrent")
        if device == "cuda" and gpus == 0:
            raise SearchError("device cuda needs a GPU per trial (Ray hides every GPU from a trial granted none): "
                              "give --gpus-per-trial (e.g. 1, or 0.25 to share a GPU among four trials)")
        if device == "cpu" and gpus > 0:
            raise SearchError(f"device cpu with {gpus:g} GPUs per trial reserves GPUs no trial uses; drop "
                              "--gpus-per-trial, or use --device auto")
        if self.objective == "latency" and 0 < gpus < 1:
            raise SearchError(f"a latency search with {gpus:g} GPUs per trial times each network on a GPU that other "
                              "trials are training on; give --gpus-per-trial 1")

    @property
    def trial_device(self) -> str:
        """The kind of device every trial trains on: cuda when each is granted a GPU, else cpu."""
        return "cuda" if self.gpus_per_trial > 0 else "cpu"

    @property
    def storage_url(self) -> str:
        """The study's storage: the given URL, or a SQLite file in the run directory."""
        return self.storage or f"sqlite:///{Path(self.run_dir).resolve() / 'study.db'}"


NESTED: dict[str, type] = {"train": TrainConfig, "data": DataSource}


@dataclass(frozen=True)
class ScaleConfig:
    """The settings of `nas scale` beyond the training a sweep shares with a search (`SearchConfig`)."""

    phi: tuple[float, ...] = setting((0.0, 1.0, 2.0, 3.0), "phi values to sweep")
    alpha: float = setting(1.2, "depth coefficient")
    beta: float = setting(1.1, "width coefficient")
    gamma: float = setting(1.15, "resolution coefficient")
    to: int | None = setting(None, "scale to the largest phi within this FLOPs budget, e.g. 1.8GFLOPs",
                             parse=parse_budget)
    train: bool = setting(False, "proxy-train every scaled network")
    search_coefficients: bool = setting(False, "grid-search alpha, beta, gamma at phi = 1, each triple trained")
    trials: int | None = setting(None, "coefficient triples to train (default: the whole feasible grid)")
    run_dir: str = setting("runs/scale", "where the study and the table go")

    @property
    def scaling(self) -> CompoundScaling:
        """The compound-scaling coefficients."""
        return CompoundScaling(self.alpha, self.beta, self.gamma)


# SearchConfig settings a sweep sets itself (`_training_config`), or has no use for (a sweep trains its
# networks): not options of `nas scale`
SWEEP_SETS = ("space", "budget", "trials", "strategy", "objective", "scheduler", "seed_backbones", "population",
              "sample_size", "max_proposals", "run_dir", "supernet", "retrain", "predictor")


def parse_fix(texts: tuple[str, ...] | list[str] | dict[str, Any]) -> dict[str, Any]:
    """{name: value} from NAME=VALUE texts; a value reads as JSON where it can (true, 3, 0.5), else as text."""
    if isinstance(texts, dict):
        return dict(texts)
    fixed = {}
    for text in texts:
        name, sep, value = str(text).partition("=")
        if not sep or not name:
            raise SearchError(f"--fix takes NAME=VALUE (e.g. norm=true, s1.kind=mbconv), got {text!r}")
        try:
            fixed[name] = json.loads(value)
        except ValueError:
            fixed[name] = value
    return fixed


def search_fields() -> dict[str, Flat]:
    """Every setting of a search by the flat name the command line and `search()` use."""
    return flat_fields(SearchConfig, NESTED, unprefixed=("train",))


def resolve(base: SearchConfig | None = None, **settings: Any) -> SearchConfig:
    """`base` (default: the defaults) with `settings` by flat name; a value given as text is parsed as the
    command line parses it ('300MFLOPs', 'cifar10:DIR'). TypeError for an unknown name."""
    return replace_flat(base or SearchConfig(), search_fields(), settings)


def to_dict(config: SearchConfig) -> dict[str, Any]:
    """The config as nested plain data (what `config.json` in a run directory holds)."""
    return dataclasses.asdict(config)


def from_dict(data: dict[str, Any], where: str = "config") -> dict[str, Any]:
    """Flat settings from nested data (`to_dict`'s form, or flat names): what `resolve` takes."""
    if not isinstance(data, dict):
        raise SearchError(f"{where}: expected a JSON object (or TOML table) of search settings")
    flat: dict[str, Any] = {}
    for name, value in data.items():
        if name in NESTED and isinstance(value, dict):
            inner = {f.name for f in dataclasses.fields(NESTED[name])}
            for key, item in value.items():
                if key not in inner:
                    raise SearchError(f"{where}: unknown {name} setting {key!r}; known: {', '.join(sorted(inner))}")
                flat[_flat_name(name, key)] = item
        else:
            flat[name] = value
    known = search_fields()
    unknown = sorted(set(flat) - set(known))
    if unknown:
        raise SearchError(f"{where}: unknown setting(s) {', '.join(unknown)}; see `nas search --help`")
    return flat


def _flat_name(owner: str, name: str) -> str:
    return next(k for k, s in search_fields().items() if s.owner == owner and s.field.name == name)


def read_config(path: str | Path) -> dict[str, Any]:
    """Flat settings from a JSON or TOML file (a run's `config.json` repeats that run)."""
    path = Path(path)
    if not path.is_file():
        raise SearchError(f"config file {path} does not exist; give a JSON or TOML file of search settings")
    text = path.read_text(encoding="utf-8", errors="replace")
    try:
        if path.suffix.lower() == ".toml":
            import tomllib

            data = tomllib.loads(text)
        else:
            data = json.loads(text)
    except ImportError:
        raise SearchError(f"{path}: TOML config files need Python 3.11 or newer; give a JSON file") from None
    except ValueError as err:  # json.JSONDecodeError and tomllib.TOMLDecodeError are ValueErrors
        raise SearchError(f"{path}: not valid {'TOML' if path.suffix.lower() == '.toml' else 'JSON'} "
                          f"({str(err).splitlines()[0]})") from None
    return from_dict(data, str(path))
