"""``POST /feedback/{project}``: actual outcomes for recorded inferences (ground truth)."""

from __future__ import annotations

from functools import partial
from typing import Any

from fastapi import APIRouter, Request
from pydantic import BaseModel, Field
from starlette.concurrency import run_in_threadpool

from conveyor.errors import NotFound
from conveyor.monitoring.feedback_check import receive_feedback
from conveyor.projects import find_project
from conveyor.serving.schemas import KEY_ERRORS, error_responses
from conveyor.tables import Table

router = APIRouter()
_SETTLE_SECONDS = 0.5


class FeedbackItem(BaseModel):
    request_id: str = Field(description="The request_id /predict answered with.")
    actual: Any = Field(
        description="The observed outcome of the request's row (a class or a number), or a "
        "list with one outcome per row when the request scored several."
    )


class FeedbackAnswer(BaseModel):
    stored: int = Field(description="How many feedback items were stored.")
    notes: list[str] = Field(
        default_factory=list,
        description="What to know about the outcomes sent, e.g. a label the model has no "
        "class for (stored, and counted as a miss).",
    )


_OPENAPI = {
    "requestBody": {
        "required": True,
        "content": {
            "application/json": {
                "schema": {
                    "anyOf": [
                        FeedbackItem.model_json_schema(),
                        {"type": "array", "items": FeedbackItem.model_json_schema()},
                    ]
                }
            }
        },
    },
}


@router.post(
    "/feedback/{project}",
    openapi_extra=_OPENAPI,
    response_model=FeedbackAnswer,
    responses=error_responses(400, 404, 413, 422, *KEY_ERRORS),
)
async def feedback(project: str, request: Request) -> FeedbackAnswer:
    """Store actual outcomes; they are joined to the recorded inferences by request id.

    A body with a request id that /predict never answered for the project is refused
    whole (422 naming the ids); nothing of it is stored."""
    table: Table = request.app.state.table
    if find_project(table, project) is None:
        raise NotFound(f"no project {project!r}", field="project")
    state = request.app.state.conveyor
    served = state.holder.get(project)
    version = (served.predictor.schema, f"{project} v{served.version}") if served else None
    # The record writer lands a record within a few of its polls (conveyor.serving.recorder).
    settle = _SETTLE_SECONDS if state.recorder.enabled else 0.0
    stored, notes = await run_in_threadpool(
        partial(receive_feedback, settle_seconds=settle),
        table,
        state.request_ids,
        project,
        await request.body(),
        version,
    )
    return FeedbackAnswer(stored=stored, notes=notes)
