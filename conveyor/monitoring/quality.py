"""Ground truth: actual outcomes sent back for recorded inferences, and the live quality of
each model version they give, over a time window.

Feedback items: partition ``feedback#<project>``, sort key ``<received ISO time>#<request
id>``, so a window is one key-range query; the latest feedback for a request wins. As with
SageMaker's ground-truth merge, feedback is stored as it comes and joined to the records
when quality is computed: it may arrive before its record is written (``conveyor.monitoring
.feedback`` takes and stores it).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import numpy as np

from conveyor.errors import NotFound
from conveyor.inference.records import partition as inference_partition
from conveyor.monitoring.feedback import RECORD_LOOKBACK, Scalar, feedback_partition
from conveyor.monitoring.feedback import outcome_label as _label
from conveyor.registry import Registry
from conveyor.tables import Item, Table
from conveyor.types import Task, to_iso, utcnow

MIN_LABELLED_ROWS = 20


@dataclass(frozen=True)
class VersionQuality:
    version: int
    metric: str  # the headline metric: the version's primary one when it can be computed live
    value: float | None  # None: fewer than MIN_LABELLED_ROWS labelled rows
    count: int  # labelled rows
    metrics: dict[str, float] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return {
            "version": self.version,
            "metric": self.metric,
            "value": self.value,
            "count": self.count,
            "metrics": self.metrics,
        }


def live_quality(
    table: Table,
    project: str,
    *,
    since: datetime,
    until: datetime | None = None,
    registry: Registry | None = None,
    min_rows: int = MIN_LABELLED_ROWS,
) -> list[VersionQuality]:
    """Quality per model version, from feedback received in ``[since, until)``.

    Without ``registry`` the task is read off the outcomes (numbers that are not labels
    the model predicted: regression) and only accuracy or RMSE/MAE are computed; with it,
    ROC-AUC too for binary models, and the version's primary metric is the headline.
    """
    until = until or utcnow()
    rows = labelled_rows(table, project, since=since, until=until)
    by_version: dict[int, list[LabelledRow]] = {}
    for row in rows:
        by_version.setdefault(row.version, []).append(row)
    return [
        _quality(version, by_version[version], registry, project, min_rows)
        for version in sorted(by_version)
    ]


@dataclass(frozen=True)
class LabelledRow:
    version: int
    request_id: str
    inputs: dict[str, Any] | None
    prediction: Any
    probabilities: list[float] | None
    actual: Scalar


def labelled_rows(
    table: Table, project: str, *, since: datetime, until: datetime
) -> list[LabelledRow]:
    """Recorded rows with their actual outcome, for feedback received in ``[since, until)``."""
    feedback = _latest_feedback(
        table.query(feedback_partition(project), sk_gte=to_iso(since), sk_lt=to_iso(until))
    )
    if not feedback:
        return []
    records = table.query(
        inference_partition(project),
        sk_gte=to_iso(since - RECORD_LOOKBACK),
        sk_lt=to_iso(until),
    )
    rows = []
    for record in records:
        actual = feedback.get(record["request_id"])
        outputs = record.get("outputs")
        if actual is None or not outputs or record.get("model_version") is None:
            continue
        predictions = outputs["predictions"]
        actuals = actual if isinstance(actual, list) else [actual]
        if len(actuals) != len(predictions):
            continue  # one outcome per row, or it cannot be joined
        probabilities = outputs.get("probabilities") or [None] * len(predictions)
        inputs = record.get("inputs") or [None] * len(predictions)
        for prediction, proba, row_inputs, outcome in zip(
            predictions, probabilities, inputs, actuals, strict=True
        ):
            rows.append(
                LabelledRow(
                    int(record["model_version"]),
                    record["request_id"],
                    row_inputs,
                    prediction,
                    proba,
                    outcome,
                )
            )
    return rows


def _latest_feedback(items: Iterable[Item]) -> dict[str, Any]:
    latest: dict[str, Any] = {}
    for item in items:  # ascending by received time: later feedback replaces earlier
        latest[item["request_id"]] = item["actual"]
    return latest


def _quality(
    version: int,
    rows: list[LabelledRow],
    registry: Registry | None,
    project: str,
    min_rows: int,
) -> VersionQuality:
    task, classes, primary = _version_facts(registry, project, version, rows)
    metrics = _metrics(task, classes, rows) if len(rows) >= min_rows else {}
    headline = primary if primary in metrics else _fallback_metric(task)
    return VersionQuality(
        version=version,
        metric=headline,
        value=metrics.get(headline),
        count=len(rows),
        metrics=metrics,
    )


def _fallback_metric(task: Task) -> str:
    return "rmse" if task is Task.REGRESSION else "accuracy"


def _version_facts(
    registry: Registry | None, project: str, version: int, rows: list[LabelledRow]
) -> tuple[Task, list[Any] | None, str | None]:
    if registry is not None:
        try:
            model = registry.get_version(project, version)
        except NotFound:
            model = None
        if model is not None:
            return model.task, model.input_schema.get("classes"), model.primary_metric
    regression = all(r.probabilities is None for r in rows)
    return (Task.REGRESSION if regression else Task.MULTICLASS), None, None


def _metrics(task: Task, classes: list[Any] | None, rows: list[LabelledRow]) -> dict[str, float]:
    """The metrics evaluation computes (``conveyor.model.metrics``), so that whichever a
    version's primary metric is, live quality has it; those that need what a row lacks
    (class probabilities, the version's classes) are left out rather than guessed."""
    from conveyor.model.metrics import compute_metrics

    if task is Task.REGRESSION:
        try:
            actual = np.array([float(r.actual) for r in rows])
            predicted = np.array([float(r.prediction) for r in rows])
        except (TypeError, ValueError):
            return {}  # outcomes that are not numbers cannot score a regression
        return _finite(compute_metrics(task, actual, predicted, 0))
    # Labels compare as text: feedback may send 1 where the model's class is "1" or True.
    labels = [_label(c) for c in classes] if classes else None
    if labels and all(
        r.probabilities is not None and len(r.probabilities) == len(labels) for r in rows
    ):
        index = {label: i for i, label in enumerate(labels)}
        known = [r for r in rows if _label(r.actual) in index]
        if known:
            truth = np.array([index[_label(r.actual)] for r in known])
            scores = np.array([r.probabilities for r in known], dtype=np.float64)
            metrics = _finite(compute_metrics(task, truth, scores, len(labels)))
            # An outcome the model has no class for is a miss, not a row to drop.
            metrics["accuracy"] = float(
                np.mean([_label(r.prediction) == _label(r.actual) for r in rows])
            )
            if task is Task.BINARY:
                # The labels served (at the version's decision threshold), as accuracy's.
                metrics["f1"] = _served_f1(rows, labels[1])
            return metrics
    return _label_metrics(task, rows)


def _label_metrics(task: Task, rows: list[LabelledRow]) -> dict[str, float]:
    """What predicted labels alone give: accuracy, and F1 (macro for multiclass)."""
    from sklearn.metrics import f1_score

    predicted = [_label(r.prediction) for r in rows]
    actual = [_label(r.actual) for r in rows]
    metrics = {"accuracy": float(np.mean([p == a for p, a in zip(predicted, actual, strict=True)]))}
    if task is Task.MULTICLASS:
        metrics["f1_macro"] = float(f1_score(actual, predicted, average="macro", zero_division=0))
    return metrics


def _served_f1(rows: list[LabelledRow], positive: str) -> float:
    """F1 of the labels the rows were served, ``positive`` the class it is of."""
    from sklearn.metrics import f1_score

    served = [_label(r.prediction) == positive for r in rows]
    actual = [_label(r.actual) == positive for r in rows]
    return float(f1_score(actual, served, zero_division=0))


def _finite(metrics: dict[str, float]) -> dict[str, float]:
    # ROC-AUC of a window holding one class is undefined: no value, not NaN.
    return {name: value for name, value in metrics.items() if np.isfinite(value)}
