"""``/projects``: list (with each one's state at a glance), create, show, and the column kinds
a person sets."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends

from conveyor.api.deps import ApiContext, api_context
from conveyor.api.schemas import (
    ColumnKinds,
    ProjectCreate,
    ProjectDeleted,
    ProjectDetail,
    ProjectOut,
    ProjectSummary,
    ProjectUpdate,
)
from conveyor.api.summaries import project_summaries
from conveyor.pipeline.project_delete import delete_project
from conveyor.projects import create_project, get_project, set_column_kinds, update_project
from conveyor.serving.schemas import KEY_ERRORS, error_responses

router = APIRouter(tags=["projects"])
Context = Annotated[ApiContext, Depends(api_context)]


@router.get(
    "/projects", response_model=list[ProjectSummary], responses=error_responses(*KEY_ERRORS)
)
def list_projects(api: Context) -> list[dict[str, Any]]:
    """Every project with its deployed version, metric, last hour's requests, alarms, drift."""
    return project_summaries(api.ports)


@router.post(
    "/projects",
    response_model=ProjectOut,
    status_code=201,
    responses=error_responses(400, 409, 413, 422, *KEY_ERRORS),
)
def create(body: ProjectCreate, api: Context) -> dict[str, Any]:
    """Create a project (``conveyor project create``)."""
    project = create_project(
        api.ports.table,
        body.name,
        target=body.target,
        task=body.task,
        metric=body.metric,
        algorithm=body.algorithm,
        hyperparameters=body.hyperparameters,
        metric_floor=body.metric_floor,
        min_absolute_change=body.min_absolute_change,
        min_relative_change=body.min_relative_change,
        manual_deploy=body.manual_deploy,
        max_reject_share=body.max_reject_share,
        preset=body.preset,
        time_budget=body.time_budget,
    )
    return project.to_dict()


@router.get(
    "/projects/{project}",
    response_model=ProjectDetail,
    responses=error_responses(404, 422, *KEY_ERRORS),
)
def show(project: str, api: Context) -> dict[str, Any]:
    """The project, what it serves, its registry aliases."""
    item = get_project(api.ports.table, project)
    deployment = api.ports.endpoint.describe_endpoint(project)
    return {
        "project": item.to_dict(),
        "deployment": deployment.to_dict() if deployment else None,
        "aliases": api.ports.registry.get_aliases(project),
    }


@router.patch(
    "/projects/{project}",
    response_model=ProjectOut,
    responses=error_responses(400, 404, 422, *KEY_ERRORS),
)
def update(project: str, body: ProjectUpdate, api: Context) -> dict[str, Any]:
    """Change a project's settings; its next run uses them and records what changed
    (``conveyor project update``). Only the fields sent change."""
    changes = body.model_dump(exclude_unset=True)
    # null means "no change" except for the floor and the budget, where it clears it.
    changes = {
        k: v for k, v in changes.items() if v is not None or k in ("metric_floor", "time_budget")
    }
    return update_project(
        api.ports.table,
        project,
        changes,
        has_versions=bool(api.ports.registry.list_versions(project)),
    ).to_dict()


@router.delete(
    "/projects/{project}",
    response_model=ProjectDeleted,
    responses=error_responses(404, 409, 422, *KEY_ERRORS),
)
def delete(project: str, api: Context, force: bool = False) -> dict[str, Any]:
    """Delete a project and everything it owns (deployment, versions, runs, records,
    alarms, drift reports, files); refused (409) while it serves a model unless ``force``
    (``conveyor project delete``)."""
    return delete_project(api.ports, project, force=force).to_dict()


@router.patch(
    "/projects/{project}/column-kinds",
    response_model=ProjectOut,
    responses=error_responses(400, 404, 422, *KEY_ERRORS),
)
def patch_column_kinds(project: str, body: ColumnKinds, api: Context) -> dict[str, Any]:
    """Set (or with null clear) some columns' kinds; the next run follows them
    (``conveyor project set-column``)."""
    kinds = {name: kind.value if kind else None for name, kind in body.kinds.items()}
    return set_column_kinds(api.ports.table, project, kinds).to_dict()


@router.put(
    "/projects/{project}/column-kinds",
    response_model=ProjectOut,
    responses=error_responses(400, 404, 422, *KEY_ERRORS),
)
def put_column_kinds(project: str, body: ColumnKinds, api: Context) -> dict[str, Any]:
    """Replace every column kind set before with these (``conveyor project set-columns
    --replace``)."""
    kinds = {name: kind.value if kind else None for name, kind in body.kinds.items()}
    return set_column_kinds(api.ports.table, project, kinds, replace_all=True).to_dict()
