"""The SageMaker inference container contract: ``GET /ping`` and ``POST /invocations``
(JSON or CSV in, JSON or CSV out) for one project's deployed model.

``/invocations`` takes the limits ``/predict`` takes (``conveyor.serving.limits``): the body
size, the rows per request (413) and the time per prediction (504), with the same messages."""

from __future__ import annotations

import json
import time
from typing import Annotated, Any

import orjson
import polars as pl
from fastapi import APIRouter, Depends, Request, Response

from conveyor.errors import ConveyorError, InvalidInput, NotFound
from conveyor.model.artifact import Prediction
from conveyor.model.loading import LoadedModel
from conveyor.serving.deadline import score_on_thread
from conveyor.serving.deps import (
    ServerState,
    get_state,
    model_for,
    new_request_id,
    predict_and_record,
    request_failed,
)
from conveyor.serving.explain import (
    CUSTOM_ATTRIBUTES,
    EXPLAIN_PARAMETER,
    add_explanation,
    check_explainable,
    explain_flag,
)
from conveyor.serving.instances import read_rows
from conveyor.serving.limits import INLINE_BODY_BYTES, RequestLimits, check_flat_rows
from conveyor.serving.schemas import (
    KEY_ERRORS,
    PredictRequest,
    PredictResponse,
    error_responses,
)

router = APIRouter()

_NO_BODY: dict[str, Any] = {"content": {}}
_PING: dict[int | str, dict[str, Any]] = {
    200: {"description": "A model is loaded.", **_NO_BODY},
    404: {"description": "No model is loaded yet.", **_NO_BODY},
}
_ROWS = {"type": "array", "items": {"type": "object", "additionalProperties": True}}
_INVOCATIONS = {
    "parameters": [EXPLAIN_PARAMETER],
    "requestBody": {
        "required": True,
        "content": {
            "application/json": {"schema": {"anyOf": [PredictRequest.model_json_schema(), _ROWS]}},
            "text/csv": {"schema": {"type": "string"}},
        },
    },
    "responses": {
        "200": {
            "description": "The predictions, as JSON, or as CSV when the request accepts text/csv.",
            "content": {
                "application/json": {"schema": PredictResponse.model_json_schema()},
                "text/csv": {"schema": {"type": "string"}},
            },
        },
    },
}


@router.get("/ping", response_class=Response, responses=_PING)
def ping(state: Annotated[ServerState, Depends(get_state)]) -> Response:
    """200 once a model is loaded (SageMaker's health check), 404 before."""
    status = 200 if state.holder.served() else 404
    return Response(status_code=status)


def _project(state: ServerState) -> str:
    if state.serve_project:
        return state.serve_project
    served = sorted(state.holder.served())
    if len(served) == 1:
        return served[0]
    raise NotFound(
        f"/invocations serves one project, and {len(served)} are deployed "
        f"({', '.join(served) or 'none'}); start the server with --project NAME",
        field="project",
    )


def _rows(body: bytes, content_type: str, limits: RequestLimits) -> list[dict[str, Any]]:
    """The body's rows, within the row limit; as /predict, a value is never an object or a list."""
    if content_type.startswith("text/csv"):
        from_csv = read_rows(body, content_type=content_type)[0]  # /predict's CSV reader
        limits.check_rows(from_csv, field="body", where="in its CSV body")
        return from_csv
    try:
        # orjson as /predict: what it reads the recorder can write (json.loads keeps integers
        # past 64 bits, which the record then cannot hold: a 500).
        payload = orjson.loads(body)
    except orjson.JSONDecodeError as exc:  # also invalid UTF-8, and nesting too deep
        raise InvalidInput(f"the body is not valid JSON: {exc}", field="body") from exc
    rows = payload.get("instances") if isinstance(payload, dict) else payload
    if not isinstance(rows, list) or not all(isinstance(r, dict) for r in rows):
        raise InvalidInput(
            'send {"instances": [{column: value, ...}, ...]} or a list of row objects',
            field="instances",
        )
    limits.check_rows(rows)
    check_flat_rows(rows)
    return rows


def _limits(request: Request) -> RequestLimits:
    """The server's limits: the local server's fast path and the container's app set them."""
    limits: RequestLimits | None = getattr(request.app.state, "limits", None)
    return limits or RequestLimits()


@router.post(
    "/invocations",
    response_class=Response,
    openapi_extra=_INVOCATIONS,
    responses=error_responses(400, 404, 413, 504, *KEY_ERRORS),
)
async def invocations(
    request: Request, state: Annotated[ServerState, Depends(get_state)]
) -> Response:
    started = time.perf_counter()
    project = state.serve_project or ""
    request_id = request.headers.get("x-request-id") or new_request_id(state, project)
    try:
        project = _project(state)
        response, version, rows = await _invoke(request, state, project, request_id)
    except ConveyorError as exc:
        seconds = time.perf_counter() - started
        request_failed(state, project, request_id, exc.http_status, exc.message, seconds)
        raise
    except Exception as exc:  # errors.py answers 500 and logs the traceback; count it here
        message = f"{type(exc).__name__}: {exc}"
        seconds = time.perf_counter() - started
        request_failed(state, project, request_id, 500, message, seconds, logged=True)
        raise
    state.metrics.requests.observe(project, version, 200, time.perf_counter() - started, rows)
    return response


async def _invoke(
    request: Request, state: ServerState, project: str, request_id: str
) -> tuple[Response, int, int]:
    content_type = request.headers.get("content-type", "application/json")
    if not content_type.startswith(("application/json", "text/csv")):
        raise InvalidInput(
            f"content type {content_type!r} is not supported; use application/json or text/csv",
            field="content-type",
        )
    body, limits = await request.body(), _limits(request)
    # SageMaker's InvokeEndpoint sends no query string: it passes CustomAttributes instead.
    explain = explain_flag(request.scope.get("query_string", b"")) or explain_flag(
        request.headers.get(CUSTOM_ATTRIBUTES, "")
    )
    as_csv = request.headers.get("accept", "").startswith("text/csv")
    if explain and as_csv:
        raise InvalidInput(
            "explanations are answered as JSON: accept application/json", field="explain"
        )
    explained: dict[str, Any] = {}

    def score(scoring: ServerState) -> tuple[LoadedModel, Prediction, int]:
        rows = _rows(body, content_type, limits)
        if explain:  # refused before anything is predicted or recorded
            check_explainable(model_for(scoring, project))
        model, prediction, _ = predict_and_record(scoring, project, rows, request_id)
        if explain:
            add_explanation(explained, model, rows)
        return model, prediction, len(rows)

    if len(body) <= INLINE_BODY_BYTES:
        model, prediction, count = score(state)
    else:  # a large batch: on a thread, within the timeout, as /predict (deadline.py)
        name = f"invocations-batch {request_id}"
        model, prediction, count = await score_on_thread(state, limits, score, name=name)
    headers = {"x-request-id": request_id, "x-model-version": str(model.version)}
    if as_csv:
        out = pl.DataFrame({"prediction": pl.Series(prediction.predictions, strict=False)})
        response = Response(out.write_csv(), media_type="text/csv", headers=headers)
        return response, model.version, count
    answer: dict[str, Any] = {
        "predictions": prediction.predictions,
        "model_version": model.version,
        "request_id": request_id,
    }
    if prediction.probabilities is not None:
        answer.update(classes=prediction.classes, probabilities=prediction.probabilities)
    answer.update(explained)
    response = Response(json.dumps(answer), media_type="application/json", headers=headers)
    return response, model.version, count
