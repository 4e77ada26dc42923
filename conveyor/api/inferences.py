"""``/projects/{project}/inferences``: the recorded requests, newest first, and the
explanation of one recorded row, computed on demand by the deployed model.

The explanation reads the row from the record (so a request that was not captured has none to
explain) and asks the model the server holds; it records nothing.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Request
from pydantic import BaseModel, Field

from conveyor.api.deps import ApiContext, api_context
from conveyor.errors import InvalidInput, NotDeployed, NotFound
from conveyor.inference.records import InferenceRecord, list_inferences, partition
from conveyor.projects import get_project
from conveyor.serving.deps import ServerState
from conveyor.serving.schemas import KEY_ERRORS, Explanation, error_responses
from conveyor.types import to_iso

router = APIRouter(tags=["inferences"])
Context = Annotated[ApiContext, Depends(api_context)]
MAX_LISTED = 500
_SHOWN = 3  # predictions listed per record: a batch's first few


class InferenceOut(BaseModel):
    request_id: str
    timestamp: str = Field(description="When it was answered (ISO 8601, UTC): its record's key.")
    model_version: int | None
    status: int
    latency_ms: float
    rows: int | None = Field(description="Rows recorded; null when its inputs were not captured.")
    predictions: list[Any] = Field(description=f"The first {_SHOWN} predictions.")
    error: str | None


class RecordedExplanation(BaseModel):
    request_id: str
    row: int
    inputs: dict[str, Any] = Field(description="The recorded row.")
    prediction: Any = Field(description="What was answered for the row.")
    answered_by: int | None = Field(description="The version that answered the request.")
    model_version: int = Field(description="The deployed version that explains it now.")
    explanation: Explanation


@router.get(
    "/projects/{project}/inferences",
    response_model=list[InferenceOut],
    responses=error_responses(404, 422, *KEY_ERRORS),
)
def recent_inferences(
    project: str,
    api: Context,
    limit: Annotated[int, Query(ge=1, le=MAX_LISTED)] = 20,
) -> list[dict[str, Any]]:
    """The project's last ``limit`` recorded requests (``conveyor inferences``)."""
    get_project(api.ports.table, project)
    return [_summary(r) for r in list_inferences(api.ports.table, project, limit=limit)]


@router.get(
    "/projects/{project}/inferences/{request_id}/explanation",
    response_model=RecordedExplanation,
    responses=error_responses(400, 404, 422, *KEY_ERRORS),
)
def explain_inference(
    project: str,
    request_id: str,
    request: Request,
    api: Context,
    at: Annotated[str, Query(description="The record's timestamp, as the list gives it.")],
    row: Annotated[int, Query(ge=0, description="Which of the request's rows.")] = 0,
) -> dict[str, Any]:
    """Each column's contribution to the recorded row's score, by the deployed version
    (``POST /predict/{project}?explain=true`` on the row, without recording it)."""
    get_project(api.ports.table, project)
    item = api.ports.table.get(partition(project), f"{at}#{request_id}")
    if item is None:
        raise NotFound(f"no recorded request {request_id!r} at {at!r} in {project}", field="at")
    record = InferenceRecord.from_item(item)
    if record.inputs is None:
        raise NotFound(
            f"request {request_id!r} was recorded without its inputs (CONVEYOR_CAPTURE_RATE "
            "left them out): there is no row to explain",
            field="request_id",
        )
    if row >= len(record.inputs):
        raise InvalidInput(
            f"request {request_id!r} has {len(record.inputs)} rows; row must be below that",
            field="row",
        )
    state: ServerState = request.app.state.conveyor
    model = state.holder.get(project)
    if model is None:
        raise NotDeployed(project, noun="model", why=", so nothing explains its requests")
    inputs = record.inputs[row]
    predictions = (record.outputs or {}).get("predictions") or []
    return {
        "request_id": request_id,
        "row": row,
        "inputs": inputs,
        "prediction": predictions[row] if row < len(predictions) else None,
        "answered_by": record.model_version,
        "model_version": model.version,
        "explanation": model.predictor.explain_records([inputs]),
    }


def _summary(record: InferenceRecord) -> dict[str, Any]:
    predictions = (record.outputs or {}).get("predictions") or []
    return {
        "request_id": record.request_id,
        "timestamp": to_iso(record.timestamp),
        "model_version": record.model_version,
        "status": record.status,
        "latency_ms": record.latency_ms,
        "rows": len(record.inputs) if record.inputs is not None else None,
        "predictions": predictions[:_SHOWN],
        "error": record.error,
    }
