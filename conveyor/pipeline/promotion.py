"""The gate, without the heavy stack: decide a new version's approval against the deployed
champion, and end a run by the gate's decision (deploying goes through
``conveyor.pipeline.lifecycle``).

The local worker (``conveyor.pipeline.handlers``) and the AWS Lambda functions
(``conveyor.aws.release``) both decide and record through this module. They differ only in
where the metric's direction comes from: the local side reads it from the model code
(numpy); the Lambda side is given it in ``evaluation.json``.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import replace
from typing import Any

from conveyor.endpoint import Endpoint
from conveyor.pipeline.registration import Comparison, Evaluation, fit_summary
from conveyor.pipeline.runs import RunStore
from conveyor.registry import Registry
from conveyor.registry.gate import GateDecision, GatePolicy, decide
from conveyor.types import ApprovalStatus, ModelVersion, Project, Run, RunState


def gate_version(
    registry: Registry,
    endpoint: Endpoint,
    project: Project,
    version: ModelVersion,
    comparison: Comparison | None,
    *,
    greater_is_better: bool,
    warnings: Sequence[str] = (),
) -> tuple[ModelVersion, GateDecision]:
    """Decide and record the version's approval status against the deployed champion, on
    the numbers ``comparison`` measured on the same rows for both (None: an evaluation that
    did not score the champion, so a deployed champion leaves the decision to a person).
    The version keeps the decision, the rows and every split's scores as its ``gate``, with
    the evaluation's ``warnings`` (they inform a person; they do not change the decision)."""
    metric = version.primary_metric
    deployed = endpoint.describe_endpoint(project.name)
    serving = deployed.version if deployed is not None else None
    champion_version = serving if serving != version.version else None
    champion: float | None = None
    unscored = None
    evidence: dict[str, object] = {}
    if comparison is None:
        on = "on the test split"
        candidate = float(version.metrics["test"][metric])
        baseline = float(version.metrics["baseline"][metric])
        unscored = "the evaluation did not score it"
    else:
        same = comparison.decisive
        on = f"on the {same.rows} {same.split} rows"
        candidate, baseline = same.challenger[metric], same.baseline[metric]
        if same.champion is not None:
            champion = same.champion.get(metric)
        if comparison.champion_version != champion_version:
            scored = comparison.champion_version
            champion = None
            unscored = (
                f"the champion changed during the evaluation: "
                f"{'v' + str(scored) if scored else 'none'} was scored"
            )
        elif champion is None:
            unscored = "; ".join(comparison.notes) or "not scored"
        evidence = {
            "split": same.split,
            "rows": same.rows,
            "dataset_id": same.dataset_id,
            "holdout_id": comparison.holdout_id,
            "scores": {name: rows.to_dict() for name, rows in comparison.scores.items()},
            "notes": list(comparison.notes),
        }
    decision = decide(
        metric=metric,
        greater_is_better=greater_is_better,
        candidate=candidate,
        baseline=baseline,
        champion=champion,
        champion_version=champion_version,
        policy=GatePolicy(
            project.metric_floor, project.min_absolute_change, project.min_relative_change
        ),
        on=on,
        unscored=unscored,
    )
    if warnings:
        evidence["warnings"] = list(warnings)
    decision = replace(decision, evidence=evidence)
    if decision.status is ApprovalStatus.APPROVED and project.manual_deploy:
        # The project deploys by hand: the gate's approval is a recommendation to a person.
        decision = replace(
            decision,
            status=ApprovalStatus.PENDING,
            reason=f"{decision.reason}; the project deploys by hand: a person approves it "
            f"(`conveyor models approve {project.name} {version.version}`) and deploys it "
            f"(`conveyor models deploy {project.name} {version.version}`)",
        )
    updated = registry.update_approval_status(
        project.name, version.version, decision.status, decision.reason, gate=decision.to_dict()
    )
    return updated, decision


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
    report: dict[str, Any] = {
        **run.report,
        "metrics": evaluation.metrics,
        "primary_metric": evaluation.primary_metric,
        "fit": fit_summary(evaluation.training),
        # The job's preset, budget and leaderboard (conveyor.model.search), winner marked.
        "search": evaluation.training.get("search"),
        # A classifier's calibration (with its test-split check), decision threshold and
        # class weights (conveyor.model.calibration, .threshold, .imbalance).
        **{
            key: evaluation.training[key]
            for key in ("calibration", "decision_threshold", "imbalance")
            if key in evaluation.training
        },
        "gate": decision.to_dict(),
    }
    if decision.status is ApprovalStatus.REJECTED:
        return runs.advance(run, RunState.REJECTED, model_version=version.version, report=report)
    if decision.status is ApprovalStatus.APPROVED and not project.manual_deploy:
        deploy(version.version)
        return runs.advance(run, RunState.DEPLOYED, model_version=version.version, report=report)
    return runs.advance(run, RunState.REGISTERED, model_version=version.version, report=report)
