"""Calibrated class probabilities: a calibrator fitted on rows the model did not learn from
(the validation split, or out-of-fold predictions under cross-validation), kept only when it
lowers log-loss on rows it did not see either.

Binary: Platt's sigmoid on the model's log-odds (fitted by scipy's optimiser) or
isotonic regression (scikit-learn's; from ``ISOTONIC_MIN_ROWS`` rows, as it overfits fewer);
multiclass: temperature scaling of the log-probabilities (scipy's bounded scalar search). Each
method is judged by ``FOLDS``-fold cross-fitting on the calibration rows: fitted on four fifths,
scored on the fifth left out. The best that beats the raw probabilities is fitted on every
calibration row and stored as a few numbers (``calibration.json``): serving applies it with
numpy, in microseconds, never through scikit-learn's per-call checks.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from conveyor.model.threshold import choose_threshold
from conveyor.types import Task

CALIBRATION_FILE = "calibration.json"
# The training record's ``decision_rule``: class 1 above the ``decision_threshold`` (binary), or
# the most probable class (multiclass).
THRESHOLD_RULE = "threshold"
ARGMAX_RULE = "argmax"
FOLDS = 5
# Fewer calibration rows (or fewer rows of the rarest class) than these and no calibrator is
# tried: five folds of a few rows measure noise.
MIN_ROWS = 50
MIN_CLASS_ROWS = 2 * FOLDS
# scikit-learn's guide: isotonic regression overfits under about a thousand rows.
ISOTONIC_MIN_ROWS = 1000
# A calibrator is kept when it lowers the held-out log-loss by at least this share (1%): less
# is within cross-fitting's noise (actg175's sigmoid gained 0.3% out of fold on 1,818 rows and
# lost 1.2% on the test split).
MIN_GAIN = 0.01
# Calibrators and the threshold are chosen on a seeded sample of at most this many rows: a
# sigmoid has two parameters and an isotonic step function levels off long before, while
# cross-fitting them on a 1,000,000-row upload's 150,000 validation rows took 1.5 s of the
# training job.
MAX_ROWS = 20_000
_EPS = 1e-15
_TEMPERATURE_BOUNDS = (0.05, 20.0)
# Platt's Newton iterations: at most this many, stopping once the loss gains less than this
# share; a tiny ridge keeps the Hessian invertible on separable rows, and a step halved past
# this size ends the search.
_NEWTON_STEPS = 50
_TOLERANCE = 1e-10
_RIDGE = 1e-9
_MIN_STEP = 1e-6


@dataclass(frozen=True)
class Calibrator:
    """A fitted calibration map of class probabilities (n, k) to class probabilities."""

    method: str  # "sigmoid" | "isotonic" | "temperature"
    params: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        # Isotonic knots as arrays once: np.interp converting 200-knot lists took ~60 µs a row.
        for name in ("x", "y"):
            if name in self.params:
                self.params[name] = np.asarray(self.params[name], dtype=np.float64)

    def apply(self, proba: np.ndarray) -> np.ndarray:
        """Calibrated probabilities of ``proba`` (rows sum to 1)."""
        proba = np.asarray(proba, dtype=np.float64)
        if len(proba) == 1 and self.method == "sigmoid":
            # One row (the server's hot path): Python floats, ~1 µs against numpy's ~30.
            one = min(max(float(proba[0, 1]), _EPS), 1.0 - _EPS)
            score = self.params["a"] * math.log(one / (1.0 - one)) + self.params["b"]
            chance = 1.0 / (1.0 + math.exp(-score)) if score > -700 else 0.0
            return np.array([[1.0 - chance, chance]])
        if self.method == "temperature":
            logits = np.log(np.clip(proba, _EPS, 1.0)) / float(self.params["temperature"])
            logits -= logits.max(axis=1, keepdims=True)
            scaled = np.exp(logits)
            out: np.ndarray = scaled / scaled.sum(axis=1, keepdims=True)
            return out
        positive = self._positive(proba[:, 1])
        return np.column_stack([1.0 - positive, positive])

    def _positive(self, p: np.ndarray) -> np.ndarray:
        if self.method == "isotonic":
            return np.asarray(np.interp(p, self.params["x"], self.params["y"]))
        clipped = np.clip(p, _EPS, 1.0 - _EPS)
        score = self.params["a"] * np.log(clipped / (1.0 - clipped)) + self.params["b"]
        with np.errstate(over="ignore"):  # exp past float's range: probability 0
            positive: np.ndarray = 1.0 / (1.0 + np.exp(-score))
        return positive

    def to_dict(self) -> dict[str, Any]:
        params = {
            name: value.tolist() if isinstance(value, np.ndarray) else value
            for name, value in self.params.items()
        }
        return {"method": self.method, "params": params}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Calibrator:
        return cls(str(data["method"]), dict(data.get("params") or {}))

    def save(self, folder: Path) -> None:
        (folder / CALIBRATION_FILE).write_text(json.dumps(self.to_dict(), indent=2))

    @classmethod
    def load(cls, folder: Path) -> Calibrator | None:
        """The calibrator of an artifact folder; None when the model serves uncalibrated."""
        path = folder / CALIBRATION_FILE
        return cls.from_dict(json.loads(path.read_text())) if path.exists() else None


@dataclass(frozen=True)
class Calibrated:
    """What calibration chose, and the training record's ``calibration``."""

    calibrator: Calibrator | None
    record: dict[str, Any]

    def apply(self, proba: np.ndarray) -> np.ndarray:
        return proba if self.calibrator is None else self.calibrator.apply(proba)


def calibrate(
    task: Task, y: np.ndarray, proba: np.ndarray, *, n_classes: int, seed: int, selected_on: str
) -> Calibrated:
    """The calibrator that lowers held-out log-loss most on ``proba`` (the model's predictions
    of rows it did not learn from, ``y`` their class indices), or none.

    Args:
        selected_on: what the rows are ("validation", "5-fold out of fold"), for the record.
    """
    chosen = _choose(task, y, proba, n_classes=n_classes, seed=seed, selected_on=selected_on)
    if chosen.method is None:
        return Calibrated(None, chosen.record)
    y = np.asarray(y).astype(np.int64)
    return Calibrated(_fit(chosen.method, y, np.asarray(proba, dtype=np.float64)), chosen.record)


def served_probabilities(
    task: Task, y: np.ndarray, proba: np.ndarray, *, n_classes: int, seed: int
) -> tuple[np.ndarray, str | None]:
    """``proba`` (a candidate's predictions of rows it did not learn from) as the model would
    serve them, with no row calibrated by a calibrator that learned from it: each fold's rows
    by the one ``calibrate`` would choose, fitted on the other folds (cross-fitting); and the
    method (None: no calibrator lowered held-out log-loss, and the probabilities serve as
    they are). What a search scores its candidates on, so that a family that comes out of its
    fit badly calibrated is not ranked below one that serves worse once both are calibrated.

    The method itself is chosen on every row, as ``calibrate`` chooses it: between the raw
    probabilities and one or two calibrators of two parameters (or a step function), and only
    when it wins by ``MIN_GAIN``. Above ``MAX_ROWS`` rows the calibrator is chosen and
    cross-fitted on a seeded sample of them (the one ``calibrate_outputs`` takes); the other
    rows get the calibrator fitted on the whole sample, which never saw them.
    """
    y = np.asarray(y).astype(np.int64)
    proba = np.asarray(proba, dtype=np.float64)
    if task is Task.REGRESSION:
        return proba, None
    kept = _sample(len(y), seed)
    sample_y, sample_p = (y, proba) if kept is None else (y[kept], proba[kept])
    chosen = _choose(task, sample_y, sample_p, n_classes=n_classes, seed=seed, selected_on="")
    if chosen.method is None or chosen.held_out is None:
        return proba, None
    if kept is None:
        return chosen.held_out, chosen.method
    served = _fit(chosen.method, sample_y, sample_p).apply(proba)
    served[kept] = chosen.held_out
    return served, chosen.method


@dataclass(frozen=True)
class _Choice:
    method: str | None
    record: dict[str, Any]
    # Every row's probabilities by the chosen method fitted on the other folds (None: none).
    held_out: np.ndarray | None = None


def _choose(
    task: Task, y: np.ndarray, proba: np.ndarray, *, n_classes: int, seed: int, selected_on: str
) -> _Choice:
    """``calibrate``'s choice of method by cross-fitting on ``FOLDS`` folds of the rows."""
    y = np.asarray(y).astype(np.int64)
    proba = np.asarray(proba, dtype=np.float64)
    record: dict[str, Any] = {"method": None, "selected_on": selected_on, "rows": len(y)}
    counts = np.bincount(y, minlength=n_classes)
    present = counts[counts > 0]
    if task is Task.REGRESSION or len(y) < MIN_ROWS or len(present) < 2:
        return _Choice(None, {**record, "reason": "too few rows to calibrate on"})
    if present.min() < MIN_CLASS_ROWS:
        return _Choice(None, {**record, "reason": "a class has too few rows to calibrate on"})
    folds = _folds(y, seed)
    before = _log_loss(y, proba, n_classes)
    methods = ["temperature"] if task is Task.MULTICLASS else ["sigmoid"]
    if task is Task.BINARY and len(y) >= ISOTONIC_MIN_ROWS:
        methods.append("isotonic")
    held_out: dict[str, float] = {}
    outputs: dict[str, np.ndarray] = {}
    for method in methods:
        out = np.zeros_like(proba)
        for train, held in folds:
            out[held] = _fit(method, y[train], proba[train]).apply(proba[held])
        held_out[method] = _log_loss(y, out, n_classes)
        outputs[method] = out
    best = min(held_out, key=lambda m: held_out[m])
    kept = held_out[best] < before * (1.0 - MIN_GAIN)
    # After: what serves, so the raw probabilities' when no calibrator is kept (a search's
    # leaderboard scores the winner the same way).
    after = held_out[best] if kept else before
    record.update(
        {"log_loss_before": before, "log_loss_held_out": held_out, "log_loss_after": after}
    )
    if not kept:
        return _Choice(None, {**record, "reason": "no calibrator lowered held-out log-loss"})
    return _Choice(best, {**record, "method": best}, outputs[best])


def _sample(rows: int, seed: int) -> np.ndarray | None:
    """The sorted indices of the seeded ``MAX_ROWS`` rows calibration is chosen on (None: all
    of them)."""
    if rows <= MAX_ROWS:
        return None
    return np.sort(np.random.default_rng(seed).choice(rows, MAX_ROWS, replace=False))


def calibrate_outputs(
    task: Task,
    y: np.ndarray,
    proba: np.ndarray,
    *,
    n_classes: int,
    metric: str,
    seed: int,
    selected_on: str,
) -> tuple[Calibrator | None, dict[str, Any]]:
    """A classifier's calibrator (``calibrate``) and, for a binary one, its decision
    threshold chosen on the same rows' calibrated probabilities for ``metric``; with the
    training record's fields: ``calibration``, ``decision_rule``, and a binary one's
    ``decision_threshold`` and ``threshold``.

    A multiclass model labels a row with its most probable class (``ARGMAX_RULE``), what
    AutoGluon's and SageMaker Autopilot's classifiers answer: on calibrated probabilities that
    is the label most often right, and temperature scaling never changes which class it is. A
    rare class is given its weight in training instead (``conveyor.model.imbalance``), for
    every class count."""
    kept = _sample(len(y), seed)
    if kept is not None:
        y, proba = np.asarray(y)[kept], np.asarray(proba)[kept]
    calibrated = calibrate(task, y, proba, n_classes=n_classes, seed=seed, selected_on=selected_on)
    fields: dict[str, Any] = {"calibration": calibrated.record}
    # How a row's label is chosen from its probabilities (``Predictor.class_indices``).
    fields["decision_rule"] = THRESHOLD_RULE if task is Task.BINARY else ARGMAX_RULE
    if task is Task.BINARY:
        served = calibrated.apply(np.asarray(proba, dtype=np.float64))
        cut = choose_threshold(np.asarray(y), served[:, 1], metric)
        fields["decision_threshold"] = cut["value"]
        fields["threshold"] = {**cut, "selected_on": selected_on}
    return calibrated.calibrator, fields


def calibration_report(
    y: np.ndarray, before: np.ndarray, after: np.ndarray, n_classes: int
) -> dict[str, Any]:
    """The test split's ``calibration.test``: log-loss of the model's own probabilities
    (``before``) and of the served, calibrated ones (``after``; the same when no calibrator
    was kept). The served probabilities' reliability curve is the version's details' (the
    evaluate stage adds it here too)."""
    return {
        "rows": len(y),
        "log_loss_before": _log_loss(y, before, n_classes),
        "log_loss_after": _log_loss(y, after, n_classes),
    }


def _fit(method: str, y: np.ndarray, proba: np.ndarray) -> Calibrator:
    if method == "temperature":
        from scipy.optimize import minimize_scalar

        logp = np.log(np.clip(proba, _EPS, 1.0))
        logp -= logp.max(axis=1, keepdims=True)

        def loss(log_t: float) -> float:
            scaled = logp / math.exp(log_t)
            norm = np.log(np.exp(scaled).sum(axis=1))
            return float(np.mean(norm - scaled[np.arange(len(y)), y]))

        low, high = (math.log(b) for b in _TEMPERATURE_BOUNDS)
        found = minimize_scalar(loss, bounds=(low, high), method="bounded")
        return Calibrator("temperature", {"temperature": math.exp(float(found.x))})
    p = np.clip(proba[:, 1], _EPS, 1.0 - _EPS)
    if method == "isotonic":
        from sklearn.isotonic import IsotonicRegression

        iso = IsotonicRegression(y_min=0.0, y_max=1.0, out_of_bounds="clip").fit(p, y)
        return Calibrator("isotonic", {"x": iso.X_thresholds_, "y": iso.y_thresholds_})
    return _platt(np.log(p / (1.0 - p)), y.astype(np.float64))


def _platt(logit: np.ndarray, target: np.ndarray) -> Calibrator:
    """Platt's two parameters by maximum likelihood, as scikit-learn's sigmoid calibration
    fits them (without importing its linear models: 0.1-0.2 s of a ``fast`` job), by Newton's
    method on the 2 x 2 Hessian with step halving (Lin, Lin and Weng, 2007). A search
    calibrates every candidate: scipy's BFGS took 60 ms of CPU on 12,000 rows, this a few.
    Sums of elementwise products, not matrix products: BLAS's threads woken for each of a
    few hundred small products cost more than the arithmetic on a busy machine."""
    a, b = 1.0, 0.0
    positives = float(target.sum())

    def loss(a: float, b: float) -> float:
        score = a * logit + b
        # log(1 + e^s) - y s, without overflow.
        soft = np.maximum(score, 0.0) + np.log1p(np.exp(-np.abs(score)))
        return float(soft.sum()) - float((target * score).sum())

    current = loss(a, b)
    for _ in range(_NEWTON_STEPS):
        chance = 0.5 * (1.0 + np.tanh(0.5 * (a * logit + b)))
        error = chance - target
        weight = chance * (1.0 - chance)
        weighted = weight * logit
        g_a, g_b = float((error * logit).sum()), float(chance.sum()) - positives
        h_aa = float((weighted * logit).sum()) + _RIDGE
        h_ab, h_bb = float(weighted.sum()), float(weight.sum()) + _RIDGE
        det = h_aa * h_bb - h_ab * h_ab
        if not det > 0:
            break
        step_a, step_b = (h_bb * g_a - h_ab * g_b) / det, (h_aa * g_b - h_ab * g_a) / det
        size = 1.0
        while size > _MIN_STEP:
            value = loss(a - size * step_a, b - size * step_b)
            if value <= current:
                break
            size /= 2.0
        else:
            break  # no step lowers the loss: at the optimum, to rounding
        gain = current - value
        a, b, current = a - size * step_a, b - size * step_b, value
        if gain <= _TOLERANCE * max(1.0, abs(current)):
            break
    return Calibrator("sigmoid", {"a": a, "b": b})


def _folds(y: np.ndarray, seed: int) -> list[tuple[np.ndarray, np.ndarray]]:
    from sklearn.model_selection import StratifiedKFold

    splitter = StratifiedKFold(FOLDS, shuffle=True, random_state=seed)
    return list(splitter.split(np.zeros(len(y)), y))


def _log_loss(y: np.ndarray, proba: np.ndarray, n_classes: int) -> float:
    """scikit-learn's log-loss (probabilities clipped to 1e-15 and renormalised), in numpy:
    its input checks took 27 ms a call, most of calibration's time on 2,000 rows."""
    clipped = np.clip(np.asarray(proba, dtype=np.float64), _EPS, 1.0)
    clipped /= clipped.sum(axis=1, keepdims=True)
    return round(float(-np.mean(np.log(clipped[np.arange(len(y)), y]))), 6)
