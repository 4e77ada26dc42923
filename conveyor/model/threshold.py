"""The binary decision threshold: the probability of class 1 above which a row is labelled
class 1, chosen on rows the model did not learn from for the project's metric.

Only a metric of the labels depends on it (accuracy, F1). A metric of the probabilities
(ROC-AUC, log-loss) does not: there it stays 0.5, which on calibrated probabilities is the
cut that maximises expected accuracy, and moving it would change the labels users see for no
gain on the metric they chose.
"""

from __future__ import annotations

from typing import Any

import numpy as np

DEFAULT_THRESHOLD = 0.5
# The metrics of labels whose threshold is chosen (``conveyor.model.metrics``' binary ones).
LABEL_METRICS = frozenset({"accuracy", "f1"})
# The threshold moves from 0.5 only for a metric this share (1%) better on the rows it is
# chosen on: it is the best of hundreds of cuts there, which flatters it (actg175: F1 0.3%
# better out of fold at 0.37, 3.9% worse on the test split).
MIN_GAIN = 0.01


def choose_threshold(y: np.ndarray, positive: np.ndarray, metric: str) -> dict[str, Any]:
    """The training record's ``threshold``: ``{"value", "metric", "score"...}`` with
    ``value`` maximising ``metric`` on ``y`` (0/1) against ``positive`` (probabilities of
    class 1) when that is ``MIN_GAIN`` better than at 0.5; 0.5 otherwise, and for a metric
    that does not depend on it.

    A row is labelled 1 when its probability is above the value. Between two rows'
    probabilities the midpoint is taken; ties in the metric go to the value nearest 0.5.
    """
    if metric not in LABEL_METRICS or len(y) == 0:
        return {
            "value": DEFAULT_THRESHOLD,
            "metric": metric,
            "reason": f"{metric} does not depend on the threshold: 0.5 on the probabilities",
        }
    y = np.asarray(y).astype(np.int64)
    p = np.asarray(positive, dtype=np.float64)
    order = np.argsort(-p, kind="stable")
    ranked, truth = p[order], y[order]
    # Labelling the top i rows 1, for every i at which the probability changes (and none).
    last = np.r_[np.flatnonzero(np.diff(ranked) != 0), len(ranked) - 1]
    tp = np.r_[0, np.cumsum(truth)[last]].astype(np.float64)
    fp = np.r_[0, np.cumsum(1 - truth)[last]].astype(np.float64)
    positives, negatives = float(truth.sum()), float(len(truth) - truth.sum())
    values = ranked[last]  # the distinct probabilities, highest first
    cuts = np.r_[1.0, (values + np.r_[values[1:], 0.0]) / 2.0]
    if metric == "accuracy":
        scores = (tp + (negatives - fp)) / len(truth)
    else:
        denominator = 2 * tp + fp + (positives - tp)
        scores = np.divide(2 * tp, denominator, out=np.zeros_like(tp), where=denominator > 0)
    best = scores.max()
    candidates = np.flatnonzero(scores >= best - 1e-12)
    chosen = int(candidates[np.argmin(np.abs(cuts[candidates] - DEFAULT_THRESHOLD))])
    at_half = float(_score_at(truth, ranked, DEFAULT_THRESHOLD, metric))
    said = {"metric": metric, "score": round(float(scores[chosen]), 6)}
    said["score_at_0.5"] = round(at_half, 6)
    if float(scores[chosen]) < at_half * (1.0 + MIN_GAIN):
        reason = f"the best threshold was not {MIN_GAIN:.0%} better than 0.5 on these rows"
        return {"value": DEFAULT_THRESHOLD, **said, "reason": reason}
    return {"value": round(float(cuts[chosen]), 6), **said}


def labels(positive: np.ndarray, threshold: float) -> np.ndarray:
    """Class indices (0/1) of probabilities of class 1 cut at ``threshold``."""
    return (np.asarray(positive) > threshold).astype(np.int64)


def _score_at(y: np.ndarray, p: np.ndarray, threshold: float, metric: str) -> float:
    predicted = labels(p, threshold)
    if metric == "accuracy":
        return float(np.mean(predicted == y))
    tp = float(np.sum((predicted == 1) & (y == 1)))
    wrong = float(np.sum(predicted != y))
    return 2 * tp / (2 * tp + wrong) if tp + wrong > 0 else 0.0
