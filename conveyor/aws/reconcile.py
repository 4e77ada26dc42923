"""The reconciler: runs whose SageMaker job ended without its state change being handled.

EventBridge delivers a job's state change to ``on_training_job_state_change``; a rule that
did not match, a handler that failed past Lambda's retries (the event then waits in the
dead-letter queue) or an event never sent would leave the run PREPROCESSING, TRAINING or
EVALUATING for ever. On a schedule, ``sweep`` describes the job of every active run
(DescribeTrainingJob); a job that ended more than ``GRACE_SECONDS`` ago (its event had time
to arrive) becomes the ``TrainingJobChange`` its event would have carried, and the handler's
own code path (``handlers.training_job_ended``) finishes the run: no second implementation.

``keep_endpoints_scaled`` applies endpoint autoscaling (when on) to every deployed endpoint:
Application Auto Scaling registers only an endpoint InService, which a new one is not yet at
deploy time.

``age_metrics`` is what the alarm watches: the age of the oldest run still active, emitted as
EMF like every other conveyor metric. Past ``STUCK_AFTER_SECONDS`` (the pipeline job's
``MaxRuntimeInSeconds``, after which SageMaker stops it, plus an hour for the reconciler),
a run is stuck for a reason the reconciler cannot mend: someone must look.

The local worker needs none of this: it polls its own jobs
(``conveyor.pipeline.handlers.poll_training_jobs``) and resumes interrupted runs on start.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from conveyor.aws.events import TrainingJobChange
from conveyor.aws.upload import DEFAULT_MAX_RUNTIME_SECONDS
from conveyor.endpoint.sagemaker import SageMakerEndpoint
from conveyor.errors import ConveyorError, NotFound
from conveyor.metrics.cloudwatch import emf_document
from conveyor.pipeline.runs import RunStore
from conveyor.ports import PipelineContext, Ports
from conveyor.types import Run, utcnow

log = logging.getLogger("conveyor.pipeline")

# EventBridge delivers within seconds; a job that ended this recently is left to its event.
GRACE_SECONDS = 300
STUCK_AFTER_SECONDS = DEFAULT_MAX_RUNTIME_SECONDS + 3600
OLDEST_ACTIVE_RUN_AGE = "OldestActiveRunAge"
ACTIVE_RUNS = "ActiveRuns"


@dataclass(frozen=True)
class Sweep:
    """What one pass found among the active runs."""

    ended: list[TrainingJobChange] = field(default_factory=list)  # to finish now
    waiting: list[str] = field(default_factory=list)  # run ids: job running, or just ended
    missing: list[str] = field(default_factory=list)  # run ids: SageMaker has no such job


def sweep(
    ctx: PipelineContext, *, now: datetime | None = None, grace_seconds: float = GRACE_SECONDS
) -> Sweep:
    """Each active run's job, described: those that ended (Completed, Failed, Stopped) more
    than ``grace_seconds`` ago, as the change their event would have carried."""
    now = now or utcnow()
    found = Sweep()
    for run in RunStore(ctx.ports.table).active():
        if not run.job_name:
            found.waiting.append(run.run_id)  # its job was never started: the age alarm's
            continue
        try:
            job = ctx.ports.jobs.describe_training_job(run.job_name)
        except NotFound:
            log.warning("run %s: SageMaker has no training job %s", run.run_id, run.job_name)
            found.missing.append(run.run_id)
            continue
        except ConveyorError as exc:  # one job's trouble (its model not in S3 yet) waits
            log.warning("run %s: job %s not read: %s", run.run_id, run.job_name, exc.message)
            found.waiting.append(run.run_id)
            continue
        ended_at = job.finished_at
        recent = ended_at is not None and (now - ended_at).total_seconds() < grace_seconds
        if not job.status.is_terminal or recent:
            found.waiting.append(run.run_id)
            continue
        found.ended.append(
            TrainingJobChange(
                job_name=job.job_name,
                status=job.status.value,
                failure_reason=job.failure_reason,
                hyperparameters={"run_id": run.run_id},
            )
        )
    return found


def oldest_active_age(runs: list[Run], now: datetime | None = None) -> float:
    """Seconds since the oldest of ``runs`` was created; 0 for none."""
    now = now or utcnow()
    return max(((now - run.created_at).total_seconds() for run in runs), default=0.0)


def age_metrics(
    ctx: PipelineContext, namespace: str, *, now: datetime | None = None
) -> dict[str, Any]:
    """The EMF document of the runs still active: ``OldestActiveRunAge`` (seconds) and
    ``ActiveRuns``, with no dimension (one alarm for the stack). Emitted on every pass, 0
    when nothing is active, so the alarm always has a datapoint."""
    active = RunStore(ctx.ports.table).active()
    age = oldest_active_age(active, now)
    stuck = [r.run_id for r in active if oldest_active_age([r], now) > STUCK_AFTER_SECONDS]
    return emf_document(
        namespace,
        {},
        {OLDEST_ACTIVE_RUN_AGE: (age, "Seconds"), ACTIVE_RUNS: (float(len(active)), "Count")},
        properties={"stuck_runs": stuck},
    )


def keep_endpoints_scaled(ports: Ports) -> list[str]:
    """Apply autoscaling to each deployed project's endpoint; the projects it now applies
    to (none when autoscaling is off). A refusal is logged and tried again next pass."""
    endpoint = ports.endpoint
    if not isinstance(endpoint, SageMakerEndpoint):
        return []
    scaled = []
    for deployment in endpoint.list_endpoints():
        try:
            if endpoint.apply_autoscaling(deployment.project):
                scaled.append(deployment.project)
        except ConveyorError as exc:
            log.warning("autoscaling of %s not applied: %s", deployment.project, exc.message)
    return scaled
