"""Networks by the names users have for them: a spec JSON file, a backbone name (`nas.specs.load_spec`), a
trial of a search run (`RUN#TRIAL`), or a spec digest (`RUN#DIGEST`, or a bare DIGEST).

- `RUN#N`: trial N of the search in run directory RUN (the number in `trials.csv` and the front table), any
  trial that proposed a network: trained, failed, over the budget, a duplicate, running.
- `RUN#DIGEST`: the network of RUN whose digest (`digest` in `trials.csv`, the front table's `digest`) starts
  with DIGEST, at least 6 hex digits; all digits is a trial number.
- a bare DIGEST: looked up in the search given as `run` (`nas train DIGEST --run RUN`), else among the named
  backbones (`nas count NAME` prints a backbone's digest). A digest of `nas sample` names a network that is
  nowhere on disk: `nas sample --save DIR` writes each as `DIR/DIGEST.json`, a spec file.

Every reference that names nothing is one line (RefError) saying what there is instead.
"""
from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from nas.specs import load_spec
from search_spaces import backbones
from search_spaces.errors import NasError
from search_spaces.spec import NetSpec, from_json

MIN_PREFIX = 6
_HEX = re.compile(rf"[0-9a-f]{{{MIN_PREFIX},64}}")


class RefError(NasError):
    """A reference to a network names none, or more than one."""


@dataclass(frozen=True)
class SpecRef:
    """A network a user named: its spec, the reference as typed, and the search run it came from, if any."""

    spec: NetSpec
    text: str
    run_dir: Path | None = None
    trial: int | None = None
    info: dict[str, Any] = field(default_factory=dict)  # the run's run.json

    @property
    def label(self) -> str:
        """A name for files made from it: `trial3_1a2b3c4d5e6f`, a backbone's name, or the digest's start."""
        digest = self.spec.digest()[:12]
        if self.trial is not None:
            return f"trial{self.trial}_{digest}"
        return self.text if self.text in backbones.TABLE else digest


def resolve(text: str, run: str | Path | None = None, storage: str | None = None) -> SpecRef:
    """The network `text` names (see the module's docstring); `run` is the search a bare digest is looked up
    in, `storage` its study URL where run.json has none."""
    if Path(text).is_file() or text in backbones.TABLE:
        return SpecRef(load_spec(text), text)
    if "#" in text:
        run_dir, _, key = text.rpartition("#")
        if not run_dir or not key:
            raise RefError(f"{text!r}: a trial of a search is RUN#TRIAL or RUN#DIGEST (e.g. runs/search#3)")
        if key.isdigit():
            return trial_spec(run_dir, int(key), storage, text)
        return digest_spec(run_dir, key, storage, text)
    if _HEX.fullmatch(text):
        if run is not None:
            return digest_spec(run, text, storage, text)
        return _backbone_digest(text)
    if run is not None:
        raise RefError(f"{text!r} is not a digest to look up in {run} (at least {MIN_PREFIX} hex digits)")
    return SpecRef(load_spec(text), text)  # its error names both kinds it could have been


def trial_spec(run_dir: str | Path, number: int, storage: str | None = None, text: str | None = None) -> SpecRef:
    """The network trial `number` of the search in `run_dir` proposed."""
    trials, info = _trials(run_dir, storage)
    found = [t for t in trials if t.number == number]
    if not found:
        span = f"trials 0 to {len(trials) - 1}" if trials else "no trials"
        raise RefError(f"{run_dir} has {span}; there is no trial {number}")
    return SpecRef(_spec_of(found[0], run_dir), text or f"{run_dir}#{number}", Path(run_dir), number, info)


def digest_spec(run_dir: str | Path, prefix: str, storage: str | None = None, text: str | None = None) -> SpecRef:
    """The network of the search in `run_dir` whose digest starts with `prefix` (the first trial that
    proposed it)."""
    from nas.search.records import DIGEST

    prefix = _checked_prefix(prefix)
    trials, info = _trials(run_dir, storage)
    matches: dict[str, Any] = {}
    for t in trials:
        digest = t.user_attrs.get(DIGEST) or ""
        if digest.startswith(prefix):
            matches.setdefault(digest, t)
    if not matches:
        raise RefError(f"no network of {run_dir} has a digest starting {prefix} ({len(trials)} trials; "
                       "nas report shows their digests, trials.csv has them whole)")
    if len(matches) > 1:
        raise RefError(f"digest prefix {prefix} is ambiguous in {run_dir}: " + ", ".join(
            f"{d[:16]} (trial {t.number})" for d, t in list(matches.items())[:5]) + "; type more of it")
    trial = next(iter(matches.values()))
    return SpecRef(_spec_of(trial, run_dir), text or f"{run_dir}#{prefix}", Path(run_dir), trial.number, info)


def run_info(run_dir: str | Path) -> dict[str, Any]:
    """The settings a search wrote to `run_dir/config.json` (its data, its recipe); {} where there are none."""
    try:
        stored = json.loads((Path(run_dir) / "config.json").read_text())
    except (OSError, ValueError):
        return {}
    return stored if isinstance(stored, dict) else {}


def _checked_prefix(prefix: str) -> str:
    prefix = prefix.lower()
    if not _HEX.fullmatch(prefix):
        raise RefError(f"{prefix!r} is neither a trial number nor a digest (at least {MIN_PREFIX} hex digits)")
    return prefix


def _trials(run_dir: str | Path, storage: str | None) -> tuple[list, dict[str, Any]]:
    from nas.search.study import load_run

    study, info = load_run(run_dir, storage)
    return study.get_trials(deepcopy=False), info


def _spec_of(trial: Any, run_dir: str | Path) -> NetSpec:
    from nas.search.records import FAILURE, SPEC, STATUS

    spec = trial.user_attrs.get(SPEC)
    if not spec:
        status = trial.user_attrs.get(STATUS) or trial.state.name.lower()
        reason = trial.user_attrs.get(FAILURE)
        raise RefError(f"trial {trial.number} of {run_dir} proposed no network (status {status}"
                       + (f": {reason}" if reason else "") + ")")
    return from_json(spec)


def _backbone_digest(prefix: str) -> SpecRef:
    found = [name for name in backbones.names() if backbones.get(name).digest().startswith(prefix)]
    if len(found) == 1:
        return SpecRef(backbones.get(found[0]), found[0])
    if found:
        raise RefError(f"digest prefix {prefix} is ambiguous among the named backbones ({', '.join(found[:5])})")
    raise RefError(f"no named backbone has a digest starting {prefix}; a digest of a search is RUN#DIGEST (or "
                   "--run RUN), one of nas sample is written by nas sample --save DIR")
