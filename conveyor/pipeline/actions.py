"""What a person does to a project's versions, for every entry point (the CLI's ``conveyor
models`` commands and the management API call these same functions)."""

from __future__ import annotations

from pathlib import Path

from conveyor.endpoint import Deployment
from conveyor.pipeline import deploy as deploy_stage
from conveyor.projects import get_project
from conveyor.types import ApprovalStatus, ModelVersion
from conveyor.wiring import Ports


def set_approval(
    ports: Ports, project: str, version: int, status: ApprovalStatus, reason: str | None
) -> ModelVersion:
    """Record a person's decision on a version, with a default reason naming it by hand."""
    default = "approved by hand" if status is ApprovalStatus.APPROVED else "rejected by hand"
    return ports.registry.update_approval_status(project, version, status, reason or default)


def approve_version(
    ports: Ports, project: str, version: int, reason: str | None, *, cache_dir: Path
) -> tuple[ModelVersion, Deployment | None]:
    """Approve a version, then deploy it unless the project deploys by hand.

    Returns:
        (the version as approved, the deployment it made or None).
    """
    approved = set_approval(ports, project, version, ApprovalStatus.APPROVED, reason)
    if get_project(ports.table, project).manual_deploy:
        return approved, None
    return approved, deploy(ports, project, version, cache_dir=cache_dir)


def reject_version(ports: Ports, project: str, version: int, reason: str | None) -> ModelVersion:
    return set_approval(ports, project, version, ApprovalStatus.REJECTED, reason)


def deploy(ports: Ports, project: str, version: int, *, cache_dir: Path) -> Deployment:
    """Serve ``version`` once its artifact loads (see ``deploy_stage.deploy_version``); an
    artifact refused for its sha256 also raises an integrity alarm."""
    return deploy_stage.deploy_version(
        ports.store,
        ports.registry,
        ports.endpoint,
        project,
        version,
        cache_dir=cache_dir,
        table=ports.table,
    )


def rollback(ports: Ports, project: str) -> Deployment:
    """Serve the previously deployed version again, once its artifact's sha256 still matches
    the registry's.

    Raises:
        NotFound: nothing is deployed. Conflict: there is no earlier deployment.
        IntegrityError: the earlier version's artifact changed (an integrity alarm is raised
            and the current version keeps serving).
    """
    return deploy_stage.rollback(
        ports.registry, ports.endpoint, project, store=ports.store, table=ports.table
    )
