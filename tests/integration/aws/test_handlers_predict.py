"""``predict`` with API Gateway's proxy event on moto: every bad request a 4xx in the local
server's error body, the model's own errors passed through, each request to a deployed
project recorded with a TTL; and the Lambda's schema check equal to the model server's."""

from __future__ import annotations

import base64
import json
import random
from pathlib import Path
from typing import Any

import pytest

from conveyor.aws.clients import client
from tests.integration.aws.lambda_world import (
    CHURN,
    deploy_a_version,
    lambda_env_fixture,  # noqa: F401 (the lambda_env fixture)
    load_event,
)
from tests.integration.aws.sagemaker_fakes import FakeModelErrorRuntimeClient, clients_with


def api_event(
    body: str | bytes, *, project: str = "churn", content_type: str = "application/json"
) -> dict[str, Any]:
    event = load_event(
        "apigateway_rest_proxy",
        project=project,
        content_type=content_type,
        request_id="7f1b3c2e-9a4d-4e2b-8c1f-2d3e4f5a6b7c",
        body="",
    )
    if isinstance(body, bytes):
        event.update(body=base64.b64encode(body).decode(), isBase64Encoded=True)
    else:
        event["body"] = body
    return event


def answer(response: dict[str, Any]) -> tuple[int, dict[str, Any]]:
    assert response["headers"]["content-type"] == "application/json"
    return response["statusCode"], json.loads(response["body"])


def test_bad_requests_are_4xx_naming_the_problem(lambda_env: Path) -> None:
    from conveyor.aws import handlers, predict_proxy, runtime
    from conveyor.inference.records import list_inferences
    from conveyor.monitoring.feedback import feedback_partition

    deploy_a_version("churn")
    row = {"age": 41, "plan": "pro"}
    cases = [
        (api_event(json.dumps({"instances": [row]}), project="nope"), 404, "project"),
        (api_event("{not json"), 400, "body"),
        (api_event(json.dumps({"rows": [row]})), 400, "instances"),
        (api_event(json.dumps({"instances": []})), 400, "instances"),
        (api_event(json.dumps({"instances": [{"customer": 41}]})), 400, "customer"),
        (api_event(json.dumps({"instances": [{**row, "tenure": 3}]})), 400, "tenure"),
        (api_event(json.dumps({"instances": [row, {**row, "age": True}]})), 400, "age"),
        (api_event("age,plan\n41,pro\n", content_type="text/plain"), 415, "content-type"),
        # Read as the model server reads CSV: its cells reach the schema's checks.
        (api_event("age,plan\nx,pro\n", content_type="text/csv"), 400, "age"),
        (api_event(json.dumps({"instances": [{**row, "plan": "x" * 7_000_000}]})), 413, "body"),
        (api_event(b'{"instances": [{"age": "x", "plan": "pro"}]}'), 400, "age"),
    ]
    for event, status, field in cases:
        got_status, body = answer(handlers.predict(event))
        assert (got_status, body["field"]) == (status, field), body
        assert set(body) == {"error", "message", "field"}
    status, body = answer(handlers.predict(api_event(json.dumps({"instances": [{"age": "x"}]}))))
    assert body["message"] == "column 'age' expects a number, got 'x' (row 1)"
    status, body = answer(
        handlers.predict(api_event(json.dumps({"instances": [row, {**row, "age": "old"}]})))
    )
    assert body["message"] == "column 'age' expects a number, got 'old' (row 2)"

    # Not an API Gateway event at all: a 400 too, not a crash.
    status, body = answer(handlers.predict({"Records": []}))
    assert status == 400 and body["field"] == "requestContext"

    # The requests that reached the deployed project's checks are kept, with a TTL.
    records = list_inferences(runtime.ports().table, "churn")
    assert {r.status for r in records} == {400}
    assert all(r.error and r.model_version == 1 for r in records)
    item = client("dynamodb").scan(TableName="conveyor-test")["Items"]
    expiring = [i for i in item if i["pk"]["S"] == "inference#churn"]
    assert len(expiring) == len(records) and all("expires_at" in i for i in expiring)

    # /feedback takes the ids predict issued (those of refused requests too: they are
    # recorded) and refuses any other, as the model server does.
    bad_row = json.dumps({"instances": [{"age": "x", "plan": "pro"}]})
    issued = handlers.predict(api_event(bad_row))["headers"]["x-request-id"]
    # API Gateway's request id, tagged: its access log still finds the request.
    assert issued.startswith("7f1b3c2e-9a4d-4e2b-8c1f-2d3e4f5a6b7c-") and len(issued) == 53
    elsewhere = handlers.predict(api_event(bad_row, project="other"))["headers"]["x-request-id"]
    chosen = api_event(bad_row)
    chosen["headers"]["x-request-id"] = "mine-7"
    chosen["multiValueHeaders"]["x-request-id"] = ["mine-7"]
    assert handlers.predict(chosen)["headers"]["x-request-id"] == "mine-7"

    # The feedback function's container reads the version's schema itself.
    predict_proxy._schemas.clear()
    items = [
        {"request_id": issued, "actual": "no"},
        {"request_id": "made-up", "actual": "no"},
        {"request_id": elsewhere, "actual": "no"},
    ]
    status, body = answer(handlers.feedback(api_event(json.dumps(items))))
    assert (status, body["error"], body["field"]) == (422, "unknown_request_id", "request_id")
    assert "'made-up'" in body["message"] and repr(elsewhere) in body["message"]
    assert "items 1, 2" in body["message"]
    assert runtime.ports().table.count(feedback_partition("churn")) == 0

    # The id predict issued, and one the client chose (recorded before predict answered).
    items = [{"request_id": issued, "actual": "no"}, {"request_id": "mine-7", "actual": "yes"}]
    status, body = answer(handlers.feedback(api_event(json.dumps(items))))
    assert (status, body["stored"]) == (200, 2)
    status, body = answer(handlers.feedback(api_event("{}", project="nope")))
    assert (status, body["field"]) == (404, "project")


def test_the_models_own_error_comes_back_as_it_gave_it(lambda_env: Path) -> None:
    from conveyor.aws import handlers, runtime

    deploy_a_version("churn")
    error = {"error": "invalid_input", "message": "column 'plan' is odd", "field": "plan"}
    runtime_client = FakeModelErrorRuntimeClient(400, json.dumps(error))
    runtime.ports().endpoint.clients = clients_with(  # type: ignore[attr-defined]
        sagemaker_runtime=runtime_client
    )
    event = api_event(json.dumps({"instances": [{"age": 41, "plan": "pro"}]}))
    assert answer(handlers.predict(event)) == (400, error)
    assert runtime_client.requests[0]["EndpointName"] == "conveyor-churn"
    assert json.loads(runtime_client.requests[0]["Body"]) == {
        "instances": [{"age": 41, "plan": "pro"}]
    }


def _churn_encoder() -> Any:
    """The encoder the model server would have for conveyor's churn sample."""
    from conveyor.model.encode import FeatureEncoder
    from conveyor.tabular.coerce import coerce_frame
    from conveyor.tabular.infer import infer_schema
    from conveyor.tabular.read import read_raw
    from conveyor.types import Task

    frame = read_raw(CHURN)
    schema, _ = infer_schema(frame, target="churned", task=Task.AUTO)
    return FeatureEncoder().fit(coerce_frame(frame, schema, with_target=True), schema)


def _verdict(check: Any, rows: list[dict[str, Any]]) -> tuple[str, str | None] | None:
    from conveyor.errors import InvalidInput

    try:
        check(rows)
    except InvalidInput as exc:
        return exc.message, exc.field
    return None


@pytest.mark.parametrize("seed", range(3))
def test_the_lambdas_check_gives_the_model_servers_verdict(seed: int) -> None:
    """On rows broken at random, ``request_check`` refuses exactly what the model server's
    encoder refuses, with the same message and field."""
    from conveyor.aws.request_check import FALSE_TOKENS, TRUE_TOKENS, check_rows
    from conveyor.model.rows import RowEncoder
    from conveyor.tabular import infer

    assert (TRUE_TOKENS, FALSE_TOKENS) == (infer.TRUE_TOKENS, infer.FALSE_TOKENS)
    encoder = _churn_encoder()
    row_encoder = RowEncoder(encoder)
    schema = encoder.schema_
    good = {
        "age": 41,
        "plan": "pro",
        "region": "east",
        "monthly charges": "70.5",
        "tenure months": 12.0,
        "support calls": None,
        "has partner": "Yes",
        "signup date": "2021-03-04",
    }
    assert set(good) == set(schema.feature_names)
    odd_values = [
        "old",
        "",
        "NA",
        True,
        False,
        1,
        0,
        2,
        1.5,
        "1e3",
        " 7 ",
        "yes",
        "no",
        "maybe",
        "2021-13-01",
        "04/03/2021",
        "2021-03-04",
        None,
        [1],
        {"a": 1},
        "t",
        "F",
    ]
    rng = random.Random(seed)
    refused = 0
    for _ in range(300):
        rows = [dict(good) for _ in range(rng.randint(1, 3))]
        for row in rows:
            for _ in range(rng.randint(1, 3)):
                row[rng.choice(schema.feature_names)] = rng.choice(odd_values)
        if rng.random() < 0.1:
            rows[0].pop(rng.choice(schema.feature_names))
        if rng.random() < 0.1:
            rows[-1]["unexpected"] = 1
        server = _verdict(row_encoder.encode, rows)
        lambda_side = _verdict(lambda r: check_rows(r, schema), rows)
        assert lambda_side == server, rows
        refused += server is not None
    assert 50 < refused < 300  # both kinds of verdict were tried


def test_one_invocation_s_log_fields_do_not_reach_the_next(lambda_env: Path) -> None:
    # A warm Lambda container runs many invocations in one process and thread.
    from conveyor.aws import handlers
    from conveyor.logs import current_context

    deploy_a_version("churn")
    row = {"age": 41, "plan": "pro"}
    bad_row = {**row, "age": "old"}
    status, _ = answer(handlers.predict(api_event(json.dumps({"instances": [bad_row]}))))
    assert status == 400  # refused after the request was tied to its project and version
    status, _ = answer(handlers.predict(api_event(json.dumps({"instances": [row]}), project="x")))
    assert status == 404
    assert current_context() == {}
