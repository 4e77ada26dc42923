"""Greedy weighted ensembling of a search's candidates (Caruana et al., 2004: ensemble
selection with replacement, the method of AutoGluon's ``WeightedEnsemble``), and the
``EnsembleModel`` that serves the result.

Selection works only on the candidates' validation or out-of-fold predictions: each round adds
the candidate (again, if it is the best choice) whose addition makes the running average score
best on the project's metric; a member's weight is how often it was picked. The rounds kept
are those up to the best score seen, so the first round's pick, the best single candidate, is
the floor.

A blend scored on the rows its weights were chosen on flatters itself: on the corpus's held-out
rows such blends were worse than the single winner on 3 of 8 data sets (gbsg2 -1.8%, 466 rows).
So the blend is judged cross-fitted: over the folds of the out-of-fold predictions (halves of
a validation split), each part is predicted with the weights chosen on the other rows, and the
best single candidate is chosen the same way; the blend is taken only when it beats that by
``MARGIN``. Every candidate that may serve alone is offered (a one-row predict within
``conveyor.model.one_row``'s budget); one that may not is neither a member nor the one to beat,
as it cannot serve. Its reported metrics are the cross-fitted ones; the weights that serve are
chosen on every row.

Serving combines the members' raw outputs (class probabilities, or values) with the weights:
no second-level model, one ``predict_raw`` per member.
"""

from __future__ import annotations

import dataclasses
import json
import math
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from conveyor.errors import InvalidInput
from conveyor.model.calibration import served_probabilities
from conveyor.model.candidates import Data, Scored, finish_seconds
from conveyor.model.catboost_model import CatBoostModel
from conveyor.model.cross_validation import CrossValidated, make_folds
from conveyor.model.ensemble_explain import probability_contributions
from conveyor.model.estimators import FittedModel, LightGbmModel, load_model
from conveyor.model.explain import PROBABILITY, VALUE
from conveyor.model.forest import ForestModel
from conveyor.model.knn import KnnModel
from conveyor.model.linear import LinearModel
from conveyor.model.metrics import compute_metrics, greater_is_better, metric_value
from conveyor.model.one_row import ONE_ROW_BUDGET_MS, one_row_ms, over_budget
from conveyor.types import Algorithm, Task

ENSEMBLE = "ensemble"  # the training record's ``algorithm`` and the leaderboard row's name
MAX_ROUNDS = 25
# At most this many candidates, best first, are offered to selection: later tuned trials
# repeat the leaders' settings, and every extra one costs a metric per round.
MAX_CANDIDATES = 12
# The cross-fitted blend must beat the cross-fitted best single candidate by this share of its
# score (0.1%): a blend costs a predict per member, and less is within noise.
MARGIN = 0.001
# A validation split is cut in this many parts to cross-fit the weights: halves keep the most
# rows for choosing them.
_VALIDATION_PARTS = 2
# Members are drawn from the candidates that may serve alone (``conveyor.model.one_row``: a
# one-row predict within the budget, which scikit-learn's HistGradientBoosting is not), and the
# blend's one-row predict, timed whole, must keep the same budget: CatBoost (~0.2 ms a row) with
# LightGBM (~0.015 ms each) fits; a fixed list of families once kept CatBoost out (diamonds:
# CatBoost alone 692 held-out RMSE, in a blend with LightGBM 662).
_FILE = "ensemble.json"
_MEMBERS_DIR = "members"


@dataclass(frozen=True)
class Selection:
    """Selection's outcome: a weight per candidate offered (zeros for those never picked)."""

    weights: np.ndarray
    score: float  # the blend's, on the metric, on the rows it was chosen on
    single: float  # the best single candidate's

    @property
    def members(self) -> list[int]:
        """Indices of the candidates with a nonzero weight."""
        return [int(i) for i in np.flatnonzero(self.weights)]


def improves(metric: str, score: float, over: float, margin: float = MARGIN) -> bool:
    """Whether ``score`` beats ``over`` by ``margin`` of it (relative; in the metric's own
    direction)."""
    if not math.isfinite(score):
        return False
    if not math.isfinite(over):
        return True
    gain = score - over if greater_is_better(metric) else over - score
    return gain > margin * max(abs(over), 1e-12)


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
    value_of = _scorer(task, metric, y, n_classes)

    def signed(raw: np.ndarray) -> float:
        value = sign * value_of(raw)
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


def _scorer(
    task: Task, metric: str, y: np.ndarray, n_classes: int
) -> Callable[[np.ndarray], float]:
    """``metric_value`` of raw predictions against ``y``, in numpy for the common metrics:
    selection scores thousands of blends, and scikit-learn's input checks made that 21 s of a
    20 s budget on 466 rows (ROC-AUC, ~10 ms a call on a busy machine). Same values."""
    if task is Task.REGRESSION and metric in ("rmse", "mae", "r2"):
        truth = np.asarray(y, dtype=np.float64)
        spread = float(np.sum((truth - truth.mean()) ** 2))

        def regression(raw: np.ndarray) -> float:
            error = truth - raw
            if metric == "rmse":
                return float(np.sqrt(np.mean(error**2)))
            if metric == "mae":
                return float(np.mean(np.abs(error)))
            return 1.0 - float(np.sum(error**2)) / spread if spread > 0 else math.nan

        return regression
    if task is Task.REGRESSION or metric not in (
        "log_loss",
        "accuracy",
        "roc_auc",
        "f1",
        "f1_macro",
    ):
        return lambda raw: metric_value(task, metric, y, raw, n_classes)
    labels = np.asarray(y, dtype=np.int64)
    rows = np.arange(len(labels))
    positive = labels == 1
    both = bool(positive.any() and (~positive).any())

    def classification(raw: np.ndarray) -> float:
        proba = np.clip(raw, 1e-15, 1.0)
        proba = proba / proba.sum(axis=1, keepdims=True)
        if metric == "log_loss":
            return float(-np.mean(np.log(proba[rows, labels])))
        if metric == "accuracy":
            return float(np.mean(proba.argmax(axis=1) == labels))
        if metric in ("f1", "f1_macro"):
            return _f1(labels, proba.argmax(axis=1), n_classes, macro=metric == "f1_macro")
        if not both:
            return math.nan
        from scipy.stats import rankdata

        ranks = rankdata(proba[:, 1])  # ties share their mean rank: half a pair each
        hits = positive.sum()
        return float(
            (ranks[positive].sum() - hits * (hits + 1) / 2) / (hits * (len(labels) - hits))
        )

    return classification


def _f1(labels: np.ndarray, predicted: np.ndarray, n_classes: int, *, macro: bool) -> float:
    """F1 of class 1, or the mean over every class (0 where a class has no true nor predicted
    row, as scikit-learn's ``zero_division=0``)."""
    width = max(n_classes, 2)
    true_positive = np.bincount(labels[labels == predicted], minlength=width)[:width]
    wrong = labels != predicted
    false_positive = np.bincount(predicted[wrong], minlength=width)[:width]
    false_negative = np.bincount(labels[wrong], minlength=width)[:width]
    denominator = 2 * true_positive + false_positive + false_negative
    with np.errstate(invalid="ignore", divide="ignore"):
        f1 = np.where(denominator > 0, 2 * true_positive / denominator, 0.0)
    return float(f1.mean()) if macro else float(f1[1])


def cross_fitted(
    predictions: list[np.ndarray],
    y: np.ndarray,
    parts: list[tuple[np.ndarray, np.ndarray]],
    *,
    task: Task,
    metric: str,
    n_classes: int,
    rounds: int = MAX_ROUNDS,
) -> np.ndarray:
    """Every row's blend with the weights that selection chose without it: for each
    (choose, held) pair of ``parts``, selection on the ``choose`` rows, applied to the ``held``
    ones. ``rounds=1`` gives the best single candidate chosen the same way."""
    out = np.zeros_like(np.asarray(predictions[0], dtype=np.float64))
    for choose, held in parts:
        chosen = select(
            [p[choose] for p in predictions],
            y[choose],
            task=task,
            metric=metric,
            n_classes=n_classes,
            rounds=rounds,
        )
        out[held] = sum(chosen.weights[i] * predictions[i][held] for i in chosen.members)
    return out


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

    def refit(
        self, x: np.ndarray, y: np.ndarray, *, categorical_indices: list[int] | None = None
    ) -> EnsembleModel:
        """The same blend of its members each fitted again on ``x`` (more rows than they
        were: each family's ``refit``), with the same weights.

        Raises:
            ValueError: a member that cannot be refitted, or was not fitted in this process.
        """
        refitted = []
        for member in self.members:
            refittable = (LightGbmModel, LinearModel, CatBoostModel, KnnModel, ForestModel)
            if not isinstance(member, refittable):
                raise ValueError(f"an ensemble's {type(member).__name__} member cannot refit")
            refitted.append(member.refit(x, y, categorical_indices=categorical_indices))
        return EnsembleModel(list(refitted), self.algorithms, self.weights)

    @property
    def explanation_method(self) -> str:
        methods = sorted({str(getattr(m, "explanation_method", "?")) for m in self.members})
        if self.classifier:
            return f"weighted sum of its members' {', '.join(methods)}, each carried to probability"
        return f"weighted sum of its members' {', '.join(methods)}"

    @property
    def explanation_space(self) -> str:
        """What its contributions add up to: a classifier's blended probability (a member's
        raw score is not the blend's), else the value."""
        return PROBABILITY if self.classifier else VALUE

    @property
    def classifier(self) -> bool:
        """Whether it blends probabilities (its explanation is in probability, not score)."""
        return bool(getattr(self.members[0], "task", Task.REGRESSION) is not Task.REGRESSION)

    @property
    def unexplained(self) -> str | None:
        """Why its contributions would not be exact (``conveyor.model.explain`` refuses with
        it): a member with none (k-nearest neighbours), or one that says why not."""
        for member, algorithm in zip(self.members, self.algorithms, strict=True):
            if getattr(member, "contributions", None) is None:
                return f"its member {algorithm} has no exact per-column contributions"
            why = getattr(member, "unexplained", None)
            if why is not None:
                return f"its member {algorithm}: {why}"
        return None

    def contributions(self, x: np.ndarray) -> np.ndarray:
        """Its members' contributions, weighted as their outputs are: for regression the
        weighted sum of theirs (its value is theirs); for a classifier each member's carried
        from its raw scores to its probabilities first (``conveyor.model.ensemble_explain``),
        so that they sum to the blended probability of class 1 (binary) or of each class.

        Raises:
            InvalidInput: a member whose family has no contributions; the message names it.
        """
        why = self.unexplained
        if why is not None:
            raise InvalidInput(f"this ensemble cannot be explained exactly: {why}", field="explain")
        parts = [np.asarray(m.contributions(x), dtype=np.float64) for m in self.members]  # type: ignore[attr-defined]
        if self.classifier:
            ready = [getattr(m, "explanation_space", None) == PROBABILITY for m in self.members]
            return probability_contributions(parts, self.weights, ready)
        weighted = [w * part for w, part in zip(self.weights, parts, strict=True)]
        return np.asarray(np.sum(weighted, axis=0))

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
    metrics: dict[str, float]  # cross-fitted: each row blended by weights chosen without it
    single: float  # the best single candidate's score, chosen the same way
    wins: bool  # beats ``single`` by MARGIN
    status: str
    seconds: float  # selection's (its members' fits are their own rows')
    # Each row's blend by weights chosen without it, calibrated as it would serve by a
    # calibrator fitted on the other rows (what ``metrics`` are of).
    cross_fitted: np.ndarray | None = field(default=None, repr=False)
    calibration: str | None = None  # the calibrator its scores are of; None: raw
    # Its one-row predict's median CPU milliseconds, timed as one ``EnsembleModel`` of its
    # members' timed models (``timed_one_row``).
    one_row_ms: float = 0.0

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
            "one_row_ms": round(self.one_row_ms, 4),
            "calibration": self.calibration,
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


def blend(
    ranked: list[Scored],
    data: Data,
    metric: str,
    folds: list[tuple[np.ndarray, np.ndarray]] | None,
    one_row_budget_ms: float = ONE_ROW_BUDGET_MS,
    finish_by: float | None = None,
) -> Blend | None:
    """Greedy selection over the best of ``ranked`` (best first) that scored (each within the
    one-row budget); None when fewer than two did, selection kept only one, or a validation
    split is too small to halve.

    Args:
        folds: the cross-validation folds of the out-of-fold predictions (None on a
            validation split: its halves are used).
        one_row_budget_ms: the blend's one-row predict, timed whole (``timed_one_row``),
            must take no longer (``conveyor.model.one_row``): a blend over it is chosen again
            without its slowest member but the best (CatBoost's ~0.4 ms on diamonds with three
            LightGBM members went past 0.5 ms, where LightGBM's alone blend within it), and one
            that never fits does not win.
        finish_by: when (``time.monotonic``) the members' final fits must have ended
            (``candidates.finish_seconds``): a blend whose fits would end later is chosen again
            without its costliest member but the best, as for the one-row budget, rather than
            dropped, as seattle_temps' blend of four was when its 2.3 s of fits were past the
            0.9 s left (one model served, 24% worse held out); one that never fits does not
            win.
    """
    began = time.monotonic()
    scored = [r for r in ranked if r.status == "ok" and r.predictions is not None]
    offered = _offered(scored)
    y = data.y_train if data.cross_validated else data.y_valid
    assert y is not None
    if len(offered) < 2 or (folds is None and len(y) < 2 * _VALIDATION_PARTS):
        return None
    parts = folds if folds is not None else make_folds(data.task, y, data.seed, _VALIDATION_PARTS)
    # Rows the timed members did not learn from (a fold's are its held-out ones).
    held = data.x_train[folds[-1][1]] if folds is not None else data.x_valid
    assert held is not None
    # The best single candidate, chosen the way the blend's weights are (on other rows), on
    # its probabilities as they would serve (calibrated, as its leaderboard score).
    singles = [np.asarray(r.predictions if r.served is None else r.served) for r in offered]
    single = cross_fitted(
        singles, y, parts, task=data.task, metric=metric, n_classes=data.n_classes, rounds=1
    )
    single_score = metric_value(data.task, metric, y, single, data.n_classes)
    while True:
        found = _selected(offered, y, parts, data, metric, single_score, began)
        if found is None:
            return None
        found = dataclasses.replace(found, one_row_ms=timed_one_row(found, held))
        refused = over_budget(found.one_row_ms, one_row_budget_ms)
        if refused is not None:
            left_out = _slowest(found.members, offered, one_row_budget_ms)
        else:
            fits = [finish_seconds(m, data) for m in found.members]
            if finish_by is None or time.monotonic() + sum(fits) <= finish_by:
                return found
            refused = "skipped: no time left for its members' fits"
            # Never the best member (ranked first): its fit is the single winner's otherwise,
            # and without it seattle_temps' blends of what was left lost to it by 13-16%.
            left_out = found.members[1 + int(np.argmax(fits[1:]))]
            others = [r for r in offered if r is not found.members[0] and r is not left_out]
            cheapest = min((finish_seconds(r, data) for r in others), default=math.inf)
            if time.monotonic() + fits[0] + cheapest > finish_by:
                # No pair with the best fits either: choosing again would only spend the time.
                return dataclasses.replace(found, wins=False, status=refused)
        offered = [r for r in offered if r is not left_out]
        if len(offered) < 2:
            return dataclasses.replace(found, wins=False, status=refused)


def _slowest(members: list[Scored], offered: list[Scored], budget_ms: float) -> Scored:
    """The member a blend over the one-row budget is chosen again without: the slowest but the
    best (seattle_temps' blends lost linear-leaved LightGBM, their slowest at ~0.12 ms, and
    with it what they had over it), unless the best with the fastest of the others is over the
    budget already."""
    ms = [m.one_row_ms or 0.0 for m in members]
    fastest = min((r.one_row_ms or 0.0 for r in offered if r is not members[0]), default=0.0)
    if ms[0] + fastest > budget_ms:
        return members[int(np.argmax(ms))]
    return members[1 + int(np.argmax(ms[1:]))]


def timed_one_row(found: Blend, held: np.ndarray) -> float:
    """The one-row predict time of ``found`` served as one ``EnsembleModel`` of its members'
    timed models (``conveyor.model.one_row``), or the sum of its members' times where one has
    none. Timed whole, not summed: each member then runs after the others have taken the CPU's
    caches, and chile's nine members, 0.44 ms in all when each was timed alone, took 0.65 ms
    together."""
    models = [m.timed for m in found.members]
    if any(model is None for model in models):
        return sum(m.one_row_ms or 0.0 for m in found.members)
    algorithms = [m.algorithm.value for m in found.members]
    measured = one_row_ms(EnsembleModel(models, algorithms, found.weights), held)  # type: ignore[arg-type]
    return measured if measured is not None else 0.0


def _offered(scored: list[Scored]) -> list[Scored]:
    """The best ``MAX_CANDIDATES`` of ``scored`` (best first), each family's best among them:
    LightGBM's tuned trials, near one another, would otherwise fill the offer and leave out the
    families whose errors differ, which are what a blend gains from."""
    firsts = {
        id(next(r for r in scored if r.algorithm is a)) for a in {r.algorithm for r in scored}
    }
    room = MAX_CANDIDATES - len(firsts)
    kept: list[Scored] = []
    for row in scored:
        if id(row) in firsts:
            kept.append(row)
        elif room > 0:
            kept.append(row)
            room -= 1
    return kept


def _selected(
    offered: list[Scored],
    y: np.ndarray,
    parts: list[tuple[np.ndarray, np.ndarray]],
    data: Data,
    metric: str,
    single_score: float,
    began: float,
) -> Blend | None:
    """Selection's blend of ``offered``, scored cross-fitted against ``single_score``; None
    when it keeps one candidate."""
    task, n = data.task, data.n_classes
    predictions = [np.asarray(r.predictions) for r in offered]
    chosen = select(predictions, y, task=task, metric=metric, n_classes=n)
    members = chosen.members
    if len(members) < 2:
        return None
    blended = cross_fitted(predictions, y, parts, task=task, metric=metric, n_classes=n)
    # The blend serves calibrated as a single model does: its members' outputs are averaged,
    # then the one calibrator fitted on the blend applies (cross-fitted here).
    blended, method = served_probabilities(task, y, blended, n_classes=n, seed=data.seed)
    metrics = compute_metrics(task, y, blended, n)
    wins = improves(metric, metrics[metric], single_score)
    said = f"{metric} {metrics[metric]:.4g} against {single_score:.4g} for the best single one"
    return Blend(
        [offered[i] for i in members],
        [float(chosen.weights[i]) for i in members],
        metrics,
        single_score,
        wins,
        "ok" if wins else f"ok (not {MARGIN:.1%} better cross-fitted: {said})",
        time.monotonic() - began,
        blended,
        method,
    )
