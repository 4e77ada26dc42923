"""Greedy weighted ensembling of a search's candidates (Caruana et al., 2004: ensemble
selection with replacement, the method of AutoGluon's ``WeightedEnsemble``), and the
``EnsembleModel`` that serves the result.

Selection works only on the candidates' validation or out-of-fold predictions: each round adds
the candidate (again, if it is the best choice) whose addition makes the running average score
best on the project's metric; a member's weight is how often it was picked. The rounds kept
are those up to the best score seen, so the first round's pick, the best single candidate, is
the floor. The blend's score is measured on the rows its weights were chosen on, so it flatters
a little: the search takes it only when it beats the best single candidate by ``MARGIN``.

Serving combines the members' raw outputs (class probabilities, or values) with the weights:
no second-level model, one ``predict_raw`` per member.
"""

from __future__ import annotations

import json
import math
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from conveyor.errors import InvalidInput
from conveyor.model.candidates import Data, Scored
from conveyor.model.cross_validation import CrossValidated
from conveyor.model.estimators import FittedModel, load_model
from conveyor.model.metrics import compute_metrics, greater_is_better, metric_value
from conveyor.types import Algorithm, Task

ENSEMBLE = "ensemble"  # the training record's ``algorithm`` and the leaderboard row's name
MAX_ROUNDS = 25
# At most this many candidates, best first, are offered to selection: later tuned trials
# repeat the leaders' settings, and every extra one costs a metric per round.
MAX_CANDIDATES = 12
# The blend must beat the best single candidate by this share of its score (0.1%): less is
# within what choosing weights on the same rows gains by chance.
MARGIN = 0.001
# Members are drawn from the families whose one-row prediction takes microseconds (LightGBM's
# single-row C path, the linear model's lookups): scikit-learn's HistGradientBoosting took
# 0.8 ms a row (predict_proba's checks), which alone would spend half the 2 ms p99 a request
# may take. It can still win alone.
SERVES_FAST = frozenset({Algorithm.LIGHTGBM, Algorithm.LINEAR})
_FILE = "ensemble.json"
_MEMBERS_DIR = "members"


@dataclass(frozen=True)
class Selection:
    """Selection's outcome: a weight per candidate offered (zeros for those never picked)."""

    weights: np.ndarray
    score: float  # the blend's, on the metric
    single: float  # the best single candidate's

    @property
    def members(self) -> list[int]:
        """Indices of the candidates with a nonzero weight."""
        return [int(i) for i in np.flatnonzero(self.weights)]

    def beats_single(self, metric: str, margin: float = MARGIN) -> bool:
        """Whether the blend has two members or more and beats the best single candidate by
        ``margin`` of its score (relative; on the metric's own direction)."""
        if len(self.members) < 2 or not math.isfinite(self.score):
            return False
        gain = self.score - self.single if greater_is_better(metric) else self.single - self.score
        return gain > margin * max(abs(self.single), 1e-12)


def select(
    predictions: list[np.ndarray],
    y: np.ndarray,
    *,
    task: Task,
    metric: str,
    n_classes: int,
    rounds: int = MAX_ROUNDS,
) -> Selection:
    """Caruana's greedy selection with replacement over ``predictions`` (one array per
    candidate, rows aligned with ``y``: probabilities (n, k) or values (n,)).

    Ties go to the earlier candidate: offer them best first.
    """
    if not predictions:
        raise ValueError("selection needs at least one candidate's predictions")
    sign = 1.0 if greater_is_better(metric) else -1.0
    stacked = [np.asarray(p, dtype=np.float64) for p in predictions]

    def signed(raw: np.ndarray) -> float:
        value = sign * metric_value(task, metric, y, raw, n_classes)
        return value if math.isfinite(value) else -math.inf

    singles = [signed(p) for p in stacked]
    total = np.zeros_like(stacked[0])
    counts = np.zeros(len(stacked))
    best, best_counts = -math.inf, counts
    for picked in range(1, rounds + 1):
        scores = singles if picked == 1 else [signed((total + p) / picked) for p in stacked]
        choice = int(np.argmax(scores))
        total += stacked[choice]
        counts[choice] += 1
        if picked == 1 or scores[choice] > best + 1e-12 * abs(best):  # not a rounding gain
            best, best_counts = scores[choice], counts.copy()
    return Selection(best_counts / best_counts.sum(), sign * best, sign * max(singles))


class EnsembleModel:
    """Members' raw outputs averaged with fixed weights (they sum to 1)."""

    def __init__(
        self, members: list[FittedModel], algorithms: list[str], weights: list[float]
    ) -> None:
        if not members or len(members) != len(weights) or len(members) != len(algorithms):
            raise ValueError("an ensemble needs one algorithm and one weight per member")
        self.members = members
        self.algorithms = algorithms
        self.weights = [float(w) for w in weights]
        heaviest = int(np.argmax(self.weights))
        self.best_iteration = members[heaviest].best_iteration

    def predict_raw(self, x: np.ndarray) -> np.ndarray:
        blended: np.ndarray = self.weights[0] * self.members[0].predict_raw(x)
        for weight, member in zip(self.weights[1:], self.members[1:], strict=True):
            blended += weight * member.predict_raw(x)
        return blended

    @property
    def explanation_method(self) -> str:
        methods = sorted({str(getattr(m, "explanation_method", "?")) for m in self.members})
        return f"weighted sum of its members' {', '.join(methods)}"

    def contributions(self, x: np.ndarray) -> np.ndarray:
        """Its members' contributions, weighted as their outputs are: exact for regression,
        whose output is the weighted sum of the members' values (``conveyor.model.explain``
        refuses a blend of classifiers' probabilities before this is asked).

        Raises:
            InvalidInput: a member whose family has no contributions; the message names it.
        """
        total: np.ndarray | None = None
        for weight, member, algorithm in zip(
            self.weights, self.members, self.algorithms, strict=True
        ):
            explain = getattr(member, "contributions", None)
            if explain is None:
                raise InvalidInput(
                    f"this ensemble's member {algorithm} has no exact per-column "
                    "contributions; explanations are given for LightGBM and linear members",
                    field="explain",
                )
            part = weight * np.asarray(explain(x))
            total = part if total is None else total + part
        assert total is not None  # an ensemble has members
        return total

    def save(self, folder: Path) -> None:
        listed = []
        for i, (member, algorithm, weight) in enumerate(
            zip(self.members, self.algorithms, self.weights, strict=True)
        ):
            where = folder / _MEMBERS_DIR / str(i)
            where.mkdir(parents=True, exist_ok=True)
            member.save(where)
            listed.append({"algorithm": algorithm, "weight": weight, "folder": str(i)})
        (folder / _FILE).write_text(json.dumps({"members": listed}, indent=2))

    @classmethod
    def load(cls, folder: Path, task: Task) -> EnsembleModel:
        listed = json.loads((folder / _FILE).read_text())["members"]
        members = [
            load_model(folder / _MEMBERS_DIR / m["folder"], Algorithm(m["algorithm"]), task)
            for m in listed
        ]
        return cls(members, [m["algorithm"] for m in listed], [m["weight"] for m in listed])


def load_fitted(folder: Path, algorithm: str, task: Task) -> FittedModel:
    """The model of an artifact folder whose training record names ``algorithm`` (a family,
    or ``ENSEMBLE``)."""
    if algorithm == ENSEMBLE:
        return EnsembleModel.load(folder, task)
    return load_model(folder, Algorithm(algorithm), task)


@dataclass(frozen=True)
class Blend:
    """An ensemble of a search's candidates, before its members' final fits."""

    members: list[Scored]
    weights: list[float]
    metrics: dict[str, float]  # of the blended validation or out-of-fold predictions
    wins: bool  # beats the best single candidate by MARGIN
    status: str
    seconds: float  # selection's (its members' fits are their own rows')

    def row(self, metric: str, *, winner: bool) -> dict[str, Any]:
        """Its leaderboard row: the members' names and weights as its settings."""
        score = self.metrics.get(metric)
        return {
            "name": ENSEMBLE,
            "algorithm": ENSEMBLE,
            "hyperparameters": {
                m.name: round(w, 4) for m, w in zip(self.members, self.weights, strict=True)
            },
            "rounds": None,
            "score": score if score is not None and math.isfinite(score) else None,
            "metrics": self.metrics,
            "fit_seconds": round(self.seconds, 3),
            "predict_seconds_per_1000": round(
                sum(m.predict_seconds_per_1000 or 0.0 for m in self.members), 5
            ),
            "status": self.status,
            "winner": winner,
        }

    def predictions(self) -> np.ndarray:
        """The blend of its members' validation or out-of-fold predictions."""
        blended = sum(
            w * m.predictions
            for w, m in zip(self.weights, self.members, strict=True)
            if m.predictions is not None
        )
        assert isinstance(blended, np.ndarray)  # every member offered had predictions
        return blended

    def finish(self) -> EnsembleModel:
        """The members' final models (fitted on every row under cross-validation)."""
        models: list[FittedModel] = []
        for member in self.members:
            assert member.finish is not None  # every row that scores has a finish
            done = member.finish()
            models.append(done.model if isinstance(done, CrossValidated) else done)
        return EnsembleModel(models, [m.algorithm.value for m in self.members], self.weights)


def blend(ranked: list[Scored], data: Data, metric: str) -> Blend | None:
    """Greedy selection over the best of ``ranked`` (best first) that scored; None when fewer
    than two did, or selection kept only one."""
    began = time.monotonic()
    offered = [
        r
        for r in ranked
        if r.status == "ok" and r.predictions is not None and r.algorithm in SERVES_FAST
    ]
    offered = offered[:MAX_CANDIDATES]
    if len(offered) < 2:
        return None
    y = data.y_train if data.cross_validated else data.y_valid
    assert y is not None
    predictions = [r.predictions for r in offered if r.predictions is not None]
    chosen = select(predictions, y, task=data.task, metric=metric, n_classes=data.n_classes)
    members = chosen.members
    if len(members) < 2:
        return None
    weights = [float(chosen.weights[i]) for i in members]
    blended = sum(w * predictions[i] for w, i in zip(weights, members, strict=True))
    assert isinstance(blended, np.ndarray)
    wins = chosen.beats_single(metric)
    return Blend(
        [offered[i] for i in members],
        weights,
        compute_metrics(data.task, y, blended, data.n_classes),
        wins,
        "ok" if wins else f"ok (not {MARGIN:.1%} better than the best one)",
        time.monotonic() - began,
    )
