"""CloudWatch metrics of the AWS backend, as embedded metric format (EMF) log lines.

A Lambda handler prints one JSON document per measurement; CloudWatch Logs extracts the
metrics from it. Nothing on the request path calls ``PutMetricData``: no extra latency, no
extra failure, no per-call price.

The envelope is written here rather than with aws-lambda-powertools' ``Metrics``: that
utility keeps its metric set in state shared by every instance of the process, adds a
``service`` dimension unless told otherwise, and when a set reaches 100 metrics or a metric
100 values it prints the document to stdout by itself. conveyor wants a pure function that
builds one document and refuses a document over a limit, so that what is emitted is exactly
what the alarms in :mod:`conveyor.metrics.cloudwatch_alarms` watch.

The request metrics mean what the Prometheus ones in :mod:`conveyor.metrics.prometheus` mean
(``conveyor_requests``, ``conveyor_request_duration_seconds``, ``conveyor_rows_predicted``),
and the drift metrics what ``conveyor_drift_status`` says.
"""

from __future__ import annotations

import json
import math
import sys
import time
from collections.abc import Mapping, Sequence
from typing import Any, TextIO

from conveyor.errors import InvalidInput
from conveyor.metrics.labels import failed_stage
from conveyor.types import Run, from_iso

DEFAULT_NAMESPACE = "Conveyor"

# The limits of the embedded metric format specification and of CloudWatch's Dimension type.
MAX_DIMENSIONS_PER_SET = 30
MAX_METRICS_PER_DOCUMENT = 100
MAX_VALUES_PER_METRIC = 100
MAX_NAME_CHARS = 255
MAX_DIMENSION_VALUE_CHARS = 1024

# CloudWatch's StandardUnit values.
UNITS = frozenset(
    {
        "Seconds",
        "Microseconds",
        "Milliseconds",
        "Bytes",
        "Kilobytes",
        "Megabytes",
        "Gigabytes",
        "Terabytes",
        "Bits",
        "Kilobits",
        "Megabits",
        "Gigabits",
        "Terabits",
        "Percent",
        "Count",
        "Bytes/Second",
        "Kilobytes/Second",
        "Megabytes/Second",
        "Gigabytes/Second",
        "Terabytes/Second",
        "Bits/Second",
        "Kilobits/Second",
        "Megabits/Second",
        "Gigabits/Second",
        "Terabits/Second",
        "Count/Second",
        "None",
    }
)

# Dimension and metric names: the alarms must name them exactly as they are emitted.
PROJECT = "Project"
VERSION = "Version"
STAGE = "Stage"
QUALITY_METRIC = "QualityMetric"
REQUESTS = "Requests"
LATENCY = "Latency"
ERRORS_5XX = "Errors5xx"
ERRORS_4XX = "Errors4xx"
ROWS_PREDICTED = "RowsPredicted"
DRIFT_STATUS = "DriftStatus"
DRIFTED_FEATURES = "DriftedFeatures"
MAX_DRIFT_SCORE = "MaxDriftScore"
STAGE_DURATION = "StageDuration"
LIVE_QUALITY = "LiveQuality"

MetricValues = float | Sequence[float]


def emf_document(
    namespace: str,
    dimensions: Mapping[str, str],
    metrics: Mapping[str, tuple[MetricValues, str]],
    *,
    timestamp_ms: int | None = None,
    properties: Mapping[str, Any] | None = None,
    dimension_sets: Sequence[Sequence[str]] | None = None,
) -> dict[str, Any]:
    """One EMF document: ``metrics`` (name → (value or values, unit)) under ``dimensions``.

    ``dimension_sets`` lists the combinations of dimension names CloudWatch aggregates by
    (each one a metric of its own, priced as such); by default one set of every dimension.
    ``properties`` ride along as top-level members: searchable in Logs Insights, no metric.

    Raises:
        InvalidInput: a name, unit, value or count outside the format's limits, named.
    """
    _check_name(namespace, "namespace")
    if namespace.startswith("AWS/"):
        raise InvalidInput(
            f"namespace {namespace!r}: names starting with 'AWS/' are AWS's own", field="namespace"
        )
    for name, text in dimensions.items():
        _check_name(name, "dimension name")
        if not isinstance(text, str) or not text.strip():
            raise InvalidInput(
                f"dimension {name!r} needs a non-blank string value, not {text!r}",
                field="dimensions",
            )
        if not (name.isascii() and text.isascii()) or name.startswith(":"):
            raise InvalidInput(
                f"dimension {name!r}={text!r}: CloudWatch takes ASCII dimension names and "
                "values only, and no name starting with ':'",
                field="dimensions",
            )
        if len(text) > MAX_DIMENSION_VALUE_CHARS:
            raise InvalidInput(
                f"dimension {name!r} has a value of {len(text)} characters; CloudWatch "
                f"takes at most {MAX_DIMENSION_VALUE_CHARS}",
                field="dimensions",
            )
    sets = [list(s) for s in dimension_sets] if dimension_sets is not None else [list(dimensions)]
    for names in sets:
        if len(names) > MAX_DIMENSIONS_PER_SET:
            raise InvalidInput(
                f"a dimension set has {len(names)} dimensions; the embedded metric format "
                f"allows at most {MAX_DIMENSIONS_PER_SET} per set",
                field="dimensions",
            )
        unknown = [name for name in names if name not in dimensions]
        if unknown:
            raise InvalidInput(
                f"dimension set names {unknown} without a value in dimensions",
                field="dimensions",
            )
    if not metrics:
        raise _metric_error("an EMF document needs at least one metric")
    if len(metrics) > MAX_METRICS_PER_DOCUMENT:
        raise _metric_error(
            f"{len(metrics)} metrics in one document; the embedded metric format allows at "
            f"most {MAX_METRICS_PER_DOCUMENT} per document"
        )
    definitions = []
    values: dict[str, float | list[float]] = {}
    for name, (value, unit) in metrics.items():
        _check_name(name, "metric name")
        if name in dimensions:
            raise _metric_error(
                f"{name!r} is both a dimension and a metric; each is a top-level member of "
                "the document, so their names must differ"
            )
        if unit not in UNITS:
            raise _metric_error(
                f"metric {name!r} has unit {unit!r}, which CloudWatch does not know; use one "
                f"of {', '.join(sorted(UNITS))}"
            )
        definitions.append({"Name": name, "Unit": unit})
        values[name] = _check_values(name, value)
    taken = {"_aws", *dimensions, *metrics}
    extra = dict(properties or {})
    clashes = sorted(taken & set(extra))
    if clashes:
        raise InvalidInput(
            f"properties {clashes} would overwrite the document's own members", field="properties"
        )
    return {
        "_aws": {
            "Timestamp": int(time.time() * 1000) if timestamp_ms is None else int(timestamp_ms),
            "CloudWatchMetrics": [
                {"Namespace": namespace, "Dimensions": sets, "Metrics": definitions}
            ],
        },
        **dict(dimensions),
        **values,
        **extra,
    }


def emit(document: Mapping[str, Any], stream: TextIO | None = None) -> None:
    """Write ``document`` as one compact JSON line (Lambda sends stdout to CloudWatch Logs)."""
    out = sys.stdout if stream is None else stream
    out.write(json.dumps(document, separators=(",", ":"), allow_nan=False) + "\n")
    out.flush()


def request_metrics(
    project: str,
    version: int | None,
    status: int,
    latency_ms: float,
    rows: int,
    namespace: str = DEFAULT_NAMESPACE,
    *,
    timestamp_ms: int | None = None,
) -> dict[str, Any]:
    """The metrics of one answered ``/predict`` request.

    ``Requests`` is 1; ``Errors5xx`` and ``Errors4xx`` are 1 or 0 (always present, so that
    ``Errors5xx / Requests`` has a datapoint in every period with traffic); ``RowsPredicted``
    counts the rows of a successful answer, 0 otherwise, as ``conveyor_rows_predicted``.
    Every metric is aggregated by ``Project`` (what the alarms watch) and, once a version
    answered, by ``Project`` + ``Version`` too (for dashboards comparing versions).
    """
    dimensions = {PROJECT: project}
    sets: list[list[str]] = [[PROJECT]]
    if version is not None:
        dimensions[VERSION] = str(version)
        sets.append([PROJECT, VERSION])
    return emf_document(
        namespace,
        dimensions,
        {
            REQUESTS: (1.0, "Count"),
            LATENCY: (float(latency_ms), "Milliseconds"),
            ERRORS_5XX: (1.0 if status >= 500 else 0.0, "Count"),
            ERRORS_4XX: (1.0 if 400 <= status < 500 else 0.0, "Count"),
            ROWS_PREDICTED: (float(rows) if status < 400 else 0.0, "Count"),
        },
        timestamp_ms=timestamp_ms,
        properties={"status": status},
        dimension_sets=sets,
    )


class EmfMetrics:
    """The ``Metrics`` port on AWS: each request becomes one EMF document on ``stream``
    (stdout, which Lambda sends to CloudWatch Logs)."""

    def __init__(self, namespace: str = DEFAULT_NAMESPACE, stream: TextIO | None = None) -> None:
        self.namespace = namespace
        self.stream = stream

    def observe(
        self, project: str, version: int | None, status: int, seconds: float, rows: int
    ) -> None:
        emit(
            request_metrics(project, version, status, seconds * 1000.0, rows, self.namespace),
            self.stream,
        )


def drift_metrics(
    project: str, report_item: Mapping[str, Any], namespace: str = DEFAULT_NAMESPACE
) -> dict[str, Any] | None:
    """The metrics of one drift check (a stored ``drift#<project>`` item), timed when it ran.

    ``DriftStatus`` is 1 for DRIFT and 0 for OK, as the local ``drift_status`` alarm metric;
    a check with too few rows to decide (INSUFFICIENT_DATA) is no datapoint, so None is
    returned. ``DriftedFeatures`` counts the drifted features and ``MaxDriftScore`` is the
    largest feature score. Each feature's score goes in the document as a property, not a
    metric: one metric per feature would be a custom metric (and a price) per column.
    """
    status = report_item.get("status")
    if status not in ("OK", "DRIFT"):
        return None
    features = report_item.get("features") or {}
    scores = {
        name: float(result["score"])
        for name, result in features.items()
        if isinstance(result, Mapping) and isinstance(result.get("score"), int | float)
    }
    drifted = [
        name
        for name, result in features.items()
        if isinstance(result, Mapping) and result.get("verdict") == "drift"
    ]
    metrics: dict[str, tuple[MetricValues, str]] = {
        DRIFT_STATUS: (1.0 if status == "DRIFT" else 0.0, "None"),
        DRIFTED_FEATURES: (float(len(drifted)), "Count"),
    }
    if scores:
        metrics[MAX_DRIFT_SCORE] = (max(scores.values()), "None")
    checked_at = report_item.get("checked_at")
    return emf_document(
        namespace,
        {PROJECT: project},
        metrics,
        timestamp_ms=_ms(from_iso(checked_at).timestamp()) if checked_at else None,
        properties={
            "model_version": report_item.get("model_version"),
            "drifted": drifted,
            "feature_scores": scores,
        },
    )


def pipeline_stage_metrics(run: Run, namespace: str = DEFAULT_NAMESPACE) -> list[dict[str, Any]]:
    """One document per finished stage of ``run``: ``StageDuration`` in seconds, by
    ``Project`` and ``Stage`` (as ``conveyor_pipeline_stage_duration_seconds``), timed when
    the stage finished. The outcome goes along as a property."""
    failed = failed_stage(run)
    documents = []
    for stage, timing in run.stages.items():
        seconds = timing.seconds
        if seconds is None or timing.finished_at is None:
            continue
        documents.append(
            emf_document(
                namespace,
                {PROJECT: run.project, STAGE: stage},
                {STAGE_DURATION: (seconds, "Seconds")},
                timestamp_ms=_ms(timing.finished_at.timestamp()),
                properties={
                    "run_id": run.run_id,
                    "outcome": "failure" if stage == failed else "success",
                },
            )
        )
    return documents


def live_quality_metrics(
    project: str,
    version: int,
    metrics: Mapping[str, float],
    namespace: str = DEFAULT_NAMESPACE,
    *,
    timestamp_ms: int | None = None,
) -> list[dict[str, Any]]:
    """One document per live quality metric (``roc_auc``, ``rmse`` …) of the deployed
    version: ``LiveQuality`` by ``Project`` and ``QualityMetric``, what a ``live_quality``
    alarm watches."""
    return [
        emf_document(
            namespace,
            {PROJECT: project, QUALITY_METRIC: name},
            {LIVE_QUALITY: (float(value), "None")},
            timestamp_ms=timestamp_ms,
            properties={"model_version": version},
        )
        for name, value in sorted(metrics.items())
    ]


def _check_name(name: object, what: str) -> None:
    if not isinstance(name, str) or not name.strip():
        raise _metric_error(f"a {what} must be a non-blank string, not {name!r}")
    if len(name) > MAX_NAME_CHARS:
        raise _metric_error(
            f"{what} {name[:40]!r}… has {len(name)} characters; CloudWatch takes at most "
            f"{MAX_NAME_CHARS}"
        )


def _check_values(name: str, value: object) -> float | list[float]:
    if isinstance(value, int | float) and not isinstance(value, bool):
        return _finite(name, value)
    if isinstance(value, Sequence) and not isinstance(value, str):
        if not value:
            raise _metric_error(f"metric {name!r} has an empty list of values")
        if len(value) > MAX_VALUES_PER_METRIC:
            raise _metric_error(
                f"metric {name!r} has {len(value)} values; the embedded metric format allows "
                f"at most {MAX_VALUES_PER_METRIC} values per metric"
            )
        return [_finite(name, v) for v in value]
    raise _metric_error(f"metric {name!r} needs a number or a list of numbers")


def _finite(name: str, value: object) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise _metric_error(f"metric {name!r} has a value {value!r} that is no number")
    number = float(value)
    if not math.isfinite(number):
        raise _metric_error(
            f"metric {name!r} has the value {number}; CloudWatch takes finite numbers only"
        )
    return number


def _ms(seconds: float) -> int:
    return round(seconds * 1000)


def _metric_error(message: str) -> InvalidInput:
    """A metric refused: ``field`` is the ``metrics`` the caller passed."""
    return InvalidInput(message, field="metrics")
