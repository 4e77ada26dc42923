"""The gate and deploy stages as the local worker and the CLI run them: decide a new
version's approval, and swap what a project serves.

Deploying loads the artifact exactly as the model server will (sha256 checked against the
registry, unpacked, predictor loaded) before the deployment record changes, so a version that
cannot load never replaces one that serves. The decision and the records themselves are
``conveyor.pipeline.promotion``'s, which the AWS Lambda functions share.
"""

from __future__ import annotations

from pathlib import Path

from conveyor.endpoint import Deployment, Endpoint
from conveyor.model.loading import load_verified
from conveyor.model.metrics import greater_is_better
from conveyor.pipeline import promotion
from conveyor.pipeline.promotion import CHAMPION
from conveyor.registry import Registry
from conveyor.registry.gate import GateDecision
from conveyor.storage import ObjectStore
from conveyor.types import ModelVersion, Project

__all__ = ["CHAMPION", "deploy_version", "gate_version", "rollback"]


def gate_version(
    registry: Registry, endpoint: Endpoint, project: Project, version: ModelVersion
) -> tuple[ModelVersion, GateDecision]:
    """Decide and record the version's approval status against the deployed champion."""
    return promotion.gate_version(
        registry,
        endpoint,
        project,
        version,
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
) -> Deployment:
    """Serve ``version`` of ``project`` once its artifact loads; a pending version is approved
    by being deployed.

    Raises:
        NotFound: no such version.
        Conflict: the version was rejected.
        IntegrityError: its artifact does not match the registry's sha256.
    """
    return promotion.deploy_version(
        registry,
        endpoint,
        project,
        version,
        verify=lambda model: load_verified(
            store,
            model.artifact,
            model.sha256,
            cache_dir=cache_dir,
            version=f"{model.project} v{model.version}",
        ),
    )


def rollback(registry: Registry, endpoint: Endpoint, project: str) -> Deployment:
    """Serve the previously deployed version again."""
    deployment = endpoint.rollback(project)
    registry.set_alias(project, CHAMPION, deployment.version)
    return deployment
