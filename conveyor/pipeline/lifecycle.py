"""A version's lifecycle, written once: its approval (PendingManualApproval, Approved,
Rejected), whether it serves, and the champion alias that follows what serves.

Every entry point calls these functions: the CLI (``conveyor models``), the HTTP API, the
dashboard (through the API), the local worker after the gate, the guardrail, and the AWS
Lambda functions. The rules:

- Deploying a pending version approves it, so it needs ``approve=True`` (``--approve``);
  a rejected version is never deployed.
- Approving an approved version changes nothing and says so; approving any other version
  deploys it unless the project deploys by hand.
- Rejecting the version that serves first rolls back to the previous approved one; with
  none, the rejection is refused (nothing would serve).
- Before what serves changes, the artifact's stored bytes are checked against the
  registry's sha256 (``conveyor.monitoring.integrity.check_artifact``). The local side also
  loads the model as its server will (``cache_dir``); a Lambda function (no numpy) does not.

This module stays light: the model stack is imported only when a model is loaded.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from conveyor.endpoint import Deployment
from conveyor.errors import Conflict, IntegrityError
from conveyor.monitoring.integrity import (
    SHOWN_PREFIX,
    check_artifact,
    raise_integrity_alarm,
)
from conveyor.ports import Ports
from conveyor.projects import get_project
from conveyor.types import ApprovalStatus, ModelVersion

CHAMPION = "champion"  # the alias of the deployed version


@dataclass(frozen=True)
class Outcome:
    """What a person's action did: the version as it is now, the deployment it made (None:
    what serves did not change) and one sentence saying what happened."""

    version: ModelVersion
    deployment: Deployment | None
    message: str


def deploy_version(
    ports: Ports,
    project: str,
    version: int,
    *,
    approve: bool = False,
    reason: str | None = None,
    cache_dir: Path | None = None,
) -> Deployment:
    """Serve ``version`` of ``project``, its artifact checked first.

    Args:
        approve: a PendingManualApproval version is approved by being deployed (``reason``
            is kept as the approval's reason).
        cache_dir: where the local side loads the model before serving it; None (a Lambda
            function) checks the artifact's sha256 only.

    Raises:
        NotFound: no such version, or its artifact is gone.
        Conflict: the version was rejected, or is pending and ``approve`` is not given.
        IntegrityError: its artifact is not the registered file (the integrity alarm is
            raised; what served keeps serving).
    """
    model = ports.registry.get_version(project, version)
    if model.approval_status is ApprovalStatus.REJECTED:
        raise Conflict(
            f"{project} version {version} is Rejected{_why(model)}; "
            f"approve it first with `conveyor models approve {project} {version}`"
        )
    if model.approval_status is ApprovalStatus.PENDING and not approve:
        raise Conflict(
            f"{project} version {version} is PendingManualApproval{_why(model)}: "
            f"deploying it approves it. Say so with `conveyor models deploy {project} "
            f"{version} --approve` (API: approve=true), or approve it with `conveyor models "
            f"approve {project} {version}`",
            field="approve",
        )
    current = ports.endpoint.describe_endpoint(project)
    serving = current.version if current and current.version != version else None
    check_artifact(ports.store, ports.table, model, where="deploy", serving=serving)
    if cache_dir is not None:
        _load(ports, model, cache_dir)
    if model.approval_status is ApprovalStatus.PENDING:
        ports.registry.update_approval_status(
            project, version, ApprovalStatus.APPROVED, reason or "approved by deploying it"
        )
    deployment = ports.endpoint.update_endpoint(project, version, model.artifact, model.sha256)
    ports.registry.set_alias(project, CHAMPION, version)
    return deployment


def approve_version(
    ports: Ports,
    project: str,
    version: int,
    reason: str | None = None,
    *,
    cache_dir: Path | None = None,
) -> Outcome:
    """Approve a version, then deploy it unless the project deploys by hand; an approved
    version is left as it is (no redeploy).

    Raises:
        NotFound: no such project or version. Conflict, IntegrityError: as ``deploy_version``.
    """
    model = ports.registry.get_version(project, version)
    if model.approval_status is ApprovalStatus.APPROVED:
        return Outcome(
            model, None, f"{project} version {version} is already Approved: nothing changed"
        )
    approved = ports.registry.update_approval_status(
        project, version, ApprovalStatus.APPROVED, reason or "approved by hand"
    )
    if get_project(ports.table, project).manual_deploy:
        return Outcome(approved, None, f"{project} version {version} approved")
    deployment = deploy_version(ports, project, version, cache_dir=cache_dir)
    return Outcome(approved, deployment, f"{project} version {version} approved and now serves")


def reject_version(
    ports: Ports,
    project: str,
    version: int,
    reason: str | None = None,
    *,
    cache_dir: Path | None = None,
) -> Outcome:
    """Reject a version. When it is the one serving, the previous approved version serves
    again first.

    Raises:
        NotFound: no such version.
        Conflict: it serves and no earlier approved version can replace it (the message
            says what to do).
        IntegrityError: the version to roll back to is not its registered file.
    """
    ports.registry.get_version(project, version)
    current = ports.endpoint.describe_endpoint(project)
    deployment = None
    if current is not None and current.version == version:
        deployment = _replace_rejected(ports, project, version, cache_dir=cache_dir)
    rejected = ports.registry.update_approval_status(
        project, version, ApprovalStatus.REJECTED, reason or "rejected by hand"
    )
    if deployment is None:
        return Outcome(rejected, None, f"{project} version {version} rejected")
    return Outcome(
        rejected,
        deployment,
        f"{project} version {version} rejected; version {deployment.version} serves again",
    )


def rollback(ports: Ports, project: str) -> Deployment:
    """Serve the previously deployed version again, once its stored artifact still has the
    sha256 the registry recorded for it.

    Raises:
        NotFound: nothing is deployed, or the earlier version's artifact is gone.
        Conflict: there is no earlier deployment, the earlier version was rejected, or
            another deploy changed the deployment while the artifact was checked.
        IntegrityError: the earlier version's artifact is not the registered file (the alarm
            is raised; the current version keeps serving).
    """
    current = ports.endpoint.describe_endpoint(project)
    if current is None or not current.history:
        deployment = ports.endpoint.rollback(project)  # the port's NotFound / Conflict
    else:
        previous = ports.registry.get_version(project, current.history[-1].version)
        if previous.approval_status is ApprovalStatus.REJECTED:
            raise Conflict(
                f"{project} version {previous.version}, served before, was Rejected"
                f"{_why(previous)}; deploy a version by its number instead "
                f"(`conveyor models deploy {project} N`)"
            )
        _check_rollback_target(ports, previous, current)
        deployment = ports.endpoint.rollback(project, expected_revision=current.revision)
    ports.registry.set_alias(project, CHAMPION, deployment.version)
    return deployment


def _replace_rejected(
    ports: Ports, project: str, version: int, *, cache_dir: Path | None
) -> Deployment:
    """Serve the approved version that served before ``version``, which is being rejected:
    by a rollback when it is the one just before, else by deploying it by its number."""
    current = ports.endpoint.describe_endpoint(project)
    assert current is not None
    for position, served in enumerate(reversed(current.history)):
        if served.version == version:
            continue
        earlier = ports.registry.get_version(project, served.version)
        if earlier.approval_status is not ApprovalStatus.APPROVED:
            continue
        if position == 0:
            return rollback(ports, project)
        return deploy_version(ports, project, earlier.version, cache_dir=cache_dir)
    raise Conflict(
        f"{project} version {version} serves and no earlier approved version can replace "
        f"it: rejecting it would leave {project} serving a rejected model. Deploy another "
        f"version first (`conveyor models deploy {project} N --approve`) and then reject "
        f"{version}, or delete the project (`conveyor project delete {project}`)"
    )


def _check_rollback_target(ports: Ports, previous: ModelVersion, current: Deployment) -> None:
    """Raise unless the version a rollback of ``current`` returns to is the registered one:
    its stored file's sha256 is the registry's, and so is the deployment record's."""
    project = current.project
    served = current.history[-1]
    check_artifact(
        ports.store,
        ports.table,
        previous,
        artifact=served.artifact,
        where="rollback",
        serving=current.version,
    )
    if served.sha256 != previous.sha256:  # the file is right; the record names other bytes
        error = IntegrityError(
            f"{project} v{previous.version} refused: the deployment history records sha256 "
            f"{served.sha256[:SHOWN_PREFIX]}... for it, but the registry recorded "
            f"{previous.sha256[:SHOWN_PREFIX]}...; v{current.version} keeps serving. Deploy v"
            f"{previous.version} by its number instead (`conveyor models deploy {project} "
            f"{previous.version}`)"
        )
        raise_integrity_alarm(ports.table, project, previous.version, error, where="rollback")
        raise error


def _load(ports: Ports, model: ModelVersion, cache_dir: Path) -> None:
    """Load the model exactly as the model server will, so a version that cannot load never
    replaces one that serves; an artifact changed since the check raises the alarm."""
    from conveyor.model.loading import load_verified  # the model stack: local side only

    try:
        load_verified(
            ports.store,
            model.artifact,
            model.sha256,
            cache_dir=cache_dir,
            version=f"{model.project} v{model.version}",
        )
    except IntegrityError as exc:
        raise_integrity_alarm(ports.table, model.project, model.version, exc, where="deploy")
        raise


def _why(model: ModelVersion) -> str:
    """`` (its reason)`` when the version has one."""
    return f" ({model.status_reason})" if model.status_reason else ""
