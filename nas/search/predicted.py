"""The predicted part of a search on a supernet (`nas search --supernet DIR --predictor N`): after the first N
candidates are scored on the supernet, the rest of `--trials` are answered by an accuracy predictor
(`nas.search.predictor`) in `ROUNDS` rounds. Each round fits the predictor on every supernet score so far
(written to the run directory's predictor.json), lets the strategy search its share of the candidates on
the predictions in memory, and scores `PER_ROUND` members of the predicted front on the supernet: the
cheapest, the most accurate and those nearest evenly spaced costs between. Only those scored enter the
study, with what the predictor said beside (`PREDICTED`), so every accuracy in it is the supernet's.

Why rounds: a search on a predictor finds where the predictor errs upward (its best predictions lie where
it extrapolates), and a single fit keeps that error to the end. Scoring a few of them and refitting
corrects it where the search goes.
"""
from __future__ import annotations

import dataclasses
import itertools
import json
import time
from pathlib import Path
from typing import Any, Callable

import optuna
from optuna.trial import TrialState

from nas.search.config import SearchConfig, SearchError
from nas.search.loop import OneShot
from nas.search.predictor import MIN_SCORES, PREDICTED, Predictor, fit
from nas.search.records import OBJECTIVES, SPEC, STATUS, TrialRecord, TrialStatus, pareto_front, records
from nas.search.scoring import Pool
from nas.search.searcher import Progress
from search_spaces.errors import SpaceError, SpecError
from search_spaces.spaces.base import Space
from search_spaces.spec import from_json

ROUNDS = 4  # fits of the predictor after the first scores
PER_ROUND = 4  # members of each round's predicted front scored on the supernet


class Predicting:
    """A pool (`scoring.Pool`'s interface) that answers each candidate from an accuracy predictor, at once."""

    use_ray, slots = False, 1

    def __init__(self, predictor: Predictor, space: Space):
        self.predictor, self.space, self.pending = predictor, space, {}
        self.count = itertools.count()

    def submit(self, key: Any, kind: str, args: tuple) -> None:
        self.pending[next(self.count)] = key

    def wait(self) -> tuple[Any, Any]:
        key = self.pending.pop(next(iter(self.pending)))
        start, out = time.process_time(), []
        for spec in key[1]:
            try:
                out.append(self.predictor.predict(self.space, spec))
            except (SpaceError, SpecError) as err:
                out.append(f"{err.__class__.__name__}: {err}")
        return key, (out, time.process_time() - start)

    def cancel(self) -> list[Any]:
        keys = list(self.pending.values())
        self.pending.clear()
        return keys


def spread(front: list[TrialRecord], key: str, k: int) -> list[TrialRecord]:
    """Up to k members of a front: those nearest k evenly spaced costs from its cheapest to its costliest
    (its most accurate), each once."""
    costs = sorted(getattr(r, key) for r in front)
    chosen: list[TrialRecord] = []
    for i in range(min(k, len(front))):
        target = costs[0] + (costs[-1] - costs[0]) * (i / (k - 1) if k > 1 else 1)
        chosen.append(min((r for r in front if r not in chosen), key=lambda r: abs(getattr(r, key) - target)))
    return chosen


def predicted_rounds(study: optuna.Study, config: SearchConfig, space: Space, fixed: dict[str, Any], pool: Pool,
                     progress: Callable[[Progress], None] | None, num_classes: int | None, loops: list[OneShot]
                     ) -> tuple[int | None, dict[str, Any]]:
    """The rounds (see the module's notes), each scoring loop appended to `loops`: (None, or the candidates an
    interrupt left in flight; what the summary records)."""
    rest = config.trials - loops[-1].spent
    info: dict[str, Any] = {"rounds": 0, "predicted": 0, "verified": 0, "cpu_seconds": 0.0}
    shown = None if progress is None else lambda p: progress(dataclasses.replace(
        p, training_runs=p.training_runs + info["predicted"], total=config.trials))
    for r in range(ROUNDS):
        share = rest * (r + 1) // ROUNDS - rest * r // ROUNDS
        chosen, predictor, guess = _round(study, config, space, fixed, shown, num_classes, share)
        info |= {"rounds": r + 1, "fitted_on": predictor.fitted_on, "alpha": predictor.alpha,
                 "loo_tau": predictor.loo_tau, "loo_rmse": predictor.loo_rmse}
        info["predicted"] += guess.scored
        info["cpu_seconds"] += guess.cpu_seconds
        info["verified"] += len(chosen)
        loops.append(OneShot(study, config, space, fixed, pool, shown, num_classes))
        loops[-1].config = dataclasses.replace(config, trials=loops[-1].spent + len(loops[-1].recorder.waiting))
        interrupted = loops[-1].run()
        if interrupted is not None:
            return interrupted, info
    return None, info


def _round(study: optuna.Study, config: SearchConfig, space: Space, fixed: dict[str, Any],
           progress: Callable[[Progress], None] | None, num_classes: int | None, share: int
           ) -> tuple[list[TrialRecord], Predictor, OneShot]:
    """Fit, search `share` candidates on the predictions in memory, and queue the chosen ones in the study."""
    done = [t for t in study.get_trials(deepcopy=False) if t.state.is_finished()]
    scored = [t for t in done if t.state == TrialState.COMPLETE and t.user_attrs.get(STATUS) == TrialStatus.TRAINED.value]
    if len(scored) < MIN_SCORES:
        raise SearchError(f"{len(scored)} candidate(s) scored on the supernet, and a predictor fits on at least "
                          f"{MIN_SCORES}: give a larger --predictor")
    predictor = fit(space, [from_json(t.user_attrs[SPEC]) for t in scored], [t.values[0] for t in scored])
    (Path(config.run_dir) / "predictor.json").write_text(json.dumps(predictor.to_dict(), indent=1) + "\n")
    memory = optuna.create_study(directions=["maximize", "minimize"])
    memory.add_trials(done)
    guess = OneShot(memory, dataclasses.replace(config, seed=config.seed + len(done)), space, fixed,
                    Predicting(predictor, space), progress, num_classes, "predictor")
    guess.config = dataclasses.replace(guess.config, trials=guess.spent + share)
    if guess.run() is not None:
        raise KeyboardInterrupt
    key = OBJECTIVES[config.objective]
    chosen = spread(pareto_front(records(memory)[len(done):], key), key, PER_ROUND)
    by_number = {t.number: t for t in memory.get_trials(deepcopy=False)}
    for r in chosen:
        study.enqueue_trial(by_number[r.number].params, user_attrs={PREDICTED: r.accuracy})
    return chosen, predictor, guess
