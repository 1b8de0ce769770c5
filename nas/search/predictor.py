"""An accuracy predictor for a search on a supernet (`nas search --supernet DIR --predictor N`), as
Once-for-All searches: fitted on the supernet accuracies of the first N candidates, it answers the rest of
the search in microseconds instead of the supernet's fraction of a second, and the networks it rates best
are then scored on the supernet.

The model is ridge regression on a few whole-network features of a point of an elastic space: the
resolution, the width, each stage's depth, mean kernel and mean expansion, and log FLOPs. A few dozen
scores cannot fit Once-for-All's per-block one-hot MLP (it fits 16,000); on `experiments/oneshot.py`'s
supernet these features predict its scores at leave-one-out Kendall tau 0.49 from 62 (`experiments/oneshot.md`).
The ridge penalty is the one of `ALPHAS` with the least leave-one-out error (closed form), and that
leave-one-out's tau is the predictor's own measure of how far to trust it, printed with the search.
"""
from __future__ import annotations

import math
from dataclasses import asdict, dataclass
from typing import Any, Sequence

import numpy as np

from search_spaces.counting import count
from search_spaces.spaces.elastic import ElasticSpace
from search_spaces.spec import NetSpec

ALPHAS = (1e-3, 1e-2, 0.1, 0.3, 1.0, 3.0, 10.0, 30.0, 100.0, 300.0, 1000.0)  # ridge penalties tried
MIN_SCORES = 10  # fewer scores than this fit nothing worth searching on
PREDICTED = "predicted_accuracy"  # trial attribute: what the predictor said of a network scored to verify it


def features(space: ElasticSpace, spec: NetSpec) -> dict[str, float]:
    """The predictor's inputs for a point of `space`, by name."""
    params = space.encode(spec)
    out = {"resolution": float(params["resolution"]), "width": float(params.get("width", space.widths[0]))}
    for s in range(2, len(space.units) + 2):
        depth = params[f"s{s}.depth"]
        out[f"s{s}.depth"] = float(depth)
        out[f"s{s}.kernel"] = sum(params[f"s{s}.b{j}.kernel_size"] for j in range(1, depth + 1)) / depth
        out[f"s{s}.expand"] = sum(params[f"s{s}.b{j}.expand_ratio"] for j in range(1, depth + 1)) / depth
    out["log_flops"] = math.log(count(spec).macs)
    return out


@dataclass(frozen=True)
class Predictor:
    """A fitted ridge regression from `features` to supernet validation accuracy."""

    names: tuple[str, ...]
    mean: tuple[float, ...]  # of each feature over the scores fitted on
    scale: tuple[float, ...]  # their standard deviations (1 where a feature never varied)
    weights: tuple[float, ...]  # on the standardised features
    intercept: float
    alpha: float  # the ridge penalty chosen
    fitted_on: int  # scores
    loo_tau: float | None  # Kendall tau of the leave-one-out predictions with the scores (None: all scores equal)
    loo_rmse: float

    def predict(self, space: ElasticSpace, spec: NetSpec) -> float:
        """The predicted accuracy of `spec`, within [0, 1]."""
        given = features(space, spec)
        x = (np.array([given[name] for name in self.names]) - np.array(self.mean)) / np.array(self.scale)
        return float(min(1.0, max(0.0, float(x @ np.array(self.weights)) + self.intercept)))

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Predictor:
        return cls(**{k: tuple(v) if isinstance(v, list) else v for k, v in data.items()})


def fit(space: ElasticSpace, specs: Sequence[NetSpec], accuracies: Sequence[float],
        alphas: Sequence[float] = ALPHAS) -> Predictor:
    """Ridge regression of `accuracies` on the specs' standardised features (scikit-learn's `RidgeCV`), its
    penalty the one of `alphas` with the least leave-one-out squared error."""
    from scipy.stats import kendalltau
    from sklearn.linear_model import RidgeCV

    if len(specs) != len(accuracies) or len(specs) < MIN_SCORES:
        raise ValueError(f"a predictor fits on at least {MIN_SCORES} scored networks, got {len(specs)}")
    rows = [features(space, spec) for spec in specs]
    names = tuple(rows[0])
    x = np.array([[row[name] for name in names] for row in rows])
    y = np.array(accuracies, dtype=float)
    mean, scale = x.mean(axis=0), x.std(axis=0)
    scale[scale == 0] = 1.0
    # with a scoring given, cv_results_ holds each point's leave-one-out prediction for every penalty
    model = RidgeCV(alphas=tuple(alphas), scoring="neg_mean_squared_error", store_cv_results=True)
    model.fit((x - mean) / scale, y)
    loo = model.cv_results_[:, list(alphas).index(model.alpha_)]
    tau = kendalltau(loo, y)[0] if np.ptp(y) > 0 else None
    return Predictor(names, tuple(map(float, mean)), tuple(map(float, scale)), tuple(map(float, model.coef_)),
                     float(model.intercept_), float(model.alpha_), len(y),
                     None if tau is None or math.isnan(tau) else float(tau), math.sqrt(float(np.mean((loo - y) ** 2))))
