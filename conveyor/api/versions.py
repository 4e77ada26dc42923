"""``/projects/{project}/versions``: the registry, version details, approval and deployment."""

from __future__ import annotations

import json
from typing import Annotated, Any

from fastapi import APIRouter, Body, Depends, Query

from conveyor.api.deps import ApiContext, api_context
from conveyor.api.schemas import (
    ApprovedVersion,
    DeploymentOut,
    DeployRequest,
    FileReport,
    Reason,
    VersionDetailOut,
    VersionOut,
)
from conveyor.errors import InvalidInput, NotFound
from conveyor.pipeline import lifecycle
from conveyor.pipeline.compare import compare_versions
from conveyor.pipeline.details import details_key
from conveyor.pipeline.file_report import dataset_report, report_view
from conveyor.pipeline.registration import version_search
from conveyor.ports import Ports
from conveyor.projects import get_project
from conveyor.serving.schemas import KEY_ERRORS, error_responses
from conveyor.storage import REPORTS
from conveyor.types import ModelVersion

router = APIRouter(tags=["versions"])
Context = Annotated[ApiContext, Depends(api_context)]
OptionalReason = Annotated[Reason | None, Body()]


def version_dict(ports: Ports, v: ModelVersion) -> dict[str, Any]:
    """The version with its aliases and whether it is the one served."""
    aliases = ports.registry.get_aliases(v.project)
    deployment = ports.endpoint.describe_endpoint(v.project)
    return {
        **v.to_dict(),
        "aliases": sorted(a for a, n in aliases.items() if n == v.version),
        "deployed": deployment is not None and deployment.version == v.version,
    }


def _version(ports: Ports, project: str, version: int) -> ModelVersion:
    get_project(ports.table, project)  # an unknown project is named as such, not as a version
    return ports.registry.get_version(project, version)


@router.get(
    "/projects/{project}/versions",
    response_model=list[VersionOut],
    responses=error_responses(404, 422, *KEY_ERRORS),
)
def list_versions(project: str, api: Context) -> list[dict[str, Any]]:
    """The project's versions, newest first (``conveyor models list``)."""
    ports = api.ports
    get_project(ports.table, project)
    aliases = ports.registry.get_aliases(project)
    deployment = ports.endpoint.describe_endpoint(project)
    served = deployment.version if deployment else None
    return [
        {
            **v.to_dict(),
            "aliases": sorted(a for a, n in aliases.items() if n == v.version),
            "deployed": v.version == served,
        }
        for v in ports.registry.list_versions(project)
    ]


@router.get(
    "/projects/{project}/versions/{version}",
    response_model=VersionDetailOut,
    responses=error_responses(404, 422, *KEY_ERRORS),
)
def show_version(project: str, version: int, api: Context) -> dict[str, Any]:
    """One version with its details: confusion matrix or residuals, feature importance,
    the trivial baseline's metrics (null for versions evaluated before details were kept)."""
    v = _version(api.ports, project, version)
    return {
        **version_dict(api.ports, v),
        "details": _details(api.ports, v),
        "search": version_search(api.ports.table, v),
    }


@router.get(
    "/projects/{project}/versions/{version}/file",
    response_model=FileReport,
    responses=error_responses(404, 422, *KEY_ERRORS),
)
def version_file(project: str, version: int, api: Context) -> dict[str, Any]:
    """What was done with the file the version's dataset came from (``conveyor models
    show``): the file's facts and each column's kind and rule."""
    v = _version(api.ports, project, version)
    return report_view(dataset_report(api.ports.store, api.ports.table, v))


@router.get(
    "/projects/{project}/compare",
    responses=error_responses(400, 404, 422, *KEY_ERRORS),
)
def compare(
    project: str,
    api: Context,
    versions: Annotated[str, Query(description="Two or more versions, e.g. 2,3.")],
) -> dict[str, Any]:
    """Versions side by side (``conveyor models compare``): metrics on every split, how each
    was trained, the inputs it leaned on most, and what differs."""
    get_project(api.ports.table, project)
    try:
        numbers = [int(part) for part in versions.split(",") if part.strip()]
    except ValueError:
        raise InvalidInput(
            f"versions must be numbers separated by commas, e.g. 2,3; got {versions!r}",
            field="versions",
        ) from None
    return compare_versions(api.ports, project, numbers)


def _details(ports: Ports, v: ModelVersion) -> dict[str, Any] | None:
    try:
        stored = json.loads(ports.store.get(REPORTS, details_key(v.project, v.run_id)))
    except NotFound:
        return None
    return {**stored, "baseline": v.metrics.get("baseline", {})}


@router.post(
    "/projects/{project}/versions/{version}/approve",
    response_model=ApprovedVersion,
    responses=error_responses(400, 404, 409, 413, 422, *KEY_ERRORS),
)
def approve(
    project: str, version: int, api: Context, body: OptionalReason = None
) -> dict[str, Any]:
    """Approve; deployed too unless the project deploys by hand; an approved version is left
    as it is, and ``message`` says so (``conveyor models approve``)."""
    _version(api.ports, project, version)
    outcome = lifecycle.approve_version(
        api.ports, project, version, body.reason if body else None, cache_dir=api.cache_dir
    )
    return _outcome(api.ports, outcome)


@router.post(
    "/projects/{project}/versions/{version}/reject",
    response_model=ApprovedVersion,
    responses=error_responses(400, 404, 409, 413, 422, *KEY_ERRORS),
)
def reject(project: str, version: int, api: Context, body: OptionalReason = None) -> dict[str, Any]:
    """Reject: it will not be deployed; when it serves, the previous approved version serves
    again first, and with none the rejection is refused (409) (``conveyor models reject``)."""
    _version(api.ports, project, version)
    outcome = lifecycle.reject_version(
        api.ports, project, version, body.reason if body else None, cache_dir=api.cache_dir
    )
    return _outcome(api.ports, outcome)


def _outcome(ports: Ports, outcome: lifecycle.Outcome) -> dict[str, Any]:
    deployment = outcome.deployment.to_dict() if outcome.deployment else None
    return {
        **version_dict(ports, outcome.version),
        "deployment": deployment,
        "message": outcome.message,
    }


@router.post(
    "/projects/{project}/versions/{version}/deploy",
    response_model=DeploymentOut,
    # A JSON body, like approve's: one that does not parse is a 400, one too large a 413.
    responses=error_responses(400, 404, 409, 413, 422, *KEY_ERRORS),
)
def deploy(
    project: str, version: int, api: Context, body: Annotated[DeployRequest | None, Body()] = None
) -> dict[str, Any]:
    """Serve this version; running servers swap to it (``conveyor models deploy``). A
    PendingManualApproval version needs ``approve: true`` (409 without it)."""
    _version(api.ports, project, version)
    request = body or DeployRequest()
    return lifecycle.deploy_version(
        api.ports,
        project,
        version,
        approve=request.approve,
        reason=request.reason,
        cache_dir=api.cache_dir,
    ).to_dict()


@router.post(
    "/projects/{project}/rollback",
    response_model=DeploymentOut,
    responses=error_responses(404, 409, 422, *KEY_ERRORS),
)
def rollback(project: str, api: Context) -> dict[str, Any]:
    """Serve the previously deployed version again (``conveyor models rollback``); 409 when
    there is none."""
    get_project(api.ports.table, project)
    return lifecycle.rollback(api.ports, project).to_dict()
