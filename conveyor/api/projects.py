"""``/projects``: list (with each one's state at a glance), create, show, and the column kinds
a person sets."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends

from conveyor.api.deps import ApiContext, api_context
from conveyor.api.schemas import (
    ColumnKinds,
    ProjectCreate,
    ProjectDetail,
    ProjectOut,
    ProjectSummary,
)
from conveyor.api.summaries import project_summaries
from conveyor.projects import create_project, get_project, set_column_kinds
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
