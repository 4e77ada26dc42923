"""The Lambda ``predict`` function refuses what the local model server refuses, with the same
answer, before it calls InvokeEndpoint: a body over ``CONVEYOR_MAX_BODY_BYTES`` or more rows
than ``CONVEYOR_MAX_ROWS_PER_REQUEST`` (413), a row value that is an object or a list (400);
as locally, such refusals leave no inference record."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.integration.aws.lambda_world import (
    deploy_a_version,
    lambda_env_fixture,  # noqa: F401 (the lambda_env fixture)
)
from tests.integration.aws.sagemaker_fakes import FakeModelErrorRuntimeClient, clients_with
from tests.integration.aws.test_handlers_predict import answer, api_event

ROW = {"age": 41, "plan": "pro"}
MODEL_ERROR = {"error": "invalid_input", "message": "the model says no", "field": None}


@pytest.fixture
def endpoint(lambda_env: Path, monkeypatch: pytest.MonkeyPatch) -> FakeModelErrorRuntimeClient:
    """'churn' deployed behind functions whose limits are 2 KiB and 3 rows a request; the
    endpoint's runtime client notes each InvokeEndpoint (its model answers a 400)."""
    from conveyor.aws import runtime

    monkeypatch.setenv("CONVEYOR_MAX_BODY_BYTES", "2048")
    monkeypatch.setenv("CONVEYOR_MAX_ROWS_PER_REQUEST", "3")
    runtime.reset()
    deploy_a_version("churn")
    runtime_client = FakeModelErrorRuntimeClient(400, json.dumps(MODEL_ERROR))
    runtime.ports().endpoint.clients = clients_with(  # type: ignore[attr-defined]
        sagemaker_runtime=runtime_client
    )
    return runtime_client


def predict(rows: list[dict[str, object]]) -> tuple[int, dict[str, object]]:
    from conveyor.aws import handlers

    return answer(handlers.predict(api_event(json.dumps({"instances": rows})), None))


def test_more_rows_than_the_limit_is_413_naming_the_setting(
    endpoint: FakeModelErrorRuntimeClient,
) -> None:
    status, body = predict([ROW] * 4)
    assert (status, body["error"], body["field"]) == (413, "payload_too_large", "instances")
    assert body["message"] == (
        "the request has 4 rows in instances; this server takes at most 3 per request "
        "(CONVEYOR_MAX_ROWS_PER_REQUEST): split them over several requests, or score a file "
        "with `conveyor predict`"
    )
    assert endpoint.requests == []
    assert predict([ROW] * 3) == (400, MODEL_ERROR)  # within the limit: the model answers
    assert len(endpoint.requests) == 1


def test_a_body_over_the_limit_is_413_naming_the_setting(
    endpoint: FakeModelErrorRuntimeClient,
) -> None:
    status, body = predict([{**ROW, "plan": "x" * 3000}])
    assert (status, body["error"], body["field"]) == (413, "payload_too_large", "body")
    assert "this server takes at most 2048 (CONVEYOR_MAX_BODY_BYTES)" in str(body["message"])
    assert endpoint.requests == []


@pytest.mark.parametrize(
    ("value", "kind"), [({"a": 1}, "object"), (["pro"], "array"), ([], "array")]
)
def test_a_row_value_that_is_an_object_or_a_list_is_400_as_the_model_server_says(
    endpoint: FakeModelErrorRuntimeClient, value: object, kind: str
) -> None:
    status, body = predict([ROW, {**ROW, "plan": value}])
    assert (status, body["error"], body["field"]) == (400, "invalid_input", "plan")
    # Word for word what the local server answers (tests/integration/serving/test_limits.py).
    assert body["message"] == (
        f"instances[1].plan is a JSON {kind}; a column takes one value "
        "(a string, number, boolean or null)"
    )
    assert endpoint.requests == []


def test_refusals_before_the_model_leave_no_record(endpoint: FakeModelErrorRuntimeClient) -> None:
    from conveyor.aws import runtime
    from conveyor.inference.records import list_inferences

    assert predict([ROW] * 4)[0] == 413
    assert predict([{**ROW, "plan": {"a": 1}}])[0] == 400
    assert list_inferences(runtime.ports().table, "churn") == []
    assert predict([ROW])[0] == 400  # the model's own answer: kept, as locally
    (record,) = list_inferences(runtime.ports().table, "churn")
    assert record.status == 400 and record.error == "the model says no"
