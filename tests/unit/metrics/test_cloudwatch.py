"""CloudWatch embedded metric format: documents CloudWatch Logs can turn into metrics."""

from __future__ import annotations

import io
import json
from datetime import timedelta
from typing import Any

import jsonschema
import pytest

from conveyor.errors import InvalidInput
from conveyor.metrics.cloudwatch import (
    drift_metrics,
    emf_document,
    emit,
    live_quality_metrics,
    pipeline_stage_metrics,
    request_metrics,
)
from conveyor.types import ObjectRef, Run, RunState, StageTiming, utcnow

# The document structure of CloudWatch's "Specification: Embedded metric format": the root
# holds an `_aws` metadata object with a millisecond Timestamp and MetricDirectives; each
# directive names a Namespace, dimension sets (arrays of at most 30 names) and at most 100
# metric definitions (a Name of 1-255 characters and an optional Unit from CloudWatch's list).
UNITS = [
    "Seconds", "Microseconds", "Milliseconds", "Bytes", "Kilobytes", "Megabytes", "Gigabytes",
    "Terabytes", "Bits", "Kilobits", "Megabits", "Gigabits", "Terabits", "Percent", "Count",
    "Bytes/Second", "Kilobytes/Second", "Megabytes/Second", "Gigabytes/Second",
    "Terabytes/Second", "Bits/Second", "Kilobits/Second", "Megabits/Second", "Gigabits/Second",
    "Terabits/Second", "Count/Second", "None",
]  # fmt: skip
EMF_SCHEMA: dict[str, Any] = {
    "type": "object",
    "required": ["_aws"],
    "properties": {
        "_aws": {
            "type": "object",
            "required": ["Timestamp", "CloudWatchMetrics"],
            "additionalProperties": False,
            "properties": {
                "Timestamp": {"type": "integer", "minimum": 0},
                "CloudWatchMetrics": {
                    "type": "array",
                    "minItems": 1,
                    "items": {
                        "type": "object",
                        "required": ["Namespace", "Dimensions", "Metrics"],
                        "additionalProperties": False,
                        "properties": {
                            "Namespace": {"type": "string", "minLength": 1, "maxLength": 255},
                            "Dimensions": {
                                "type": "array",
                                "items": {
                                    "type": "array",
                                    "maxItems": 30,
                                    "items": {"type": "string", "minLength": 1},
                                },
                            },
                            "Metrics": {
                                "type": "array",
                                "maxItems": 100,
                                "items": {
                                    "type": "object",
                                    "required": ["Name"],
                                    "additionalProperties": False,
                                    "properties": {
                                        "Name": {
                                            "type": "string",
                                            "minLength": 1,
                                            "maxLength": 255,
                                        },
                                        "Unit": {"enum": UNITS},
                                    },
                                },
                            },
                        },
                    },
                },
            },
        }
    },
}


def assert_valid_emf(document: dict[str, Any]) -> None:
    """The schema, plus what a schema cannot say: every referenced member is at the root,
    dimensions as strings and metrics as a number or an array of at most 100 numbers."""
    jsonschema.validate(document, EMF_SCHEMA)
    for directive in document["_aws"]["CloudWatchMetrics"]:
        for dimension_set in directive["Dimensions"]:
            for name in dimension_set:
                assert isinstance(document[name], str), name
        for metric in directive["Metrics"]:
            value = document[metric["Name"]]
            if isinstance(value, list):
                assert 1 <= len(value) <= 100
                assert all(isinstance(v, int | float) for v in value)
            else:
                assert isinstance(value, int | float)
    json.dumps(document, allow_nan=False)  # valid JSON: no NaN or Infinity


def test_a_document_has_the_exact_envelope_and_its_values_round_trip_through_a_log_line() -> None:
    document = emf_document(
        "Conveyor",
        {"Project": "churn", "Version": "3"},
        {"Latency": ([12.5, 30.0, 7.25], "Milliseconds"), "Requests": (3, "Count")},
        timestamp_ms=1_700_000_000_123,
        properties={"request_id": "r-1"},
    )
    assert document == {
        "_aws": {
            "Timestamp": 1_700_000_000_123,
            "CloudWatchMetrics": [
                {
                    "Namespace": "Conveyor",
                    "Dimensions": [["Project", "Version"]],
                    "Metrics": [
                        {"Name": "Latency", "Unit": "Milliseconds"},
                        {"Name": "Requests", "Unit": "Count"},
                    ],
                }
            ],
        },
        "Project": "churn",
        "Version": "3",
        "Latency": [12.5, 30.0, 7.25],
        "Requests": 3.0,
        "request_id": "r-1",
    }
    assert_valid_emf(document)
    out = io.StringIO()
    emit(document, out)
    line = out.getvalue()
    assert line.endswith("\n") and line.count("\n") == 1  # one log event
    assert " " not in line  # compact
    assert json.loads(line) == document


def test_without_a_timestamp_the_document_is_timed_now() -> None:
    import time

    before = int(time.time() * 1000)
    document = emf_document("Conveyor", {"Project": "p"}, {"Requests": (1, "Count")})
    assert before <= document["_aws"]["Timestamp"] <= int(time.time() * 1000)


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        (
            {"dimensions": {f"d{i}": "x" for i in range(31)}},
            "at most 30 per set",
        ),
        (
            {"metrics": {f"m{i}": (1.0, "Count") for i in range(101)}},
            "at most 100 per document",
        ),
        (
            {"metrics": {"Latency": ([1.0] * 101, "Milliseconds")}},
            "at most 100 values per metric",
        ),
        ({"metrics": {"Latency": (1.0, "Millis")}}, "unit 'Millis'"),
        ({"metrics": {"": (1.0, "Count")}}, "non-blank"),
        ({"metrics": {"x" * 256: (1.0, "Count")}}, "at most 255"),
        ({"namespace": ""}, "namespace must be a non-blank"),
        ({"namespace": "N" * 256}, "at most 255"),
        ({"namespace": "AWS/Lambda"}, "AWS's own"),
        ({"dimensions": {"Project": ""}}, "non-blank string value"),
        ({"dimensions": {"Project": "x" * 1025}}, "at most 1024"),
        ({"dimensions": {"Project": "café"}}, "ASCII dimension names and values only"),
        ({"metrics": {"Latency": (float("nan"), "Milliseconds")}}, "finite numbers only"),
        ({"metrics": {"Latency": ([], "Milliseconds")}}, "empty list"),
        ({"metrics": {}}, "at least one metric"),
        ({"metrics": {"Project": (1.0, "Count")}}, "both a dimension and a metric"),
        ({"properties": {"_aws": {}}}, "overwrite"),
    ],
)
def test_documents_outside_the_format_s_limits_are_refused_naming_the_limit(
    kwargs: dict[str, Any], message: str
) -> None:
    arguments: dict[str, Any] = {
        "namespace": "Conveyor",
        "dimensions": {"Project": "churn"},
        "metrics": {"Requests": (1.0, "Count")},
    }
    properties = kwargs.pop("properties", None)
    arguments.update(kwargs)
    with pytest.raises(InvalidInput, match=message):
        emf_document(**arguments, properties=properties)


def test_the_limits_themselves_are_allowed() -> None:
    document = emf_document(
        "N" * 255,
        {f"d{i}": "x" for i in range(30)},
        {f"m{i}": ([1.0] * 100, "Count") for i in range(100)},
    )
    assert_valid_emf(document)


def test_a_request_counts_once_with_its_latency_and_rows_by_project_and_version() -> None:
    document = request_metrics("churn", 4, 200, 12.75, 32, "Conveyor", timestamp_ms=5)
    assert_valid_emf(document)
    directive = document["_aws"]["CloudWatchMetrics"][0]
    assert directive["Dimensions"] == [["Project"], ["Project", "Version"]]
    units = {m["Name"]: m["Unit"] for m in directive["Metrics"]}
    assert units == {
        "Requests": "Count",
        "Latency": "Milliseconds",
        "Errors5xx": "Count",
        "Errors4xx": "Count",
        "RowsPredicted": "Count",
    }
    assert (document["Project"], document["Version"]) == ("churn", "4")
    assert (document["Requests"], document["Latency"], document["RowsPredicted"]) == (1, 12.75, 32)
    assert (document["Errors5xx"], document["Errors4xx"]) == (0, 0)
    assert document["status"] == 200


@pytest.mark.parametrize(("status", "five", "four"), [(500, 1, 0), (503, 1, 0), (422, 0, 1)])
def test_an_error_counts_as_5xx_or_4xx_and_predicts_no_rows(
    status: int, five: int, four: int
) -> None:
    document = request_metrics("churn", 4, status, 3.0, 10)
    assert (document["Errors5xx"], document["Errors4xx"], document["RowsPredicted"]) == (
        five,
        four,
        0,
    )


def test_a_request_before_any_deployment_has_no_version_dimension() -> None:
    document = request_metrics("churn", None, 404, 1.0, 0)
    assert_valid_emf(document)
    assert document["_aws"]["CloudWatchMetrics"][0]["Dimensions"] == [["Project"]]
    assert "Version" not in document


def _drift_item(status: str) -> dict[str, Any]:
    return {
        "pk": "drift#churn",
        "sk": "2026-01-02T03:04:05.000000+00:00",
        "project": "churn",
        "checked_at": "2026-01-02T03:04:05.000000+00:00",
        "model_version": 2,
        "status": status,
        "drifted": ["tenure"],
        "features": {
            "tenure": {"score": 0.41, "verdict": "drift"},
            "plan": {"score": 0.02, "verdict": "ok"},
            "region": {"verdict": "ok"},
        },
    }


def test_a_drift_check_becomes_a_status_a_count_of_drifted_features_and_the_worst_score() -> None:
    document = drift_metrics("churn", _drift_item("DRIFT"), "Conveyor")
    assert document is not None
    assert_valid_emf(document)
    assert document["_aws"]["CloudWatchMetrics"][0]["Dimensions"] == [["Project"]]
    assert document["_aws"]["Timestamp"] == 1767323045000  # when the check ran
    assert (document["DriftStatus"], document["DriftedFeatures"]) == (1, 1)
    assert document["MaxDriftScore"] == 0.41
    assert document["feature_scores"] == {"tenure": 0.41, "plan": 0.02}
    ok = drift_metrics("churn", _drift_item("OK"), "Conveyor")
    assert ok is not None and ok["DriftStatus"] == 0


def test_a_drift_check_that_could_not_decide_is_no_datapoint() -> None:
    assert drift_metrics("churn", _drift_item("INSUFFICIENT_DATA")) is None


def test_each_finished_stage_of_a_run_is_a_duration_in_seconds() -> None:
    start = utcnow()
    run = Run(
        "run-1",
        "churn",
        ObjectRef("raw", "churn/a.csv"),
        "ds-1",
        state=RunState.FAILED,
        stages={
            "preprocess": StageTiming(start, start + timedelta(seconds=2.5)),
            "train": StageTiming(start + timedelta(seconds=3), start + timedelta(seconds=63)),
        },
    )
    unfinished = Run(
        "run-2",
        "churn",
        ObjectRef("raw", "churn/b.csv"),
        "ds-2",
        stages={"preprocess": StageTiming(start)},
    )
    documents = pipeline_stage_metrics(run)
    for document in documents:
        assert_valid_emf(document)
    found = {(d["Stage"], d["StageDuration"], d["outcome"]) for d in documents}
    assert found == {("preprocess", 2.5, "success"), ("train", 60.0, "failure")}
    assert documents[0]["_aws"]["CloudWatchMetrics"][0]["Metrics"] == [
        {"Name": "StageDuration", "Unit": "Seconds"}
    ]
    assert pipeline_stage_metrics(unfinished) == []


def test_live_quality_is_one_metric_per_quality_metric_of_the_deployed_version() -> None:
    documents = live_quality_metrics("churn", 3, {"roc_auc": 0.81, "accuracy": 0.9})
    for document in documents:
        assert_valid_emf(document)
    assert [(d["QualityMetric"], d["LiveQuality"]) for d in documents] == [
        ("accuracy", 0.9),
        ("roc_auc", 0.81),
    ]
