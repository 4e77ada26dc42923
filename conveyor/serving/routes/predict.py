"""``POST /predict/{project}``: the public prediction API (API Gateway's route on AWS)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Header

from conveyor.serving.deps import ServerState, get_state, predict_and_record
from conveyor.serving.schemas import PredictRequest, PredictResponse

router = APIRouter()


@router.post("/predict/{project}", response_model=PredictResponse,
             response_model_exclude_none=True)
def predict(
    project: str,
    body: PredictRequest,
    state: Annotated[ServerState, Depends(get_state)],
    x_request_id: Annotated[str | None, Header()] = None,
) -> PredictResponse:
    """Score rows with the project's deployed version; every request is recorded."""
    model, prediction, request_id = predict_and_record(state, project, body.instances,
                                                       x_request_id)
    return PredictResponse(
        predictions=prediction.predictions, model_version=model.version,
        request_id=request_id, classes=prediction.classes,
        probabilities=prediction.probabilities,
    )
