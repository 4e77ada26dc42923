"""The gate and the deployment record, without the heavy stack: decide a new version's
approval against the deployed champion, swap what a project serves, and end a run by the
gate's decision.

The local worker (``conveyor.pipeline.deploy``) and the AWS Lambda functions
(``conveyor.aws.release``) both decide and record through this module. They differ only in
what they know without it: the local side reads the metric's direction from the model code
and loads the artifact before serving it (numpy); the Lambda side is given the direction in
``evaluation.json`` and checks the artifact's sha256 as a stream.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace

from conveyor.endpoint import Deployment, Endpoint
from conveyor.errors import Conflict
from conveyor.pipeline.registration import Evaluation
from conveyor.pipeline.runs import RunStore
from conveyor.registry import Registry
from conveyor.registry.gate import GateDecision, GatePolicy, decide
from conveyor.types import ApprovalStatus, ModelVersion, Project, Run, RunState

CHAMPION = "champion"  # the alias of the deployed version


def gate_version(
    registry: Registry,
    endpoint: Endpoint,
    project: Project,
    version: ModelVersion,
    *,
    greater_is_better: bool,
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
        greater_is_better=greater_is_better,
        candidate=float(version.metrics["test"][metric]),
        baseline=float(version.metrics["baseline"][metric]),
        champion=champion,
        champion_version=champion_version,
        policy=GatePolicy(
            project.metric_floor, project.min_absolute_change, project.min_relative_change
        ),
    )
    if decision.status is ApprovalStatus.APPROVED and project.manual_deploy:
        # The project deploys by hand: the gate's approval is a recommendation to a person.
        decision = replace(
            decision,
            status=ApprovalStatus.PENDING,
            reason=f"{decision.reason}; the project deploys by hand: a person approves it "
            f"(`conveyor models approve {project.name} {version.version}`) and deploys it "
            f"(`conveyor models deploy {project.name} {version.version}`)",
        )
    updated = registry.update_gate(
        project.name, version.version, decision.status, decision.reason, decision.to_dict()
    )
    return updated, decision


def deploy_version(
    registry: Registry,
    endpoint: Endpoint,
    project: str,
    version: int,
    *,
    verify: Callable[[ModelVersion], object],
) -> Deployment:
    """Serve ``version`` of ``project``; a pending version is approved by being deployed.
    ``verify`` checks the version's artifact before anything changes (it raises when the
    artifact must not be served).

    Raises:
        NotFound: no such version.
        Conflict: the version was rejected.
    """
    model = registry.get_version(project, version)
    if model.approval_status is ApprovalStatus.REJECTED:
        raise Conflict(
            f"{project} version {version} is Rejected ({model.status_reason}); "
            f"approve it first with `conveyor models approve {project} {version}`"
        )
    verify(model)
    if model.approval_status is ApprovalStatus.PENDING:
        registry.update_approval_status(
            project, version, ApprovalStatus.APPROVED, "approved by deploying it"
        )
    deployment = endpoint.update_endpoint(project, version, model.artifact, model.sha256)
    registry.set_alias(project, CHAMPION, version)
    return deployment


def end_gated_run(
    runs: RunStore,
    run: Run,
    project: Project,
    evaluation: Evaluation,
    version: ModelVersion,
    decision: GateDecision,
    deploy: Callable[[int], object],
) -> Run:
    """The run after the gate: REJECTED; DEPLOYED when approved (``deploy`` serves the
    version) unless the project deploys by hand; else REGISTERED."""
    report = {
        **run.report,
        "metrics": evaluation.metrics,
        "primary_metric": evaluation.primary_metric,
        "gate": decision.to_dict(),
    }
    if decision.status is ApprovalStatus.REJECTED:
        return runs.advance(run, RunState.REJECTED, model_version=version.version, report=report)
    if decision.status is ApprovalStatus.APPROVED and not project.manual_deploy:
        deploy(version.version)
        return runs.advance(run, RunState.DEPLOYED, model_version=version.version, report=report)
    return runs.advance(run, RunState.REGISTERED, model_version=version.version, report=report)
