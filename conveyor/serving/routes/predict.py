"""``POST /predict/{project}``: the public prediction API (API Gateway's route on AWS).

The body is parsed and checked by hand rather than through a pydantic model: on a one-row
request the framework's validation and serialisation cost more than the model itself. The
OpenAPI document still describes the body and the answer.
"""

from __future__ import annotations

import json
from typing import Any

from fastapi import APIRouter, Request, Response

from conveyor.model.artifact import Prediction
from conveyor.serving.deps import ServerState, model_for, predict_and_record
from conveyor.serving.explain import (
    EXPLAIN_PARAMETER,
    add_explanation,
    check_explainable,
    explain_flag,
)
from conveyor.serving.instances import read_rows
from conveyor.serving.schemas import (
    KEY_ERRORS,
    PredictRequest,
    PredictResponse,
    error_responses,
)

router = APIRouter()
_CSV = "A header row of column names, then one line per row (an empty cell is missing)."

_OPENAPI = {
    "parameters": [EXPLAIN_PARAMETER],
    "requestBody": {
        "required": True,
        "content": {
            "application/json": {"schema": PredictRequest.model_json_schema()},
            "text/csv": {"schema": {"type": "string", "description": _CSV}},
        },
    },
    "responses": {
        "200": {"content": {"application/json": {"schema": PredictResponse.model_json_schema()}}},
    },
}


# The fast path (fastpath.py) answers these: its errors have the same body as every route's.
_ERRORS = error_responses(400, 404, 413, 422, 504, *KEY_ERRORS)


@router.post(
    "/predict/{project}", openapi_extra=_OPENAPI, response_class=Response, responses=_ERRORS
)
async def predict(project: str, request: Request) -> Response:
    """Score rows with the project's deployed version; every request is recorded.

    The body: conveyor's ``{"instances": [{column: value}, ...]}``; MLflow's
    ``dataframe_split``, ``dataframe_records`` or ``inputs``; TF-Serving's ``instances`` as
    lists of values in the model's column order; or ``text/csv`` with a header row."""
    state: ServerState = request.app.state.conveyor
    body = await request.body()
    explain = explain_flag(request.scope.get("query_string", b""))
    held = state.holder.get(project)
    columns = held.schema.feature_names if held is not None else None
    content_type = request.headers.get("content-type")
    instances, as_sent = read_rows(body, columns=columns, content_type=content_type)
    if explain:
        check_explainable(model_for(state, project))
    model, prediction, request_id = predict_and_record(
        state, project, instances, request.headers.get("x-request-id"), body if as_sent else None
    )
    answer = answer_body(model.version, prediction, request_id)
    if explain:
        add_explanation(answer, model, instances)
    return Response(json.dumps(answer), media_type="application/json")


def answer_body(version: int, prediction: Prediction, request_id: str) -> dict[str, Any]:
    answer: dict[str, Any] = {
        "predictions": prediction.predictions,
        "model_version": version,
        "request_id": request_id,
    }
    if prediction.probabilities is not None:
        answer["classes"] = prediction.classes
        answer["probabilities"] = prediction.probabilities
    if prediction.ignored:
        answer["ignored_columns"] = list(prediction.ignored)
    return answer
