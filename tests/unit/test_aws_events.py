"""The Lambda event parsers (conveyor.aws.events, on powertools' parser models) read AWS's
documented payloads (tests/integration/aws/events/) into plain values, and refuse any other
shape with InvalidInput naming the field a person has to look at."""

from __future__ import annotations

import base64
import json
from typing import Any

import pytest

from conveyor.aws import events
from conveyor.errors import InvalidInput
from conveyor.metrics.cloudwatch_alarm_rules import alarm_state_change_detail
from tests.integration.aws.lambda_world import load_event, s3_event


def _api_event(body: str | bytes = "{}", **values: object) -> dict[str, Any]:
    filled: dict[str, object] = {
        "project": "churn",
        "content_type": "application/json",
        "request_id": "req-1",
        "body": "",
        **values,
    }
    event = load_event("apigateway_rest_proxy", **filled)
    if isinstance(body, bytes):
        event.update(body=base64.b64encode(body).decode(), isBase64Encoded=True)
    else:
        event["body"] = body
    return event


def _job_event(**detail: object) -> dict[str, Any]:
    event = load_event(
        "sagemaker_training_job_state_change",
        job_name="churn-run-1",
        status="Failed",
        failure_reason="AlgorithmError: out of memory",
        run_id="run-1",
        project="churn",
    )
    event["detail"].update(detail)
    return event


def _refused(parse: Any, event: Any) -> InvalidInput:
    with pytest.raises(InvalidInput) as refused:
        parse(event)
    return refused.value


def test_an_s3_key_with_a_space_and_a_plus_is_read_back_as_uploaded() -> None:
    event = s3_event("conveyor-test-raw", "churn/new data+more.csv", '"abc123"')
    # S3 sends the key URL-encoded, a space as '+' and a '+' as %2B; powertools keeps it so.
    assert event["Records"][0]["s3"]["object"]["key"] == "churn/new+data%2Bmore.csv"

    (created,) = events.s3_objects(event)

    assert created == events.S3Object(
        bucket="conveyor-test-raw",
        key="churn/new data+more.csv",
        etag='"abc123"',
        size=1024,
        event_name="ObjectCreated:Put",
        sequencer="0055AED6DCD90281E5",
    )


def test_s3_events_without_what_conveyor_reads_are_refused_naming_the_field() -> None:
    no_key = s3_event("conveyor-test-raw", "churn/a.csv", "e")
    del no_key["Records"][0]["s3"]["object"]["key"]
    refused = _refused(events.s3_objects, no_key)
    assert refused.field == "Records[0].s3.object.key"
    assert "needs Records[0].s3.object.key" in refused.message

    # powertools' own check still holds: an ObjectCreated record says the object's size.
    no_size = s3_event("conveyor-test-raw", "churn/a.csv", "e")
    del no_size["Records"][0]["s3"]["object"]["size"]
    refused = _refused(events.s3_objects, no_size)
    assert refused.field == "Records[0]" and "Size and eTag fields are required" in refused.message

    refused = _refused(events.s3_objects, {"Records": [{"eventSource": "aws:sqs"}]})
    assert (refused.message, refused.field) == ("Records[0] is not an S3 record", "Records")
    refused = _refused(events.s3_objects, {"Records": ["s3://conveyor-test-raw/churn/a.csv"]})
    assert refused.message == "Records[0] is not an S3 record"
    refused = _refused(events.s3_objects, {"detail-type": "Scheduled Event"})
    assert refused.message == "not an S3 event notification: no Records list"


def test_a_base64_body_is_decoded_and_header_names_read_in_any_case() -> None:
    sent = b'{"instances": [{"plan": "caf\xc3\xa9"}]}'
    request = events.api_request(_api_event(sent, content_type="application/json; charset=utf-8"))
    assert request.body == sent
    assert request.content_type == "application/json; charset=utf-8"
    assert request.headers["x-api-key"] == "q1w2e3r4t5y6u7i8o9p0EXAMPLEKEY"
    assert (request.method, request.path_parameters, request.request_id) == (
        "POST",
        {"project": "churn"},
        "req-1",
    )

    refused = _refused(events.api_request, {**_api_event(b"x"), "body": "not base64!"})
    assert refused.field == "body" and "not valid base64" in refused.message


def test_the_api_gateway_consoles_test_request_without_headers_is_read() -> None:
    event = {**_api_event('{"instances": []}'), "headers": None, "multiValueHeaders": None}
    request = events.api_request(event)
    assert request.body == b'{"instances": []}'
    assert request.content_type == "application/json"


def test_an_api_event_missing_a_field_is_refused_naming_it() -> None:
    event = _api_event()
    del event["requestContext"]["requestId"]
    refused = _refused(events.api_request, event)
    assert refused.field == "requestContext.requestId"
    assert refused.message == "the API Gateway proxy event needs requestContext.requestId"

    refused = _refused(events.api_request, {**_api_event(), "httpMethod": "FETCH"})
    assert refused.field == "httpMethod" and "'FETCH'" in refused.message

    refused = _refused(events.api_request, {"Records": []})
    assert refused.field == "requestContext"
    assert refused.message.startswith("not an API Gateway proxy event")


def test_a_training_job_event_reads_the_status_reason_and_hyperparameters() -> None:
    change = events.training_job_change(_job_event())
    assert change == events.TrainingJobChange(
        job_name="churn-run-1",
        status="Failed",
        failure_reason="AlgorithmError: out of memory",
        hyperparameters={
            "run_id": "run-1",
            "project": "churn",
            "seed": "42",
            # JSON-encoded by the SageMaker SDK, read as the training toolkit reads them.
            "sagemaker_program": "train.py",
            "sagemaker_region": "us-east-1",
        },
    )
    completed = _job_event(TrainingJobStatus="Completed", HyperParameters=None)
    del completed["detail"]["FailureReason"]
    change = events.training_job_change(completed)
    assert (change.status, change.failure_reason, change.hyperparameters) == (
        "Completed",
        None,
        {},
    )


def test_a_sagemaker_detail_missing_or_wrong_is_refused_naming_the_field() -> None:
    event = _job_event()
    del event["detail"]["TrainingJobStatus"]
    refused = _refused(events.training_job_change, event)
    assert refused.field == "detail.TrainingJobStatus"
    assert refused.message == "the training job event needs detail.TrainingJobStatus"

    refused = _refused(events.training_job_change, _job_event(TrainingJobName=7))
    assert refused.field == "detail.TrainingJobName"
    assert "valid string" in refused.message and "(got 7)" in refused.message

    package = load_event(
        "sagemaker_model_package_state_change", group="churn", approval_status="Approved"
    )
    assert events.model_package_change(package) == events.ModelPackageChange("churn", 1, "Approved")
    package["detail"]["ModelPackageVersion"] = "three"
    refused = _refused(events.model_package_change, package)
    assert refused.field == "detail.ModelPackageVersion"
    del package["detail"]["ModelPackageVersion"]
    refused = _refused(events.model_package_change, package)
    assert "versioned group" in refused.message


def test_a_misrouted_eventbridge_event_is_refused_by_its_kind() -> None:
    schedule = load_event("scheduled_event", time="2026-12-01T16:00:00Z")
    refused = _refused(events.training_job_change, schedule)
    assert refused.field == "detail-type"
    assert refused.message == (
        "not a 'SageMaker Training Job State Change' event from aws.sagemaker: got "
        "detail-type 'Scheduled Event' from 'aws.events'"
    )
    # Its kind is the news, not the fields an event of another shape lacks.
    refused = _refused(events.scheduled_event, {"Records": []})
    assert refused.field == "detail-type" and "'Scheduled Event'" in refused.message


def test_a_scheduled_event_names_its_rule_and_needs_its_envelope() -> None:
    schedule = load_event("scheduled_event", time="2026-12-01T16:00:00Z")
    assert events.scheduled_event(schedule) == (
        "arn:aws:events:us-east-1:123456789012:rule/conveyor-drift-check"
    )
    del schedule["time"]
    refused = _refused(events.scheduled_event, schedule)
    assert (refused.field, refused.message) == ("time", "the 'Scheduled Event' event needs time")


def test_an_alarm_event_without_its_state_is_refused_naming_it() -> None:
    event = load_event(
        "cloudwatch_alarm_state_change",
        alarm_name="conveyor/churn/drift",
        state="ALARM",
        project="churn",
        time="2026-12-01T16:30:00Z",
    )
    assert alarm_state_change_detail(event).reason.startswith("Threshold Crossed")
    del event["detail"]["state"]
    refused = _refused(alarm_state_change_detail, event)
    assert (refused.field, refused.message) == (
        "detail.state",
        "the alarm state change event needs detail.state",
    )


def test_a_proxy_response_is_a_text_body() -> None:
    response = events.proxy_response(400, json.dumps({"error": "x"}).encode())
    assert response == {
        "statusCode": 400,
        "headers": {"content-type": "application/json"},
        "body": '{"error": "x"}',
        "isBase64Encoded": False,
    }
