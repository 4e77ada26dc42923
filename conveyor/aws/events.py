"""The event payloads AWS hands conveyor's Lambda functions, parsed into plain values.

Powertools' parser models validate the documented shapes (S3 event notification version 2.x,
API Gateway's REST proxy event version 1.0, the EventBridge envelope); the details AWS sends
through EventBridge that powertools has no model for (SageMaker's state changes) get a small
model of the fields conveyor reads. Any shape that does not validate is ``InvalidInput``
naming the missing or wrong field, so a misrouted event is a clear log line (a 400 for
``predict``), not a ``KeyError``.
"""

from __future__ import annotations

import base64
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, TypeVar
from urllib.parse import unquote_plus, urlencode

from aws_lambda_powertools.utilities.parser import parse
from aws_lambda_powertools.utilities.parser.models import (
    APIGatewayProxyEventModel,
    EventBridgeModel,
    S3Model,
    S3RecordModel,
)
from pydantic import BaseModel, ValidationError, model_validator

from conveyor.errors import InvalidInput
from conveyor.jobs.contract import hyperparameter_text

TRAINING_JOB_STATE_CHANGE = "SageMaker Training Job State Change"
MODEL_PACKAGE_STATE_CHANGE = "SageMaker Model Package State Change"
SCHEDULED_EVENT = "Scheduled Event"

ModelT = TypeVar("ModelT", bound=BaseModel)


@dataclass(frozen=True)
class S3Object:
    """One record of an S3 ObjectCreated notification (the key already URL-decoded)."""

    bucket: str
    key: str
    etag: str | None
    size: int | None
    event_name: str
    # Orders the PUTs of one key; a notification delivered twice carries the same one.
    sequencer: str | None = None


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
    # The query string, re-encoded from API Gateway's decoded parameters ("explain=true").
    query: str = ""

    @property
    def content_type(self) -> str:
        return self.headers.get("content-type", "application/json")


class _S3Record(S3RecordModel):
    @model_validator(mode="before")
    @classmethod
    def validate_s3_object(cls, values: Any) -> Any:
        # Powertools' own check (size and eTag on every event but a delete) reads s3.object
        # before the fields are validated, and a record that is not S3's (an SQS record, say)
        # makes it raise AttributeError. Such a record is left to field validation, which
        # names what is wrong; a well-formed one still gets powertools' check.
        s3 = values.get("s3") if isinstance(values, Mapping) else None
        if (
            isinstance(s3, Mapping)
            and isinstance(values.get("eventName"), str)
            and isinstance(s3.get("object") or s3.get("get_object"), Mapping)
        ):
            # (pydantic keeps the decorated classmethod callable; mypy sees its descriptor)
            return S3RecordModel.validate_s3_object(values)  # type: ignore[operator]
        return values


class _S3Notification(S3Model):
    Records: list[_S3Record]  # type: ignore[assignment]


class _ProxyEvent(APIGatewayProxyEventModel):
    # The API Gateway console's Test button sends null headers when none are filled in.
    headers: dict[str, str] | None = None  # type: ignore[assignment]
    multiValueHeaders: dict[str, list[str]] | None = None  # type: ignore[assignment]


class _TrainingJobDetail(BaseModel):
    TrainingJobName: str
    TrainingJobStatus: str
    FailureReason: str | None = None
    HyperParameters: dict[str, Any] | None = None


class _ModelPackageDetail(BaseModel):
    ModelPackageGroupName: str
    ModelPackageVersion: int  # only a package of a versioned group has one
    ModelApprovalStatus: str = ""


def _field_path(loc: Sequence[int | str]) -> str:
    """A pydantic error location as the payload's own path: ``Records[0].s3.object.key``."""
    path = ""
    for part in loc:
        path += f"[{part}]" if isinstance(part, int) else f".{part}" if path else str(part)
    return path


def _refusal(exc: ValidationError, what: str, *, within: str = "") -> InvalidInput:
    """``InvalidInput`` naming the first field of ``what`` (an event) that did not validate;
    ``within`` prefixes the field's path (``detail`` for an EventBridge detail)."""
    first, *others = exc.errors()
    path = _field_path(first["loc"])
    field = f"{within}.{path}" if within and path else within or path
    if first["type"] == "missing":
        message = f"{what} needs {field}"
    else:
        message = f"{what}: {field}: {first['msg']}"
        if not isinstance(first["input"], Mapping | list):  # a whole object is no clue
            message += f" (got {_shown(first['input'])})"
    if others:
        message += f"; {len(others)} more problem(s)"
    return InvalidInput(message, field=field)


def _shown(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 80 else f"{text[:77]}..."


def s3_objects(event: Mapping[str, Any]) -> list[S3Object]:
    """The created objects of an S3 event notification (``Records[]``)."""
    what = "the S3 event notification"
    try:
        notification = parse(event=dict(event), model=_S3Notification)
    except ValidationError as exc:
        raise _s3_refusal(exc, what) from exc
    found = []
    for index, record in enumerate(notification.Records):
        obj = record.s3.object or record.s3.get_object
        if obj is None:
            raise InvalidInput(f"{what} needs Records[{index}].s3.object", field="Records")
        found.append(
            S3Object(
                bucket=record.s3.bucket.name,
                # S3 URL-encodes the key in notifications, spaces as '+' (powertools keeps
                # the key as sent).
                key=unquote_plus(obj.key),
                etag=obj.eTag or None,
                size=int(obj.size) if obj.size is not None else None,
                event_name=record.eventName,
                sequencer=obj.sequencer or None,
            )
        )
    return found


def _s3_refusal(exc: ValidationError, what: str) -> InvalidInput:
    for error in exc.errors():
        loc = error["loc"]
        if loc == ("Records",):
            return InvalidInput("not an S3 event notification: no Records list", field="Records")
        not_a_record = len(loc) == 2 and error["type"] == "model_type"
        if loc[:1] == ("Records",) and (not_a_record or loc[2:3] == ("eventSource",)):
            return InvalidInput(f"Records[{loc[1]}] is not an S3 record", field="Records")
    return _refusal(exc, what)


def eventbridge_envelope(
    event: Mapping[str, Any], source: str, detail_type: str, *, what: str | None = None
) -> EventBridgeModel:
    """The validated EventBridge envelope of an event of ``source`` and ``detail_type``;
    ``what`` names such an event in the refusal of any other (by default its detail-type
    and source).

    Raises:
        InvalidInput: another kind of event, or a field of the envelope missing or wrong.
    """
    try:
        envelope = parse(event=dict(event), model=EventBridgeModel)
    except ValidationError as exc:
        # Another kind of event's missing fields are not the news: that it is another kind is.
        other_kind = _kind_refusal(event, source, detail_type, what)
        raise other_kind or _refusal(exc, f"the {detail_type!r} event") from exc
    other_kind = _kind_refusal(event, source, detail_type, what)
    if other_kind:
        raise other_kind
    return envelope


def _kind_refusal(
    event: Mapping[str, Any], source: str, detail_type: str, what: str | None
) -> InvalidInput | None:
    got_source, got_type = event.get("source"), event.get("detail-type")
    if got_source == source and got_type == detail_type:
        return None
    return InvalidInput(
        f"not {what or f'a {detail_type!r} event from {source}'}: got detail-type "
        f"{got_type!r} from {got_source!r}",
        field="detail-type",
    )


def eventbridge_detail(
    event: Mapping[str, Any], source: str, detail_type: str, *, what: str | None = None
) -> Mapping[str, Any]:
    """The detail object of an EventBridge event of ``source`` and ``detail_type`` (see
    :func:`eventbridge_envelope`)."""
    detail = eventbridge_envelope(event, source, detail_type, what=what).detail
    if not isinstance(detail, Mapping):  # a model only when powertools is handed one
        raise InvalidInput(f"the {detail_type!r} event has no detail object", field="detail")
    return detail


def eventbridge_detail_model(
    event: Mapping[str, Any],
    source: str,
    detail_type: str,
    model: type[ModelT],
    *,
    what: str | None = None,
    event_name: str | None = None,
) -> ModelT:
    """The detail of an EventBridge event of ``source`` and ``detail_type`` validated by
    ``model`` (the fields conveyor reads); ``event_name`` names the event in a refusal of
    its detail.

    Raises:
        InvalidInput: another kind of event, or a field of the envelope or the detail
            missing or wrong (named as ``detail.<field>``).
    """
    detail = eventbridge_detail(event, source, detail_type, what=what)
    try:
        return parse(event=dict(detail), model=model)
    except ValidationError as exc:
        raise _refusal(exc, event_name or f"the {detail_type!r} event", within="detail") from exc


def training_job_change(event: Mapping[str, Any]) -> TrainingJobChange:
    detail = eventbridge_detail_model(
        event,
        "aws.sagemaker",
        TRAINING_JOB_STATE_CHANGE,
        _TrainingJobDetail,
        event_name="the training job event",
    )
    return TrainingJobChange(
        job_name=detail.TrainingJobName,
        status=detail.TrainingJobStatus,
        failure_reason=detail.FailureReason,
        hyperparameters={
            str(k): hyperparameter_text(v) for k, v in (detail.HyperParameters or {}).items()
        },
    )


def model_package_change(event: Mapping[str, Any]) -> ModelPackageChange:
    detail = eventbridge_detail_model(
        event,
        "aws.sagemaker",
        MODEL_PACKAGE_STATE_CHANGE,
        _ModelPackageDetail,
        event_name="the model package event (a package of a versioned group)",
    )
    return ModelPackageChange(
        group=detail.ModelPackageGroupName,
        version=detail.ModelPackageVersion,
        approval_status=detail.ModelApprovalStatus,
    )


def scheduled_event(event: Mapping[str, Any]) -> str:
    """The rule ARN of an EventBridge schedule's event (``resources[0]``)."""
    resources = eventbridge_envelope(event, "aws.events", SCHEDULED_EVENT).resources
    return resources[0] if resources else ""


def api_request(event: Mapping[str, Any]) -> ApiRequest:
    """The request of an API Gateway REST proxy event; the body base64-decoded if so sent."""
    try:
        proxy = parse(event=dict(event), model=_ProxyEvent)
    except ValidationError as exc:
        raise _proxy_refusal(exc) from exc
    raw = proxy.body if isinstance(proxy.body, str) else ""
    if proxy.isBase64Encoded:
        try:
            body = base64.b64decode(raw, validate=True)
        except ValueError as exc:
            raise InvalidInput(f"the body is not valid base64: {exc}", field="body") from exc
    else:
        body = raw.encode()
    return ApiRequest(
        method=proxy.httpMethod,
        path_parameters=dict(proxy.pathParameters or {}),
        headers={name.lower(): value for name, value in (proxy.headers or {}).items()},
        body=body,
        request_id=proxy.requestContext.requestId,
        query=_query_string(proxy),
    )


def _query_string(proxy: _ProxyEvent) -> str:
    """The request's query parameters as one string (every value of a repeated name)."""
    many = proxy.multiValueQueryStringParameters
    if many:
        return urlencode({name: list(values) for name, values in many.items()}, doseq=True)
    return urlencode(proxy.queryStringParameters or {})


def _proxy_refusal(exc: ValidationError) -> InvalidInput:
    missing = {error["loc"] for error in exc.errors() if error["type"] == "missing"}
    if {("httpMethod",), ("requestContext",)} & missing:
        return InvalidInput(
            "not an API Gateway proxy event: no httpMethod and requestContext",
            field="requestContext",
        )
    return _refusal(exc, "the API Gateway proxy event")


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
