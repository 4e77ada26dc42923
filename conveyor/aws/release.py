"""Registration, the gate and deployment as a Lambda function runs them.

The local worker loads the model before deploying it (``conveyor.pipeline.lifecycle`` with
a ``cache_dir``) and reads the metric's direction from the model code: both need numpy,
which a Lambda function does not have. Here the pipeline job has already loaded and scored
the artifact, and wrote the metric's direction into ``evaluation.json``; deploying checks
the artifact's bytes against the registry's sha256 as a stream only (the lifecycle without
a ``cache_dir``). The gate and the run's end are ``conveyor.pipeline.promotion``'s, the
version's transitions ``conveyor.pipeline.lifecycle``'s: the same calls on the same ports as
the local worker's.
"""

from __future__ import annotations

import json
import logging

from conveyor.aws.pipeline_job import evaluation_key
from conveyor.aws.sagemaker_common import sagemaker_name
from conveyor.endpoint import Deployment
from conveyor.errors import NotFound
from conveyor.pipeline.lifecycle import deploy_version, reject_version
from conveyor.pipeline.promotion import end_gated_run, gate_version
from conveyor.pipeline.registration import Evaluation, register
from conveyor.pipeline.runs import RunStore
from conveyor.pipeline.train import artifact_ref
from conveyor.ports import PipelineContext, Ports
from conveyor.projects import find_project, list_projects
from conveyor.storage import REPORTS
from conveyor.types import ApprovalStatus, Project, Run, RunState

log = logging.getLogger("conveyor.pipeline")


def register_and_gate(ctx: PipelineContext, run: Run, project: Project) -> Run:
    """A Completed pipeline job's run: register its evaluated model, gate it, deploy it
    when approved (unless the project deploys by hand). The run ends REGISTERED, DEPLOYED or
    REJECTED, as on the local worker."""
    runs = RunStore(ctx.ports.table)
    run = runs.advance(run, RunState.EVALUATING)
    try:
        document = json.loads(ctx.ports.store.get(REPORTS, evaluation_key(run.project, run.run_id)))
    except NotFound:
        raise NotFound(
            f"the pipeline job of run {run.run_id} ended without its evaluation "
            f"({REPORTS}/{evaluation_key(run.project, run.run_id)}); see its log"
        ) from None
    evaluation = Evaluation.from_dict(document)
    version = register(ctx.ports.registry, run, project, artifact_ref(run), evaluation)
    version, decision = gate_version(
        ctx.ports.registry,
        ctx.ports.endpoint,
        project,
        version,
        evaluation.comparison,
        greater_is_better=bool(document["greater_is_better"]),
        warnings=evaluation.warnings,
    )
    return end_gated_run(
        runs,
        run,
        project,
        evaluation,
        version,
        decision,
        deploy=lambda number: deploy_version(ctx.ports, project.name, number),
    )


def project_of_group(ports: Ports, group: str, name_prefix: str) -> Project | None:
    """The project whose model package group is ``group``
    (``sagemaker_name(name_prefix, project)``); None for another stack's group."""
    found = find_project(ports.table, group.removeprefix(f"{name_prefix}-"))
    if found is not None and sagemaker_name(name_prefix, found.name) == group:
        return found
    return next(
        (p for p in list_projects(ports.table) if sagemaker_name(name_prefix, p.name) == group),
        None,
    )


def approved_by_a_person(ports: Ports, project: Project, version: int) -> Deployment | None:
    """Deploy a version approved outside the gate (SageMaker Studio, the CLI); None when
    there is nothing to do: not Approved, already served, or the gate's own approval (the
    training job's handler deploys those, and a manual-deploy project waits for a person)."""
    model = ports.registry.get_version(project.name, version)
    if model.approval_status is not ApprovalStatus.APPROVED:
        return None
    deployed = ports.endpoint.describe_endpoint(project.name)
    if deployed is not None and deployed.version == version:
        return None
    gate = model.gate or {}
    if gate.get("status") == ApprovalStatus.APPROVED.value and gate.get("reason") == (
        model.status_reason
    ):
        log.info("%s version %d: approved by the gate, not by a person", project.name, version)
        return None
    return deploy_version(ports, project.name, version)


def rejected_by_a_person(ports: Ports, project: Project, version: int) -> Deployment | None:
    """A version Rejected outside conveyor (SageMaker Studio): when it is the one serving,
    the previous approved version serves again (``conveyor.pipeline.lifecycle``); None when
    it does not serve.

    Raises:
        Conflict: it serves and no earlier approved version can replace it.
    """
    deployed = ports.endpoint.describe_endpoint(project.name)
    if deployed is None or deployed.version != version:
        return None
    model = ports.registry.get_version(project.name, version)
    return reject_version(ports, project.name, version, model.status_reason).deployment
