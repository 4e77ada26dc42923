"""Evaluation metrics per task, their direction, and a trivial baseline to compare with."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from conveyor.errors import InvalidInput
from conveyor.model.threshold import DEFAULT_THRESHOLD, labels
from conveyor.types import Task


@dataclass(frozen=True)
class Metric:
    name: str
    greater_is_better: bool
    tasks: tuple[Task, ...]


METRICS = {
    m.name: m
    for m in (
        Metric("roc_auc", True, (Task.BINARY,)),
        Metric("accuracy", True, (Task.BINARY, Task.MULTICLASS)),
        Metric("f1", True, (Task.BINARY,)),
        Metric("f1_macro", True, (Task.MULTICLASS,)),
        Metric("log_loss", False, (Task.BINARY, Task.MULTICLASS)),
        Metric("rmse", False, (Task.REGRESSION,)),
        Metric("mae", False, (Task.REGRESSION,)),
        Metric("r2", True, (Task.REGRESSION,)),
    )
}
_DEFAULT = {Task.BINARY: "roc_auc", Task.MULTICLASS: "f1_macro", Task.REGRESSION: "rmse"}


def default_metric(task: Task) -> str:
    return _DEFAULT[task]


def greater_is_better(name: str) -> bool:
    """Raises:
    InvalidInput: ``name`` is not a known metric (the message lists them).
    """
    if name not in METRICS:
        raise InvalidInput(
            f"unknown metric {name!r}; valid metrics: {', '.join(METRICS)}", field="metric"
        )
    return METRICS[name].greater_is_better


def compute_metrics(
    task: Task,
    y_true: np.ndarray,
    raw: np.ndarray,
    n_classes: int,
    *,
    threshold: float = DEFAULT_THRESHOLD,
) -> dict[str, float]:
    """Metrics of predictions ``raw`` against ``y_true``.

    For classifiers ``y_true`` holds class indices and ``raw`` class probabilities
    (n, n_classes); for regression both hold values. A binary model labels class 1 above
    ``threshold`` (its ``decision_threshold``).
    """
    return {
        name: metric_value(task, name, y_true, raw, n_classes, threshold=threshold)
        for name in _OF_TASK[task]
    }


_OF_TASK = {
    Task.REGRESSION: ("rmse", "mae", "r2"),
    Task.BINARY: ("accuracy", "log_loss", "f1", "roc_auc"),
    Task.MULTICLASS: ("accuracy", "log_loss", "f1_macro"),
}


def metric_value(
    task: Task,
    name: str,
    y_true: np.ndarray,
    raw: np.ndarray,
    n_classes: int,
    *,
    threshold: float = DEFAULT_THRESHOLD,
) -> float:
    """One of ``compute_metrics``' values alone: what a search scores a blend of candidates
    on many times over (``conveyor.model.ensemble``)."""
    # Imported here: scikit-learn takes most of a second to import, and every CLI command
    # would pay for it.
    from sklearn import metrics as skm

    if task is Task.REGRESSION:
        if name == "rmse":
            return float(np.sqrt(skm.mean_squared_error(y_true, raw)))
        if name == "mae":
            return float(skm.mean_absolute_error(y_true, raw))
        return float(skm.r2_score(y_true, raw))
    proba = np.clip(np.asarray(raw, dtype=np.float64), 1e-15, 1.0)
    proba = proba / proba.sum(axis=1, keepdims=True)
    if name == "log_loss":
        return float(skm.log_loss(y_true, proba, labels=list(range(n_classes))))
    if name == "roc_auc":
        both_present = len(np.unique(y_true)) == 2
        return float(skm.roc_auc_score(y_true, proba[:, 1])) if both_present else float("nan")
    if task is Task.BINARY and threshold != DEFAULT_THRESHOLD:
        predicted = labels(proba[:, 1], threshold)
    else:
        predicted = proba.argmax(axis=1)
    if name == "accuracy":
        return float(skm.accuracy_score(y_true, predicted))
    if name == "f1":
        return float(skm.f1_score(y_true, predicted, zero_division=0))
    return float(
        skm.f1_score(
            y_true, predicted, average="macro", labels=list(range(n_classes)), zero_division=0
        )
    )


def baseline_metrics(
    task: Task, y_train: np.ndarray, y_test: np.ndarray, n_classes: int
) -> dict[str, float]:
    """The same metrics for a model that ignores its inputs: the training mean, or the
    training class frequencies (so it always predicts the majority class)."""
    if task is Task.REGRESSION:
        raw = np.full(len(y_test), float(np.mean(y_train)))
        return compute_metrics(task, y_test, raw, n_classes)
    frequencies = np.bincount(y_train.astype(np.int64), minlength=n_classes) / len(y_train)
    raw = np.tile(frequencies, (len(y_test), 1))
    return compute_metrics(task, y_test, raw, n_classes)
