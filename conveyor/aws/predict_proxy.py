"""``POST /predict/{project}`` on AWS: API Gateway → this Lambda function → the SageMaker
endpoint, with the same answers as the local model server.

The body is checked here (the model server's request limits and JSON shape, then the deployed
version's input schema, without numpy) so a bad request is a 4xx naming its field and never
reaches the endpoint; the endpoint's answer comes back as the local ``/predict`` gives it.
Every request to a deployed project is kept as the local server keeps it
(``conveyor.inference.records``' item, plus ``expires_at`` for DynamoDB's TTL), and one EMF
line carries its metrics.
"""

from __future__ import annotations

import json
import logging
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from conveyor.aws.events import ApiRequest, proxy_response
from conveyor.aws.request_check import check_rows
from conveyor.endpoint import Deployment
from conveyor.errors import (
    BackendUnavailable,
    ConveyorError,
    InvalidInput,
    NotDeployed,
    PayloadTooLarge,
    body_of,
    error_body,
)
from conveyor.inference.records import partition
from conveyor.inference.request_ids import RequestIds
from conveyor.logs import REQUEST_LOGGER, bind
from conveyor.metrics.cloudwatch import EmfMetrics
from conveyor.metrics.labels import UNKNOWN_PROJECT
from conveyor.ports import Ports
from conveyor.serving.explain import explain_flag
from conveyor.serving.instances import read_rows
from conveyor.serving.request_limits import RequestLimits, check_flat_rows
from conveyor.tabular.schema import DatasetSchema
from conveyor.types import to_iso

# A synchronous Lambda invocation takes at most 6 MB of request (API Gateway 10 MB).
MAX_BODY_BYTES = 6 * 1024 * 1024
# How long DynamoDB keeps an inference record (its TTL attribute ``expires_at``).
RECORD_RETENTION_SECONDS = 90 * 24 * 3600
request_log = logging.getLogger(REQUEST_LOGGER)


class UnsupportedMediaType(InvalidInput):
    code = "unsupported_media_type"
    http_status = 415


@dataclass
class Outcome:
    status: int
    body: dict[str, Any]
    version: int | None = None
    rows: int = 0
    detail: str | None = None  # for the log and the record: a 500's body hides its cause


def json_error(exc: ConveyorError) -> str:
    return json.dumps(body_of(exc))


# Input schemas by (project, version, artifact sha256): what a model takes never changes,
# so a container reads it once.
_schemas: dict[tuple[str, int, str], DatasetSchema] = {}


def deployed_schema(ports: Ports, deployment: Deployment) -> DatasetSchema:
    """The input schema of the version ``deployment`` serves (read once per container)."""
    key = (deployment.project, deployment.version, deployment.sha256)
    if key not in _schemas:
        version = ports.registry.get_version(deployment.project, deployment.version)
        _schemas[key] = DatasetSchema.from_dict(version.input_schema)
    return _schemas[key]


def handle(
    request: ApiRequest,
    ports: Ports,
    *,
    namespace: str,
    limits: RequestLimits | None = None,
    request_ids: RequestIds | None = None,
) -> dict[str, Any]:
    """The proxy response to one request; records it and prints its EMF line. ``limits``:
    the model server's request limits (its settings), checked as it checks them.
    ``request_ids``: the deployment's (``conveyor.aws.runtime.request_ids``)."""
    limits = limits or RequestLimits()
    started = time.perf_counter()
    project = request.path_parameters.get("project", "")
    # API Gateway's request id, tagged: /feedback verifies it, its access log still finds it.
    request_ids = request_ids or RequestIds(ports.table)
    request_id = request.headers.get("x-request-id") or request_ids.issue(
        project, request.request_id
    )
    bind(request_id=request_id, project=project or None)
    instances: list[dict[str, Any]] | None = None
    version: int | None = None  # the deployed version, once known
    try:
        if not project:
            raise InvalidInput("the path is /predict/{project}", field="project")
        # Computed by the model server (this function has no model): asked through
        # SageMaker's CustomAttributes, which the container reads as the query's parameter.
        explain = explain_flag(request.query) if request.query else False
        deployment = ports.endpoint.describe_endpoint(project)
        if deployment is None:
            raise NotDeployed(project, noun="model")
        version = deployment.version
        bind(version=version)
        limits.check_body(request.body)
        if len(request.body) > MAX_BODY_BYTES:
            raise PayloadTooLarge(
                f"the body is {len(request.body)} bytes; send at most {MAX_BODY_BYTES} "
                "per request (split the rows over several requests)",
                field="body",
            )
        if not request.content_type.startswith(("application/json", "text/csv")):
            raise UnsupportedMediaType(
                f"content type {request.content_type!r} is not supported; send "
                "application/json or text/csv",
                field="content-type",
            )
        # The model server's readers: rows as lists take the deployed version's column order.
        columns = deployed_schema(ports, deployment).feature_names
        rows = read_rows(request.body, columns=columns, content_type=request.content_type)[0]
        # Refused before the schema, and not recorded, as the model server refuses them.
        limits.check_rows(rows)
        check_flat_rows(rows)
        instances = rows
        check_rows(instances, deployed_schema(ports, deployment))
        outcome = _invoke(ports, project, instances, request_id, version, explain=explain)
    except ConveyorError as exc:
        outcome = Outcome(exc.http_status, body_of(exc), version=version)
    except Exception as exc:  # a bug: a 500, recorded and counted so error alarms see it
        logging.getLogger("conveyor.serving").exception("predict %s failed", project)
        detail = f"{type(exc).__name__}: {exc}"
        outcome = Outcome(500, body_of(exc, request_id=request_id), detail=detail)
    seconds = time.perf_counter() - started
    latency_ms = seconds * 1000.0
    deployed = version is not None
    if deployed and instances is not None:  # as locally: a body that is no rows is not kept
        _record(ports, project, request_id, instances, outcome, latency_ms)
    if outcome.status >= 400:
        request_log.log(
            logging.ERROR if outcome.status >= 500 else logging.WARNING,
            "request %s to %s answered %d: %s",
            request_id,
            project,
            outcome.status,
            outcome.detail or outcome.body.get("message"),
        )
    EmfMetrics(namespace).observe(
        project if deployed else UNKNOWN_PROJECT,
        outcome.version,
        outcome.status,
        seconds,
        outcome.rows,
    )
    return proxy_response(outcome.status, json.dumps(outcome.body), {"x-request-id": request_id})


def _invoke(
    ports: Ports,
    project: str,
    instances: list[dict[str, Any]],
    request_id: str,
    version: int,
    *,
    explain: bool = False,
) -> Outcome:
    invoke = getattr(ports.endpoint, "invoke", None)
    if invoke is None:
        raise BackendUnavailable(
            f"the {ports.endpoint.scheme!r} endpoint cannot be invoked from here; "
            "set CONVEYOR_ENDPOINT=sagemaker"
        )
    body = json.dumps({"instances": instances}).encode()
    if explain:
        status, raw, _ = invoke(project, body, "application/json", custom_attributes="explain=true")
    else:
        status, raw, _ = invoke(project, body, "application/json")
    try:
        answer = json.loads(raw)
    except ValueError:
        answer = None
    if not isinstance(answer, dict):
        return Outcome(
            502 if status < 400 else status,
            error_body(
                "bad_gateway" if status < 400 else "model_error",
                f"the endpoint answered {status} with a body that is not a JSON object: "
                f"{raw[:200]!r}",
            ),
            version=version,
        )
    if status >= 400:  # the model server's own error body, as it gave it
        return Outcome(status, answer, version=answer.get("model_version", version))
    out: dict[str, Any] = {
        "predictions": answer.get("predictions"),
        "model_version": answer.get("model_version", version),
        "request_id": request_id,
    }
    if answer.get("probabilities") is not None:
        out["classes"] = answer.get("classes")
        out["probabilities"] = answer["probabilities"]
    if explain:
        out["explanation"] = answer.get("explanation")
    return Outcome(200, out, version=out["model_version"], rows=len(instances))


def _record(
    ports: Ports,
    project: str,
    request_id: str,
    instances: list[dict[str, Any]] | None,
    outcome: Outcome,
    latency_ms: float,
) -> None:
    """The request's item, as ``InferenceRecord.to_item`` makes it, with a TTL."""
    now = time.time()
    stamp = to_iso(datetime.fromtimestamp(now, UTC))
    outputs = None
    if outcome.status == 200:
        outputs = {"predictions": outcome.body["predictions"]}
        if "probabilities" in outcome.body:
            outputs["probabilities"] = outcome.body["probabilities"]
    error = (outcome.detail or outcome.body.get("message")) if outcome.status >= 400 else None
    item = {
        "pk": partition(project),
        "sk": f"{stamp}#{request_id}",
        "project": project,
        "timestamp": stamp,
        "request_id": request_id,
        "model_version": outcome.version,
        "latency_ms": latency_ms,
        "inputs": instances,
        "outputs": outputs,
        "status": outcome.status,
        "error": error,
        "expires_at": int(now) + RECORD_RETENTION_SECONDS,
    }
    try:
        try:
            ports.table.put(item)
        except InvalidInput:  # over DynamoDB's 400 KB: kept without its rows, as uncaptured
            ports.table.put({**item, "inputs": None})
    except ConveyorError:
        # The answer stands without its record (as the local recorder drops on overload).
        logging.getLogger("conveyor.serving").exception("request %s not recorded", request_id)
