"""``/projects/{project}/runs``, ``/runs/{run_id}``, its logs and what it did with its file."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query

from conveyor.api.deps import ApiContext, api_context
from conveyor.api.schemas import FileReport, RunLogs, RunOut
from conveyor.pipeline.cause import cause_of
from conveyor.pipeline.file_report import report_view
from conveyor.pipeline.run_logs import run_log, stage_list, training_log
from conveyor.pipeline.runs import RunStore
from conveyor.projects import get_project
from conveyor.serving.schemas import KEY_ERRORS, error_responses
from conveyor.types import Run

router = APIRouter(tags=["runs"])
Context = Annotated[ApiContext, Depends(api_context)]


def run_dict(run: Run) -> dict[str, Any]:
    return {**run.to_dict(), "stages": stage_list(run), "cause": cause_of(run).to_dict()}


@router.get(
    "/projects/{project}/runs",
    response_model=list[RunOut],
    responses=error_responses(404, 422, *KEY_ERRORS),
)
def list_runs(
    project: str, api: Context, limit: Annotated[int, Query(ge=1, le=1000)] = 20
) -> list[dict[str, Any]]:
    """The project's runs, newest first (``conveyor runs list -p``)."""
    get_project(api.ports.table, project)
    return [run_dict(r) for r in RunStore(api.ports.table).list_runs(project, limit=limit)]


@router.get(
    "/runs/{run_id}", response_model=RunOut, responses=error_responses(404, 422, *KEY_ERRORS)
)
def show_run(run_id: str, api: Context) -> dict[str, Any]:
    """One run: state, stages with timings and outcome, failure reason, report."""
    return run_dict(RunStore(api.ports.table).get(run_id))


@router.get(
    "/runs/{run_id}/logs", response_model=RunLogs, responses=error_responses(404, 422, *KEY_ERRORS)
)
def run_logs(run_id: str, api: Context) -> dict[str, Any]:
    """The run's own log and its training job's log (``conveyor logs --run``)."""
    run = RunStore(api.ports.table).get(run_id)
    return {"run_log": run_log(api.home, run_id), "training_log": training_log(api.ports, run)}


@router.get(
    "/runs/{run_id}/file",
    response_model=FileReport,
    responses=error_responses(404, 422, *KEY_ERRORS),
)
def run_file(run_id: str, api: Context) -> dict[str, Any]:
    """What the run did with its file: encoding, dialect, header, rejects, and each column's
    kind, rule, missing tokens and share parsed (``conveyor runs show``)."""
    return report_view(RunStore(api.ports.table).get(run_id).report)
