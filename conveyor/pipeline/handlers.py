"""Event handlers: what happens when an object lands and when a training job ends.

The local worker calls these from its queue; on AWS, Lambda handlers call the same
functions. Each is idempotent, because delivery is at-least-once.
"""

from __future__ import annotations

import hashlib
import logging
import traceback
from collections.abc import Callable
from typing import Any

from conveyor.errors import AlreadyExists, Conflict, ConveyorError, NotFound
from conveyor.events import Event, EventType
from conveyor.jobs import TrainingJob, warm
from conveyor.logs import bind as bind_log_context
from conveyor.pipeline.lifecycle import deploy_version
from conveyor.pipeline.promotion import end_gated_run, gate_version
from conveyor.pipeline.raw_objects import remember_upload, upload_of_etag
from conveyor.pipeline.runs import RunStore
from conveyor.pipeline.train import artifact_ref, split_rows, start_training
from conveyor.ports import PipelineContext
from conveyor.projects import changed_settings, find_project, run_settings
from conveyor.storage import RAW, REPORTS
from conveyor.types import JobStatus, ObjectRef, Project, Run, RunState

log = logging.getLogger("conveyor.pipeline")

# The stages (polars, numpy, the model code) are imported where they run: a Lambda function,
# which has none of them, calls these handlers with its own stages in their place.
Stage = Callable[["PipelineContext", Run, Project], Run]


def parse_raw_key(key: str) -> tuple[str, str] | None:
    """``<project>/<file>`` → (project, file); anything else is not an upload."""
    parts = key.split("/")
    if len(parts) != 2 or not all(parts) or parts[1].startswith("."):
        return None
    return parts[0], parts[1]


def on_object_created(
    ctx: PipelineContext, detail: dict[str, Any], *, start: Stage | None = None
) -> Run | None:
    """Start (or resume) the run for a raw object; returns it, or None if there is none.

    ``start`` takes the new run from QUEUED on (default: preprocess here, start training).
    """
    ref = ObjectRef(detail["bucket"], detail["key"])
    parsed = parse_raw_key(ref.key) if ref.bucket == RAW else None
    if parsed is None:
        log.warning("ignoring %s: uploads go to raw/<project>/<file>", ref.uri)
        return None
    project_name, _ = parsed
    etag = detail.get("etag")
    known = upload_of_etag(ctx.ports.table, project_name, ref.key, etag)
    dataset_id = detail.get("dataset_id") or known.get("dataset_id")
    # The sheet travels in the uploader's event and in the record it left: an event that
    # lacks it (the folder watch's, an S3 notification) finds it there.
    sheet: str | None = detail.get("sheet") or known.get("sheet")
    written: str | None = detail.get("written")
    failed = _failed_run_of_write(ctx, known, written, force=bool(detail.get("force")))
    if failed is not None:
        log.info(
            "%s: this upload already made run %s, which failed; not retrying it (upload the "
            "file again to retry)",
            ref.uri,
            failed.run_id,
        )
        return failed
    if not dataset_id:
        from conveyor.hashing import sha256_file

        try:
            with ctx.workdir(f"hash-{hashlib.sha1(ref.key.encode()).hexdigest()}") as tmp:
                local = tmp / "raw"
                etag = ctx.ports.store.download(ref.bucket, ref.key, local).etag
                dataset_id = sha256_file(local)
        except NotFound:
            log.warning("ignoring %s: the object is gone", ref.uri)
            return None
    runs = RunStore(ctx.ports.table)
    run, created = runs.create(project_name, ref, dataset_id, force=bool(detail.get("force")))
    if etag:
        made = {"run_id": run.run_id, "written": written} if written else known
        remember_upload(
            ctx.ports.table,
            project_name,
            ref.key,
            etag,
            dataset_id,
            sheet=sheet,
            run_id=made.get("run_id"),
            written=made.get("written"),
        )
    bind_log_context(run_id=run.run_id, project=run.project)
    if not created and not (detail.get("resume") and run.state in _RESUMABLE):
        log.info(
            "%s: same bytes as run %s (%s); not training again", ref.uri, run.run_id, run.state
        )
        return run
    project = find_project(ctx.ports.table, project_name)
    if created:
        options = {"sheet": sheet} if sheet is not None else {}
        run = runs.update_report(
            run,
            trigger=_trigger_of(ctx, detail, project_name, dataset_id),
            **options,
            **_settings_report(runs, run, project),
        )
    if project is None:
        return runs.fail(
            run,
            f"no project {project_name!r}: create it with `conveyor project create "
            f"{project_name} --target COLUMN` (or upload with --target), then upload again",
        )
    stage = start or _preprocess_and_train
    # A training job follows: its process starts warming while the upload is preprocessed.
    warm(ctx.ports.jobs)
    return _guarded(ctx, run, lambda r: stage(ctx, r, project))


_RESUMABLE = (RunState.QUEUED, RunState.PREPROCESSING)


def _failed_run_of_write(
    ctx: PipelineContext, known: dict[str, Any], written: str | None, *, force: bool
) -> Run | None:
    """The FAILED run that this very write of the object already made, if it did.

    One upload is announced more than once (``conveyor upload``'s event and the raw/ watch's;
    an S3 notification delivered twice). A failed run lets the same bytes be uploaded again to
    retry, so without this the second announcement of one failed upload would retry it. A new
    write of the bytes (an upload again, a copy into raw/) has another ``written`` and does
    retry; so does a forced event (``--force``, a retrain).
    """
    if force or not written or known.get("written") != written or not known.get("run_id"):
        return None
    try:
        run = RunStore(ctx.ports.table).get(known["run_id"])
    except NotFound:
        return None
    return run if run.state is RunState.FAILED else None


def _dataset_of_etag(
    ctx: PipelineContext, project: str, ref: ObjectRef, etag: str | None
) -> str | None:
    """The dataset id of bytes already seen under this key and etag: a second event for
    one upload (the CLI's and the folder watch's, or a redelivery) does not hash a large
    file again, in the middle of its training."""
    dataset_id: str | None = upload_of_etag(ctx.ports.table, project, ref.key, etag).get(
        "dataset_id"
    )
    return dataset_id


def _settings_report(runs: RunStore, run: Run, project: Project | None) -> dict[str, Any]:
    """The project settings the run trains, gates and deploys with, and those that changed
    since the project's previous run (``conveyor project update``)."""
    if project is None:
        return {}
    settings = run_settings(project)
    previous = next(
        (
            r
            for r in runs.list_runs(project.name)
            if r.run_id < run.run_id and "settings" in r.report
        ),
        None,
    )
    changed = changed_settings(previous.report["settings"], settings) if previous else {}
    if not changed:
        return {"settings": settings}
    assert previous is not None
    return {
        "settings": settings,
        "settings_changed": {"since_run": previous.run_id, "changes": changed},
    }


def _trigger_of(
    ctx: PipelineContext, detail: dict[str, Any], project: str, dataset_id: str
) -> dict[str, Any]:
    """What started a run: a retrain (an alarm, a person, a schedule) or an upload."""
    from conveyor.pipeline.retrain import stored_trigger

    stored = stored_trigger(ctx.ports.table, project, dataset_id)
    trigger: dict[str, Any] = detail.get("trigger") or stored or {}
    return trigger or {"type": "upload", "source": detail.get("source", "event")}


def preprocess_stage(
    ctx: PipelineContext, run: Run, project: Project
) -> tuple[Run, dict[str, Any]]:
    """The run PREPROCESSING, its upload made into the training splits; with the run's report
    and what preprocessing found, for the run's next step to record."""
    from conveyor.pipeline.preprocess import preprocess

    run = RunStore(ctx.ports.table).advance(run, RunState.PREPROCESSING)
    with ctx.workdir(f"{run.run_id}-preprocess") as workdir:
        result = preprocess(
            ctx.ports.store,
            run.raw,
            project,
            dataset_id=run.dataset_id,
            workdir=workdir,
            seed=ctx.seed,
            max_training_rows=ctx.max_training_rows,
            sheet=run.report.get("sheet"),
        )
    return run, {**run.report, **result.report, "task": result.task.value}


def _preprocess_and_train(ctx: PipelineContext, run: Run, project: Project) -> Run:
    run, report = preprocess_stage(ctx, run, project)
    try:
        job = start_training(ctx.ports.jobs, run, project, seed=ctx.seed, rows=split_rows(report))
    except AlreadyExists:
        # A previous attempt started it before a crash; the job carries on regardless.
        from conveyor.pipeline.train import job_name_for

        job = ctx.ports.jobs.describe_training_job(job_name_for(run))
    return RunStore(ctx.ports.table).advance(
        run, RunState.TRAINING, job_name=job.job_name, report=report
    )


def on_training_job_state_change(
    ctx: PipelineContext, detail: dict[str, Any], *, finish: Stage | None = None
) -> Run | None:
    """Evaluate and register a finished job's model, or fail its run with the job's reason.

    ``finish`` takes a Completed job's run on (default: evaluate here, register, gate, deploy).
    """
    runs = RunStore(ctx.ports.table)
    run = runs.get(detail["run_id"])
    bind_log_context(run_id=run.run_id, project=run.project)
    if run.state not in (RunState.TRAINING, RunState.EVALUATING):
        return run  # already handled: a duplicate event
    try:
        job = ctx.ports.jobs.describe_training_job(detail["job_name"])
    except NotFound:
        return runs.fail(run, f"training job {detail['job_name']} was lost; upload again to retry")
    if not job.status.is_terminal:
        return run
    _keep_job_logs(ctx, run, job)
    if job.status is not JobStatus.COMPLETED:
        return runs.fail(
            run, f"training job {job.job_name} {job.status.value.lower()}: {job.failure_reason}"
        )
    project = find_project(ctx.ports.table, run.project)
    if project is None:
        return runs.fail(run, f"project {run.project!r} was deleted during the run")
    stage = finish or _evaluate_and_register
    return _guarded(ctx, run, lambda r: stage(ctx, r, project))


def _evaluate_and_register(ctx: PipelineContext, run: Run, project: Project) -> Run:
    from conveyor.model.metrics import greater_is_better
    from conveyor.pipeline import evaluate as evaluate_stage

    run = RunStore(ctx.ports.table).advance(run, RunState.EVALUATING)
    evaluation = evaluate_stage.evaluate_run(ctx, run, project)
    version = evaluate_stage.register(
        ctx.ports.registry, run, project, artifact_ref(run), evaluation
    )
    version, decision = gate_version(
        ctx.ports.registry,
        ctx.ports.endpoint,
        project,
        version,
        evaluation.comparison,
        greater_is_better=greater_is_better(version.primary_metric),
        warnings=evaluation.warnings,
    )
    return end_gated_run(
        RunStore(ctx.ports.table),
        run,
        project,
        evaluation,
        version,
        decision,
        deploy=lambda number: deploy_version(
            ctx.ports, project.name, number, cache_dir=ctx.cache_dir
        ),
    )


def _keep_job_logs(ctx: PipelineContext, run: Run, job: TrainingJob) -> None:
    try:
        logs = ctx.ports.jobs.get_logs(job.job_name)
    except NotFound:
        return
    ctx.ports.store.put(REPORTS, training_log_key(run), logs.encode())


def training_log_key(run: Run) -> str:
    return f"{run.project}/{run.run_id}/training.log"


def _guarded(ctx: PipelineContext, run: Run, stage: Callable[[Run], Run]) -> Run:
    """The run boundary: whatever a stage raises ends the run FAILED with a reason."""
    try:
        return stage(run)
    except Conflict:
        raise  # another worker moved the run; its outcome stands
    except ConveyorError as exc:
        reason = exc.message
    except Exception as exc:  # the run boundary: a bug must not leave the run running forever
        log.error("run %s: unexpected error\n%s", run.run_id, traceback.format_exc())
        reason = f"internal error ({type(exc).__name__}: {exc}); see the worker log"
    latest = RunStore(ctx.ports.table).get(run.run_id)
    if latest.state.is_terminal:
        return latest
    return RunStore(ctx.ports.table).fail(latest, reason)


def poll_training_jobs(ctx: PipelineContext, announced: set[str]) -> tuple[int, int]:
    """Publish a state-change event for each training job that ended (once per job);
    returns how many ended now and how many are still running."""
    count = running = 0
    for run in RunStore(ctx.ports.table).active():
        if run.state is not RunState.TRAINING or not run.job_name:
            continue
        if run.job_name in announced:
            continue
        try:
            status = ctx.ports.jobs.describe_training_job(run.job_name).status
        except NotFound:
            status = JobStatus.FAILED
        if not status.is_terminal:
            running += 1
        else:
            ctx.ports.events.publish(
                Event(
                    EventType.TRAINING_JOB_STATE_CHANGE,
                    {"run_id": run.run_id, "job_name": run.job_name, "status": status.value},
                )
            )
            announced.add(run.job_name)
            count += 1
    return count, running


def resume_interrupted(ctx: PipelineContext) -> list[str]:
    """Pick up runs a crashed worker left mid-stage; call only when no other worker is alive."""
    resumed = []
    for run in RunStore(ctx.ports.table).active():
        if run.state in _RESUMABLE:
            event = Event(
                EventType.OBJECT_CREATED,
                {**run.raw.to_dict(), "resume": True, "dataset_id": run.dataset_id},
            )
        elif run.state is RunState.EVALUATING:
            event = Event(
                EventType.TRAINING_JOB_STATE_CHANGE,
                {"run_id": run.run_id, "job_name": run.job_name, "status": "Completed"},
            )
        else:
            continue  # TRAINING: the job outlives the worker; polling picks it up
        ctx.ports.events.publish(event)
        resumed.append(run.run_id)
    return resumed


HANDLERS: dict[EventType, Callable[[PipelineContext, dict[str, Any]], Run | None]] = {
    EventType.OBJECT_CREATED: on_object_created,
    EventType.TRAINING_JOB_STATE_CHANGE: on_training_job_state_change,
}
