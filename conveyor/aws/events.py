"""The event payloads AWS hands conveyor's Lambda functions, parsed into plain values.

Each parser reads the documented shape (S3 event notification version 2.x, API Gateway's
REST proxy event version 1.0, EventBridge's SageMaker, schedule and CloudWatch alarm events)
and raises ``InvalidInput`` naming what is missing, so a misrouted event is a clear log line,
not a ``KeyError``. Standard library only: a Lambda function imports this on every cold start.
"""

from __future__ import annotations

import base64
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import unquote_plus

from conveyor.errors import InvalidInput
from conveyor.jobs.contract import hyperparameter_text

TRAINING_JOB_STATE_CHANGE = "SageMaker Training Job State Change"
MODEL_PACKAGE_STATE_CHANGE = "SageMaker Model Package State Change"
SCHEDULED_EVENT = "Scheduled Event"


@dataclass(frozen=True)
class S3Object:
    """One record of an S3 ObjectCreated notification (the key already URL-decoded)."""

    bucket: str
    key: str
    etag: str | None
    size: int | None
    event_name: str


@dataclass(frozen=True)
class TrainingJobChange:
    job_name: str
    status: str  # InProgress | Completed | Failed | Stopping | Stopped
    failure_reason: str | None
    hyperparameters: dict[str, str]


@dataclass(frozen=True)
class ModelPackageChange:
    group: str
    version: int
    approval_status: str  # Approved | Rejected | PendingManualApproval


@dataclass(frozen=True)
class ApiRequest:
    """An API Gateway REST proxy request (payload format 1.0)."""

    method: str
    path_parameters: dict[str, str]
    headers: dict[str, str]  # names lower-cased: HTTP header names are case-insensitive
    body: bytes
    request_id: str

    @property
    def content_type(self) -> str:
        return self.headers.get("content-type", "application/json")


def s3_objects(event: Mapping[str, Any]) -> list[S3Object]:
    """The created objects of an S3 event notification (``Records[]``)."""
    records = event.get("Records")
    if not isinstance(records, list):
        raise InvalidInput("not an S3 event notification: no Records list", field="Records")
    found = []
    for index, record in enumerate(records):
        if not isinstance(record, Mapping) or record.get("eventSource") != "aws:s3":
            raise InvalidInput(f"Records[{index}] is not an S3 record", field="Records")
        s3 = record.get("s3") or {}
        bucket = (s3.get("bucket") or {}).get("name")
        obj = s3.get("object") or {}
        key = obj.get("key")
        if not isinstance(bucket, str) or not isinstance(key, str):
            raise InvalidInput(
                f"Records[{index}] needs s3.bucket.name and s3.object.key", field="Records"
            )
        size = obj.get("size")
        found.append(
            S3Object(
                bucket=bucket,
                # S3 URL-encodes the key in notifications, spaces as '+'.
                key=unquote_plus(key),
                etag=obj.get("eTag") or None,
                size=int(size) if isinstance(size, int | str) and str(size).isdigit() else None,
                event_name=str(record.get("eventName", "")),
            )
        )
    return found


def eventbridge_detail(
    event: Mapping[str, Any], source: str, detail_type: str, *, what: str | None = None
) -> Mapping[str, Any]:
    """The detail of an EventBridge event of ``source`` and ``detail_type``; ``what`` names
    such an event in the refusal of any other (by default its detail-type and source).

    Raises:
        InvalidInput: another kind of event, or one without a detail object.
    """
    if event.get("source") != source or event.get("detail-type") != detail_type:
        raise InvalidInput(
            f"not {what or f'a {detail_type!r} event from {source}'}: got detail-type "
            f"{event.get('detail-type')!r} from {event.get('source')!r}",
            field="detail-type",
        )
    detail = event.get("detail")
    if not isinstance(detail, Mapping):
        raise InvalidInput(f"the {detail_type!r} event has no detail object", field="detail")
    return detail


def training_job_change(event: Mapping[str, Any]) -> TrainingJobChange:
    detail = eventbridge_detail(event, "aws.sagemaker", TRAINING_JOB_STATE_CHANGE)
    name, status = detail.get("TrainingJobName"), detail.get("TrainingJobStatus")
    if not isinstance(name, str) or not isinstance(status, str):
        raise InvalidInput(
            "the training job event needs detail.TrainingJobName and detail.TrainingJobStatus",
            field="detail",
        )
    hyperparameters = detail.get("HyperParameters") or {}
    return TrainingJobChange(
        job_name=name,
        status=status,
        failure_reason=detail.get("FailureReason"),
        hyperparameters={str(k): hyperparameter_text(v) for k, v in hyperparameters.items()},
    )


def model_package_change(event: Mapping[str, Any]) -> ModelPackageChange:
    detail = eventbridge_detail(event, "aws.sagemaker", MODEL_PACKAGE_STATE_CHANGE)
    group, version = detail.get("ModelPackageGroupName"), detail.get("ModelPackageVersion")
    if not isinstance(group, str) or not isinstance(version, int | str):
        raise InvalidInput(
            "the model package event needs detail.ModelPackageGroupName and "
            "detail.ModelPackageVersion (a package of a versioned group)",
            field="detail",
        )
    return ModelPackageChange(
        group=group,
        version=int(version),
        approval_status=str(detail.get("ModelApprovalStatus", "")),
    )


def scheduled_event(event: Mapping[str, Any]) -> str:
    """The rule ARN of an EventBridge schedule's event (``resources[0]``)."""
    eventbridge_detail(event, "aws.events", SCHEDULED_EVENT)
    resources = event.get("resources") or []
    return str(resources[0]) if resources else ""


def api_request(event: Mapping[str, Any]) -> ApiRequest:
    """The request of an API Gateway REST proxy event; the body base64-decoded if so sent."""
    context = event.get("requestContext")
    if not isinstance(context, Mapping) or "httpMethod" not in event:
        raise InvalidInput(
            "not an API Gateway proxy event: no httpMethod and requestContext",
            field="requestContext",
        )
    raw = event.get("body") or ""
    if event.get("isBase64Encoded"):
        try:
            body = base64.b64decode(raw, validate=True)
        except ValueError as exc:
            raise InvalidInput(f"the body is not valid base64: {exc}", field="body") from exc
    else:
        body = raw.encode() if isinstance(raw, str) else bytes(raw)
    headers = {str(k).lower(): str(v) for k, v in (event.get("headers") or {}).items()}
    return ApiRequest(
        method=str(event["httpMethod"]),
        path_parameters={str(k): str(v) for k, v in (event.get("pathParameters") or {}).items()},
        headers=headers,
        body=body,
        request_id=str(context.get("requestId") or ""),
    )


def proxy_response(
    status: int, body: bytes | str, headers: Mapping[str, str] | None = None
) -> dict[str, Any]:
    """An API Gateway proxy integration response (a text body, never base64)."""
    text = body.decode() if isinstance(body, bytes) else body
    return {
        "statusCode": status,
        "headers": {"content-type": "application/json", **(headers or {})},
        "body": text,
        "isBase64Encoded": False,
    }
