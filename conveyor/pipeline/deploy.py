"""The gate and deploy stages: decide a new version's approval, and swap what a project serves.

Deploying loads the artifact exactly as the model server will (sha256 checked against the
registry, unpacked, predictor loaded) before the deployment record changes, so a version that
cannot load never replaces one that serves.
"""

from __future__ import annotations

from pathlib import Path

from conveyor.endpoint import Deployment, Endpoint
from conveyor.errors import Conflict
from conveyor.model.loading import load_verified
from conveyor.model.metrics import greater_is_better
from conveyor.registry import Registry
from conveyor.registry.gate import GateDecision, GatePolicy, decide
from conveyor.storage import ObjectStore
from conveyor.types import ApprovalStatus, ModelVersion, Project

CHAMPION = "champion"


def gate_version(
    registry: Registry, endpoint: Endpoint, project: Project, version: ModelVersion
) -> tuple[ModelVersion, GateDecision]:
    """Decide and record the version's approval status against the deployed champion."""
    metric = version.primary_metric
    champion_version = None
    champion = None
    deployed = endpoint.describe_endpoint(project.name)
    if deployed is not None and deployed.version != version.version:
        champion_version = deployed.version
        champion = (
            registry.get_version(project.name, deployed.version).metrics.get("test", {}).get(metric)
        )
    decision = decide(
        metric=metric,
        greater_is_better=greater_is_better(metric),
        candidate=float(version.metrics["test"][metric]),
        baseline=float(version.metrics["baseline"][metric]),
        champion=champion,
        champion_version=champion_version,
        policy=GatePolicy(
            project.metric_floor, project.min_absolute_change, project.min_relative_change
        ),
    )
    updated = registry.update_gate(
        project.name, version.version, decision.status, decision.reason, decision.to_dict()
    )
    return updated, decision


def deploy_version(
    store: ObjectStore,
    registry: Registry,
    endpoint: Endpoint,
    project: str,
    version: int,
    *,
    cache_dir: Path,
) -> Deployment:
    """Serve ``version`` of ``project``; a pending version is approved by being deployed.

    Raises:
        NotFound: no such version.
        Conflict: the version was rejected.
        IntegrityError: its artifact does not match the registry's sha256.
    """
    model = registry.get_version(project, version)
    if model.approval_status is ApprovalStatus.REJECTED:
        raise Conflict(
            f"{project} version {version} is Rejected ({model.status_reason}); "
            f"approve it first with `conveyor models approve {project} {version}`"
        )
    load_verified(store, model.artifact, model.sha256, cache_dir=cache_dir)
    if model.approval_status is ApprovalStatus.PENDING:
        registry.update_approval_status(
            project, version, ApprovalStatus.APPROVED, "approved by deploying it"
        )
    deployment = endpoint.update_endpoint(project, version, model.artifact, model.sha256)
    registry.set_alias(project, CHAMPION, version)
    return deployment


def rollback(registry: Registry, endpoint: Endpoint, project: str) -> Deployment:
    """Serve the previously deployed version again."""
    deployment = endpoint.rollback(project)
    registry.set_alias(project, CHAMPION, deployment.version)
    return deployment
