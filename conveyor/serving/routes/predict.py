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
from conveyor.serving.deps import ServerState, predict_and_record
from conveyor.serving.instances import read_rows
from conveyor.serving.schemas import (
    KEY_ERRORS,
    PredictRequest,
    PredictResponse,
    error_responses,
)

router = APIRouter()

_OPENAPI = {
    "requestBody": {
        "required": True,
        "content": {"application/json": {"schema": PredictRequest.model_json_schema()}},
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
    """Score rows with the project's deployed version; every request is recorded."""
    state: ServerState = request.app.state.conveyor
    body = await request.body()
    instances, as_sent = read_rows(body)
    model, prediction, request_id = predict_and_record(
        state, project, instances, request.headers.get("x-request-id"), body if as_sent else None
    )
    answer = answer_body(model.version, prediction, request_id)
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
