"""An upload on AWS: the run is made by the local worker's handler, then its heavy stages
go to the pipeline job (``conveyor.aws.pipeline_job``) through the JobRunner port."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any

from conveyor.aws.events import S3Object
from conveyor.aws.pipeline_job import pipeline_job_spec
from conveyor.errors import AlreadyExists, NotFound
from conveyor.pipeline.handlers import (
    _dataset_of_etag,
    on_object_created,
    parse_raw_key,
)
from conveyor.pipeline.runs import RunStore
from conveyor.ports import PipelineContext
from conveyor.storage import RAW
from conveyor.storage.stream import object_sha256
from conveyor.types import ObjectRef, Project, Run, RunState

log = logging.getLogger("conveyor.pipeline")

DEFAULT_MAX_RUNTIME_SECONDS = 24 * 3600


@dataclass(frozen=True)
class JobStarter:
    """The ``start`` stage of ``on_object_created`` on AWS: QUEUED → PREPROCESSING with the
    pipeline job's name, then the job (a job that exists already is left to run)."""

    object_store_uri: str
    table_uri: str
    name_prefix: str
    max_runtime_seconds: int = DEFAULT_MAX_RUNTIME_SECONDS

    def __call__(self, ctx: PipelineContext, run: Run, project: Project) -> Run:
        spec = pipeline_job_spec(
            run,
            object_store_uri=self.object_store_uri,
            table_uri=self.table_uri,
            name_prefix=self.name_prefix,
            seed=ctx.seed,
            max_training_rows=ctx.max_training_rows,
            max_runtime_seconds=self.max_runtime_seconds,
        )
        if run.state is RunState.QUEUED or run.job_name != spec.job_name:
            run = RunStore(ctx.ports.table).advance(
                run, RunState.PREPROCESSING, job_name=spec.job_name
            )
        try:
            ctx.ports.jobs.start_training_job(spec)
        except AlreadyExists:
            log.info("run %s: pipeline job %s already started", run.run_id, spec.job_name)
        return run


def logical_bucket(ctx: PipelineContext, real_bucket: str) -> str | None:
    """conveyor's name (``raw``, …) of a real S3 bucket, or None when it is not conveyor's."""
    buckets: dict[str, str] = getattr(ctx.ports.store, "buckets", {})
    return next((name for name, real in buckets.items() if real == real_bucket), None)


def start_run(ctx: PipelineContext, created: S3Object, starter: JobStarter) -> Run | None:
    """The run of an S3 ObjectCreated record (made or found: S3 delivers at least once)."""
    bucket = logical_bucket(ctx, created.bucket)
    if bucket is None:
        log.warning(
            "ignoring s3://%s/%s: not one of conveyor's buckets", created.bucket, created.key
        )
        return None
    detail: dict[str, Any] = {
        "bucket": bucket,
        "key": created.key,
        "etag": created.etag,
        "source": "s3",
    }
    if created.sequencer:
        detail["written"] = created.sequencer  # one write of the object, however delivered
    parsed = parse_raw_key(created.key) if bucket == RAW else None
    if parsed is not None:
        ref = ObjectRef(bucket, created.key)
        # Streamed here, so that the handler never downloads the file to hash it.
        dataset_id = _dataset_of_etag(ctx, parsed[0], ref, created.etag)
        if dataset_id is None:
            try:
                dataset_id, _ = object_sha256(ctx.ports.store, ref)
            except NotFound:
                log.warning("ignoring %s: the object is gone", ref.uri)
                return None
        # A second delivery finds the run; ``resume`` lets it start the job the first one
        # may not have reached (a job that exists already is not started twice).
        detail.update(dataset_id=dataset_id, resume=True)
    return on_object_created(ctx, detail, start=starter)
