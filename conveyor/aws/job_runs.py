"""From a SageMaker job's state change to the conveyor run it belongs to."""

from __future__ import annotations

import logging

from conveyor.aws.events import TrainingJobChange
from conveyor.errors import Conflict, NotFound
from conveyor.pipeline.runs import RunStore
from conveyor.ports import PipelineContext
from conveyor.types import Run, RunState

log = logging.getLogger("conveyor.pipeline")


def run_of_job(ctx: PipelineContext, change: TrainingJobChange) -> Run | None:
    """The run a job was started for: its ``run_id`` hyperparameter (the event carries the
    job's hyperparameters), else the active run with the job's name."""
    run_id = change.hyperparameters.get("run_id")
    if run_id:
        try:
            return RunStore(ctx.ports.table).get(run_id)
        except NotFound:
            return None
    return next(
        (r for r in RunStore(ctx.ports.table).active() if r.job_name == change.job_name), None
    )


def fail_if_never_trained(ctx: PipelineContext, run: Run, change: TrainingJobChange) -> Run | None:
    """A job that ended Failed or Stopped before its run reached TRAINING (killed while
    preprocessing, stopped by hand) fails the run with SageMaker's reason; the job itself
    fails its run for the reasons it can see. None when there is nothing to do."""
    if run.state not in (RunState.QUEUED, RunState.PREPROCESSING):
        return None
    if change.status not in ("Failed", "Stopped"):
        return None
    try:
        job = ctx.ports.jobs.describe_training_job(change.job_name)
        reason = job.failure_reason or change.failure_reason
        status = job.status.value.lower()
    except NotFound:
        reason, status = change.failure_reason, change.status.lower()
    try:
        return RunStore(ctx.ports.table).fail(
            run, f"training job {change.job_name} {status}: {reason}"
        )
    except Conflict:
        return RunStore(ctx.ports.table).get(run.run_id)  # moved meanwhile: its own outcome stands
