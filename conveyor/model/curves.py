"""A model's curves, bounded in size so a version's details stay a few tens of kilobytes:
ROC and precision-recall with the decision threshold's point, a reliability curve and
per-class scores on the test split (scikit-learn's metrics), residuals against predictions
for regression, and the validation metric over boosting rounds from LightGBM's own record.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from conveyor.model.threshold import DEFAULT_THRESHOLD
from conveyor.types import Task

MAX_POINTS = 300  # a curve drawn at a few hundred pixels loses nothing at this many points
RESIDUAL_POINTS = 500
CALIBRATION_BINS = 10
_DIGITS = 5


def evaluation_curves(
    task: Task,
    y_true: np.ndarray,
    raw: np.ndarray,
    *,
    labels: list[str],
    threshold: float = DEFAULT_THRESHOLD,
    seed: int = 0,
) -> dict[str, Any]:
    """The curves of predictions ``raw`` against ``y_true`` (class indices and class
    probabilities for classifiers, values for regression), each None where the task has none.

    Args:
        labels: the class names, in the order of ``raw``'s columns (classifiers).
        threshold: the probability of the positive class above which a binary model answers
            it: its point is marked on the ROC and precision-recall curves.
        seed: which rows the residual sample keeps.
    """
    curves: dict[str, Any] = {
        "roc": None,
        "precision_recall": None,
        "calibration": None,
        "per_class": None,
        "residuals": None,
    }
    y = np.asarray(y_true)
    if task is Task.REGRESSION:
        curves["residuals"] = residual_sample(y, raw, seed=seed)
        return curves
    probabilities = np.asarray(raw, dtype=float).reshape(len(y), -1)
    y = y.astype(np.int64)
    if task is Task.BINARY:
        positive = probabilities[:, 1]
        if len(np.unique(y)) == 2:  # one class alone has no false or no true positives
            curves["roc"] = roc(y, positive, threshold)
            curves["precision_recall"] = precision_recall(y, positive, threshold)
        curves["calibration"] = calibration(y, positive, f"P({labels[1]})")
    else:
        predicted = probabilities.argmax(axis=1)
        confidence = probabilities.max(axis=1)
        # Top-label calibration: how often the most probable class is right, by its probability.
        correct = (predicted == y).astype(np.int64)
        curves["calibration"] = calibration(correct, confidence, "P(predicted class)")
        curves["per_class"] = per_class(y, predicted, labels)
    return curves


def roc(y: np.ndarray, score: np.ndarray, threshold: float) -> dict[str, Any]:
    """False and true positive rates over every threshold, the area under them, and the rates
    at ``threshold``."""
    from sklearn.metrics import roc_auc_score, roc_curve

    fpr, tpr, _ = roc_curve(y, score)
    point = _at_threshold(y, score, threshold)
    return {
        **_points(fpr=fpr, tpr=tpr),
        "auc": float(roc_auc_score(y, score)),
        "threshold": {"value": threshold, "fpr": point["fpr"], "tpr": point["tpr"]},
    }


def precision_recall(y: np.ndarray, score: np.ndarray, threshold: float) -> dict[str, Any]:
    """Precision against recall (recall rising), average precision, the positive share (a
    model guessing at random scores it), and the pair at ``threshold``."""
    from sklearn.metrics import average_precision_score, precision_recall_curve

    precision, recall, _ = precision_recall_curve(y, score)
    point = _at_threshold(y, score, threshold)
    return {
        # scikit-learn gives recall falling; a chart wants its x rising.
        **_points(recall=recall[::-1], precision=precision[::-1]),
        "average_precision": float(average_precision_score(y, score)),
        "positive_share": float(np.mean(y == 1)),
        "threshold": {"value": threshold, "recall": point["tpr"], "precision": point["precision"]},
    }


def calibration(y: np.ndarray, probability: np.ndarray, label: str) -> dict[str, Any]:
    """The reliability curve in ``CALIBRATION_BINS`` equal-width bins (empty bins left out):
    each bin's mean predicted probability, the share of positives in it, and its rows."""
    from sklearn.calibration import calibration_curve

    observed, predicted = calibration_curve(
        y, probability, n_bins=CALIBRATION_BINS, strategy="uniform"
    )
    counts, _ = np.histogram(probability, bins=CALIBRATION_BINS, range=(0.0, 1.0))
    return {
        "label": label,
        "predicted": _rounded(predicted),
        "observed": _rounded(observed),
        "rows": [int(n) for n in counts if n > 0],
    }


def per_class(y: np.ndarray, predicted: np.ndarray, labels: list[str]) -> list[dict[str, Any]]:
    """Precision, recall, F1 and support of each class (0 where a class was never predicted)."""
    from sklearn.metrics import precision_recall_fscore_support

    precision, recall, f1, support = precision_recall_fscore_support(
        y, predicted, labels=list(range(len(labels))), zero_division=0
    )
    return [
        {
            "label": str(label),
            "precision": float(precision[i]),
            "recall": float(recall[i]),
            "f1": float(f1[i]),
            "support": int(support[i]),
        }
        for i, label in enumerate(labels)
    ]


def residual_sample(y: np.ndarray, raw: np.ndarray, *, seed: int) -> dict[str, Any]:
    """Residuals (true - predicted) against the prediction, for at most ``RESIDUAL_POINTS``
    rows drawn at random, ordered by prediction; ``rows`` is how many there were."""
    predicted = np.asarray(raw, dtype=float).reshape(-1)
    residual = np.asarray(y, dtype=float) - predicted
    finite = np.flatnonzero(np.isfinite(residual))
    if len(finite) > RESIDUAL_POINTS:
        finite = np.sort(np.random.default_rng(seed).choice(finite, RESIDUAL_POINTS, replace=False))
    order = finite[np.argsort(predicted[finite], kind="stable")]
    return {
        "predicted": _rounded(predicted[order]),
        "residual": _rounded(residual[order]),
        "rows": len(residual),
    }


def learning_curve(
    recorded: dict[str, list[float]], best_iteration: int, source: str
) -> dict[str, Any] | None:
    """LightGBM's recorded evaluation as the training record keeps it: the first metric's
    value per boosting round (at most ``MAX_POINTS`` of them, the best round always among
    them), and the round early stopping chose. None when nothing was recorded.

    Args:
        recorded: metric name -> one value per round (``lgb.record_evaluation``'s per data
            set, or ``lgb.cv``'s means with their ``-mean`` suffix taken off).
        source: what the values were measured on, in words ("validation split", ...).
    """
    if not recorded:
        return None
    metric, values = next(iter(recorded.items()))
    if not values:
        return None
    kept = _spread(len(values), always=best_iteration - 1)
    return {
        "metric": metric,
        "source": source,
        "iterations": [int(i) + 1 for i in kept],
        "values": _rounded(np.asarray(values, dtype=float)[kept]),
        "best_iteration": int(best_iteration),
        "rounds": len(values),
    }


def _at_threshold(y: np.ndarray, score: np.ndarray, threshold: float) -> dict[str, float | None]:
    """The rates a binary model answers with, labelling positive the rows above ``threshold``
    (None where a rate has no rows to be measured on)."""
    from sklearn.metrics import confusion_matrix

    answered = (score > threshold).astype(np.int64)
    tn, fp, fn, tp = (int(n) for n in confusion_matrix(y, answered, labels=[0, 1]).ravel())
    return {
        "fpr": _ratio(fp, fp + tn),
        "tpr": _ratio(tp, tp + fn),
        "precision": _ratio(tp, tp + fp),
    }


def _points(**curves: np.ndarray) -> dict[str, list[float]]:
    """Curves of one length, each cut to the same ``MAX_POINTS`` points at most."""
    kept = _spread(len(next(iter(curves.values()))))
    return {name: _rounded(values[kept]) for name, values in curves.items()}


def _ratio(part: int, whole: int) -> float | None:
    return part / whole if whole else None


def _spread(n: int, *, always: int | None = None) -> np.ndarray:
    """At most ``MAX_POINTS`` indices of ``n``, evenly spread, first and last kept (and
    ``always``, when it is one of them)."""
    if n <= MAX_POINTS:
        return np.arange(n)
    kept = np.unique(np.linspace(0, n - 1, MAX_POINTS - 1).round().astype(np.int64))
    if always is not None and 0 <= always < n:
        kept = np.union1d(kept, [always])
    return kept


def _rounded(values: np.ndarray) -> list[float]:
    return [round(float(v), _DIGITS) for v in values]
