"""The pipeline job: a run's heavy stages in one SageMaker training job.

``python -m conveyor.aws.pipeline_job`` is the entrypoint ``on_upload`` asks for (through the
JobRunner port; ``train.py`` of the sourcedir runs it). In the container it runs what the
local worker runs between an upload and registration: ``preprocess`` → the training
entrypoint (as a script-mode job of its own: ``SubprocessJobRunner`` under a scratch root,
which packs and uploads ``model.tar.gz`` to ``models/<project>/<run_id>/``) →
``evaluate_run``, then writes ``reports/<project>/<run_id>/evaluation.json``, all that
registration and the gate need, for the Lambda handler of the job's state change. It moves
the run PREPROCESSING → TRAINING → EVALUATING as it goes.

When a stage fails, the run FAILS with the reason the local pipeline gives, and the reason
goes to ``output/failure`` (SageMaker's FailureReason) too.

The store and table come from ``CONVEYOR_OBJECT_STORE_URI`` / ``CONVEYOR_TABLE_URI`` in the
environment, else from the hyperparameters of the same names (the job request carries them,
so the job needs no environment of its own). Only this module's ``main`` imports the heavy
stack; ``pipeline_job_spec`` is for the thin Lambda side.
"""

from __future__ import annotations

import json
import logging
import os
import sys
import time
from pathlib import Path
from typing import TYPE_CHECKING

from conveyor.aws.job_env import job_ports, settings_hyperparameters
from conveyor.aws.sagemaker_common import sagemaker_name
from conveyor.config import MAX_TRAINING_ROWS
from conveyor.jobs import TrainingJobSpec
from conveyor.jobs.contract import (
    ScriptModePaths,
    exception_reason,
    fail_job,
    paths_from_environment,
    read_hyperparameters,
)
from conveyor.pipeline.runs import RunStore
from conveyor.pipeline.train import job_name_for
from conveyor.storage import MODELS, REPORTS
from conveyor.types import ObjectRef, Project, Run, RunState

if TYPE_CHECKING:
    from conveyor.ports import PipelineContext

ENTRYPOINT = "conveyor.aws.pipeline_job"
EVALUATION_FILE = "evaluation.json"
_POLL_SECONDS = 0.5
log = logging.getLogger("conveyor.pipeline")


def evaluation_key(project: str, run_id: str) -> str:
    return f"{project}/{run_id}/{EVALUATION_FILE}"


def job_output(run: Run) -> ObjectRef:
    """Where SageMaker's own model.tar.gz of the job (its ``/opt/ml/model``) is placed:
    beside the run's model, never over it (the run's model is the one evaluated)."""
    return ObjectRef(MODELS, f"{run.project}/{run.run_id}/pipeline-job/model.tar.gz")


def pipeline_job_spec(
    run: Run,
    *,
    object_store_uri: str,
    table_uri: str,
    name_prefix: str,
    seed: int,
    max_runtime_seconds: int,
    max_training_rows: int = MAX_TRAINING_ROWS,
) -> TrainingJobSpec:
    """The job request of a run: the raw upload as its channel, conveyor's URIs as
    hyperparameters (strings, as SageMaker takes them); the job's name starts with
    ``name_prefix``, as the template's policies and rule expect."""
    return TrainingJobSpec(
        job_name=sagemaker_name(name_prefix, job_name_for(run)),
        channels={"raw": run.raw},
        output=job_output(run),
        hyperparameters={
            "run_id": run.run_id,
            "project": run.project,
            "seed": str(seed),
            "max_training_rows": str(max_training_rows),
            **settings_hyperparameters(object_store_uri, table_uri),
        },
        entrypoint=ENTRYPOINT,
        max_runtime_seconds=max_runtime_seconds,
    )


def main(argv: list[str] | None = None) -> int:
    """Run the job under the script-mode root of ``SM_MODEL_DIR`` (else ``/opt/ml``);
    0 when the run reached EVALUATING (or was already past this job), 1 when it failed."""
    del argv  # SageMaker passes hyperparameters as arguments too; the file is read instead
    paths = paths_from_environment()
    hyperparameters = read_hyperparameters(paths)
    try:
        reason = _run(paths, hyperparameters)
    except Exception as exc:  # the job boundary: the reason goes to SageMaker's FailureReason
        log.exception("pipeline job failed")
        reason = exception_reason(exc)
    return 0 if reason is None else fail_job(paths, reason)


def _run(paths: ScriptModePaths, hyperparameters: dict[str, str]) -> str | None:
    """The run's stages; the failure reason, or None when the run is EVALUATING."""
    from conveyor.logs import log_context
    from conveyor.pipeline.handlers import _guarded
    from conveyor.ports import PipelineContext
    from conveyor.projects import find_project

    run_id, project_name = hyperparameters.get("run_id"), hyperparameters.get("project")
    if not run_id or not project_name:
        return "the pipeline job needs the hyperparameters run_id and project"
    # The nested training job is a subprocess: it finds conveyor where this process did.
    source = str(Path(__file__).resolve().parents[2])
    os.environ["PYTHONPATH"] = os.pathsep.join(
        p for p in (source, os.environ.get("PYTHONPATH", "")) if p
    )
    ports, settings = job_ports(hyperparameters)
    ctx = PipelineContext(
        ports=ports,
        work_root=settings.work_dir,
        cache_dir=settings.serving_cache_dir,
        seed=int(hyperparameters.get("seed", "42")),
        max_training_rows=int(hyperparameters.get("max_training_rows", MAX_TRAINING_ROWS)),
    )
    with log_context(run_id=run_id, project=project_name):
        run = RunStore(ctx.ports.table).get(run_id)
        if run.state not in (RunState.QUEUED, RunState.PREPROCESSING):
            print(f"run {run_id} is {run.state.value}: nothing for this job to do", flush=True)
            return None
        project = find_project(ports.table, project_name)
        if project is None:
            reason = f"project {project_name!r} was deleted during the run"
            RunStore(ctx.ports.table).fail(run, reason)
            return reason
        run = _guarded(ctx, run, lambda r: _stages(ctx, r, project, paths))
    if run.state is RunState.FAILED:
        return run.failure_reason or "the run failed"
    return None


def _stages(ctx: PipelineContext, run: Run, project: Project, paths: ScriptModePaths) -> Run:
    from conveyor.model.metrics import greater_is_better
    from conveyor.pipeline.evaluate import evaluate_run
    from conveyor.pipeline.handlers import _keep_job_logs, preprocess_stage
    from conveyor.pipeline.train import artifact_ref, split_rows, start_training
    from conveyor.types import JobStatus

    runs = RunStore(ctx.ports.table)
    run, report = preprocess_stage(ctx, run, project)
    run = runs.advance(run, RunState.TRAINING, report=report)

    job = start_training(ctx.ports.jobs, run, project, seed=ctx.seed, rows=split_rows(report))
    while not job.status.is_terminal:
        time.sleep(_POLL_SECONDS)
        job = ctx.ports.jobs.describe_training_job(job.job_name)
    print(ctx.ports.jobs.get_logs(job.job_name), end="", flush=True)  # into the job's log
    _keep_job_logs(ctx, run, job)
    if job.status is not JobStatus.COMPLETED:
        return runs.fail(
            run, f"training job {job.job_name} {job.status.value.lower()}: {job.failure_reason}"
        )

    run = runs.advance(run, RunState.EVALUATING)
    artifact = artifact_ref(run)
    evaluation = evaluate_run(ctx, run, project)
    document = {
        **evaluation.to_dict(),
        "run_id": run.run_id,
        "artifact": artifact.to_dict(),
        "greater_is_better": greater_is_better(evaluation.primary_metric),
    }
    body = json.dumps(document, indent=2).encode()
    ctx.ports.store.put(REPORTS, evaluation_key(run.project, run.run_id), body)
    # Also in the job's own model.tar.gz, so SageMaker's copy says what it stands for.
    paths.model_dir.mkdir(parents=True, exist_ok=True)
    (paths.model_dir / EVALUATION_FILE).write_bytes(body)
    print(
        f"evaluated {artifact.uri}: {evaluation.primary_metric}="
        f"{evaluation.metrics['test'].get(evaluation.primary_metric)}",
        flush=True,
    )
    return run


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
