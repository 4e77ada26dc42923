"""``/projects/{project}/drift`` and ``/alarms``: what ``conveyor drift`` and ``conveyor
alarms list|history`` show."""

from __future__ import annotations

from datetime import timedelta
from typing import Annotated, Any

from fastapi import APIRouter, Body, Depends, Query

from conveyor.api.deps import ApiContext, api_context
from conveyor.api.schemas import (
    DEFAULT_DRIFT_WINDOW,
    AlarmHistoryOut,
    AlarmOut,
    DriftOut,
    DriftRequest,
)
from conveyor.errors import NotFound
from conveyor.monitoring.alarms.defaults import ensure_default_alarms
from conveyor.monitoring.drift.check import run_drift_check, save_drift_check
from conveyor.monitoring.drift.store import latest_drift_check
from conveyor.projects import get_project
from conveyor.serving.schemas import KEY_ERRORS, error_responses
from conveyor.types import utcnow

router = APIRouter(tags=["monitoring"])
Context = Annotated[ApiContext, Depends(api_context)]


@router.get(
    "/projects/{project}/drift",
    response_model=DriftOut,
    responses=error_responses(404, 422, *KEY_ERRORS),
)
def latest_drift(project: str, api: Context) -> dict[str, Any]:
    """The latest saved drift check; 404 when none was made."""
    get_project(api.ports.table, project)
    item = latest_drift_check(api.ports.table, project)
    if item is None:
        raise NotFound(
            f"project {project!r} has no drift check yet: POST to this path, or run "
            f"`conveyor drift {project}`",
            field="project",
        )
    return {k: v for k, v in item.items() if k not in ("pk", "sk")}


@router.post(
    "/projects/{project}/drift",
    response_model=DriftOut,
    responses=error_responses(400, 404, 409, 413, 422, *KEY_ERRORS),
)
def check_drift(
    project: str, api: Context, body: Annotated[DriftRequest | None, Body()] = None
) -> dict[str, Any]:
    """Check drift over the last ``window`` seconds now, and keep the result (``conveyor
    drift --window``)."""
    get_project(api.ports.table, project)
    window = body.window if body is not None else DEFAULT_DRIFT_WINDOW
    end = utcnow()
    report = run_drift_check(api.ports, project, since=end - timedelta(seconds=window), until=end)
    save_drift_check(api.ports.table, report)
    return report.to_dict()


@router.get(
    "/projects/{project}/alarms",
    response_model=list[AlarmOut],
    responses=error_responses(404, 422, *KEY_ERRORS),
)
def list_alarms(project: str, api: Context) -> list[dict[str, Any]]:
    """The project's alarms and their state (``conveyor alarms list``)."""
    get_project(api.ports.table, project)
    ensure_default_alarms(api.ports, project)
    return [s.to_dict() for s in api.ports.alarms.list_alarms(project)]


@router.get(
    "/projects/{project}/alarms/history",
    response_model=list[AlarmHistoryOut],
    responses=error_responses(404, 422, *KEY_ERRORS),
)
def alarm_history(
    project: str, api: Context, limit: Annotated[int, Query(ge=1, le=1000)] = 50
) -> list[dict[str, Any]]:
    """State changes and guardrail rollbacks, newest first (``conveyor alarms history``)."""
    get_project(api.ports.table, project)
    return [e.to_dict() for e in api.ports.alarms.alarm_history(project, limit=limit)]
