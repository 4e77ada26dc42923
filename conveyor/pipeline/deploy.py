"""The gate and deploy stages as the local worker and the CLI run them: decide a new
version's approval, and swap what a project serves.

Deploying loads the artifact exactly as the model server will (sha256 checked against the
registry, unpacked, predictor loaded) before the deployment record changes, so a version that
cannot load never replaces one that serves. Rolling back checks the earlier version's stored
bytes against the registry's sha256 the same way (it loaded once, so its bytes are what can
have changed). A refused artifact raises the integrity alarm (``conveyor alarms history``).
The decision and the records themselves are ``conveyor.pipeline.promotion``'s, which the AWS
Lambda functions share.
"""

from __future__ import annotations

from pathlib import Path

from conveyor.endpoint import Deployment, Endpoint, ServedVersion
from conveyor.errors import IntegrityError, NotFound
from conveyor.model.loading import load_verified
from conveyor.model.metrics import greater_is_better
from conveyor.monitoring.integrity import (
    SHOWN_PREFIX,
    raise_integrity_alarm,
    refuse_artifact,
    stored_sha256,
)
from conveyor.pipeline import promotion
from conveyor.pipeline.promotion import CHAMPION
from conveyor.pipeline.registration import Comparison
from conveyor.registry import Registry
from conveyor.registry.gate import GateDecision
from conveyor.storage import ObjectStore
from conveyor.tables import Table
from conveyor.types import ModelVersion, ObjectRef, Project

__all__ = ["CHAMPION", "deploy_version", "gate_version", "rollback"]


def gate_version(
    registry: Registry,
    endpoint: Endpoint,
    project: Project,
    version: ModelVersion,
    comparison: Comparison | None,
) -> tuple[ModelVersion, GateDecision]:
    """Decide and record the version's approval status against the deployed champion, on
    the rows ``comparison`` scored both on."""
    return promotion.gate_version(
        registry,
        endpoint,
        project,
        version,
        comparison,
        greater_is_better=greater_is_better(version.primary_metric),
    )


def deploy_version(
    store: ObjectStore,
    registry: Registry,
    endpoint: Endpoint,
    project: str,
    version: int,
    *,
    cache_dir: Path,
    table: Table,
) -> Deployment:
    """Serve ``version`` of ``project`` once its artifact loads; a pending version is approved
    by being deployed. ``table`` receives the integrity alarm of a refused artifact.

    Raises:
        NotFound: no such version.
        Conflict: the version was rejected.
        IntegrityError: its artifact does not match the registry's sha256 (the alarm is
            raised; what served keeps serving).
    """

    def verify(model: ModelVersion) -> None:
        try:
            load_verified(
                store,
                model.artifact,
                model.sha256,
                cache_dir=cache_dir,
                version=f"{model.project} v{model.version}",
            )
        except IntegrityError as exc:
            current = endpoint.describe_endpoint(project)
            serving = current.version if current and current.version != model.version else None
            raise _refusal(store, table, model, exc, where="deploy", serving=serving) from exc

    return promotion.deploy_version(registry, endpoint, project, version, verify=verify)


def rollback(
    registry: Registry,
    endpoint: Endpoint,
    project: str,
    *,
    store: ObjectStore,
    table: Table,
) -> Deployment:
    """Serve the previously deployed version again, once its stored artifact still has the
    sha256 the registry recorded for it. ``table`` receives the integrity alarm of a refused
    artifact.

    Raises:
        NotFound: nothing is deployed, or the earlier version's artifact is gone.
        Conflict: there is no earlier deployment, or another deploy changed the project's
            deployment while the artifact was checked.
        IntegrityError: the earlier version's artifact is not the registered file (the alarm
            is raised; the current version keeps serving).
    """
    current = endpoint.describe_endpoint(project)
    if current is None or not current.history:
        deployment = endpoint.rollback(project)  # the port's NotFound / Conflict
    else:
        _check_rollback_target(store, registry, table, current)
        deployment = endpoint.rollback(project, expected_revision=current.revision)
    registry.set_alias(project, CHAMPION, deployment.version)
    return deployment


def _check_rollback_target(
    store: ObjectStore, registry: Registry, table: Table, current: Deployment
) -> None:
    """Raise unless the version a rollback of ``current`` returns to is the registered one:
    the deployment record's hash is the registry's, and so is its stored file's."""
    previous: ServedVersion = current.history[-1]
    project = current.project
    model = registry.get_version(project, previous.version)
    found = stored_sha256(store, previous.artifact)
    if found != model.sha256:
        raise refuse_artifact(
            table,
            project,
            previous.version,
            previous.artifact,
            expected=model.sha256,
            found=found,
            where="rollback",
            serving=current.version,
        )
    if previous.sha256 != model.sha256:  # the file is right; the record names other bytes
        error = IntegrityError(
            f"{project} v{previous.version} refused: the deployment history records sha256 "
            f"{previous.sha256[:SHOWN_PREFIX]}... for it, but the registry recorded "
            f"{model.sha256[:SHOWN_PREFIX]}...; v{current.version} keeps serving. Deploy v"
            f"{previous.version} by its number instead (`conveyor models deploy {project} "
            f"{previous.version}`)"
        )
        raise_integrity_alarm(table, project, previous.version, error, where="rollback")
        raise error


def _refusal(
    store: ObjectStore,
    table: Table,
    model: ModelVersion,
    error: IntegrityError,
    *,
    where: str,
    serving: int | None,
) -> IntegrityError:
    """``error`` (the loader's) as the refusal a person can act on, its alarm raised. The
    loader's temporary copy is gone: the stored file is hashed again for the message."""
    artifact: ObjectRef = model.artifact
    try:
        found = stored_sha256(store, artifact)
    except NotFound:
        found = None
    if found is None or found == model.sha256:  # gone, or put back since: the loader's words
        raise_integrity_alarm(table, model.project, model.version, error, where=where)
        return error
    return refuse_artifact(
        table,
        model.project,
        model.version,
        artifact,
        expected=model.sha256,
        found=found,
        where=where,
        serving=serving,
    )
