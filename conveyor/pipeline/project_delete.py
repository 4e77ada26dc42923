"""Deleting a project: what it serves, its registry, its records, alarms and drift reports,
and its files, through the ports, so the same call empties a folder and SQLite or S3 and
DynamoDB (with SageMaker's model packages and endpoint)."""

from __future__ import annotations

import logging
from dataclasses import asdict, dataclass, field

from conveyor.endpoint import Deployment
from conveyor.errors import Conflict, NotFound
from conveyor.inference.records import partition as inference_partition
from conveyor.jobs import forget
from conveyor.monitoring.drift.store import partition as drift_partition
from conveyor.monitoring.feedback import feedback_partition
from conveyor.pipeline.guardrail import guardrail_partition
from conveyor.pipeline.raw_objects import raw_etag_partition
from conveyor.pipeline.retrain import retrain_guard_key, trigger_key
from conveyor.pipeline.runs import RunStore, dataset_partition
from conveyor.ports import Ports
from conveyor.projects import delete_project_item, get_project
from conveyor.storage import BUCKETS
from conveyor.types import Run

log = logging.getLogger("conveyor.pipeline")


@dataclass(frozen=True)
class DeletedProject:
    """What a project's deletion removed."""

    project: str
    served_version: int | None  # what it served until now (deleted with --force)
    versions: int
    runs: int
    records: dict[str, int] = field(default_factory=dict)  # what -> items deleted
    objects: dict[str, int] = field(default_factory=dict)  # bucket -> objects deleted
    job_folders: int = 0  # the local runner's folders of its training jobs

    def to_dict(self) -> dict[str, object]:
        return asdict(self)


def check_deletable(ports: Ports, name: str, *, force: bool) -> Deployment | None:
    """What the project serves, once it is known that it may be deleted (for a caller that
    asks a person before ``delete_project``).

    Raises:
        NotFound: no such project.
        Conflict: it serves a version, or a run of it is in progress, and ``force`` is off.
    """
    get_project(ports.table, name)  # NotFound names the command that creates one
    deployment = ports.endpoint.describe_endpoint(name)
    if deployment is not None and not force:
        raise Conflict(
            f"project {name!r} serves version {deployment.version}: deleting it stops "
            f"/predict/{name}. Delete it anyway with `conveyor project delete {name} --force` "
            f"(HTTP: DELETE /api/v1/projects/{name}?force=true)",
            field="project",
        )
    running = [run for run in RunStore(ports.table).active() if run.project == name]
    if running and not force:
        raise Conflict(
            f"project {name!r} has a run in progress ({running[0].run_id}, "
            f"{running[0].state.value}): wait for it to end, or delete anyway with `conveyor "
            f"project delete {name} --force` (the run is then dropped)",
            field="project",
        )
    return deployment


def delete_project(ports: Ports, name: str, *, force: bool = False) -> DeletedProject:
    """Delete project ``name`` and everything it owns; refused while it serves a model (or
    has a run in progress) unless ``force``. The project's own entry goes last, so a deletion
    that stopped half way (a backend down) is finished by deleting again.

    Raises:
        NotFound: no such project.
        Conflict: it serves a version or has a run in progress, and ``force`` is off; the
            message says how to go on.
        BackendUnavailable: a backend could not be written; nothing already deleted returns.
    """
    deployment = check_deletable(ports, name, force=force)
    ports.endpoint.delete_endpoint(name)
    versions = ports.registry.delete_model_group(name)
    runs = RunStore(ports.table)
    owned = runs.list_runs(name)
    jobs = sum(_end_job(ports, run) for run in owned if run.job_name)
    for run in owned:
        runs.delete(run.run_id)
    partitions = {
        "inference records": inference_partition(name),
        "feedback": feedback_partition(name),
        "drift reports": drift_partition(name),
        "guardrail": guardrail_partition(name),
        "retrain triggers": trigger_key(name),
        "uploads seen": dataset_partition(name),
        "upload etags": raw_etag_partition(name),
    }
    records = {what: ports.table.delete_partition(pk) for what, pk in partitions.items()}
    records.update(ports.alarms.delete_project_alarms(name))
    ports.table.delete(*retrain_guard_key(name))
    objects = {bucket: ports.store.delete_prefix(bucket, f"{name}/") for bucket in BUCKETS}
    delete_project_item(ports.table, name)
    log.info(
        "deleted project %s: %d version(s), %d run(s), %d record(s), %d file(s)",
        name,
        versions,
        len(owned),
        sum(records.values()),
        sum(objects.values()),
    )
    return DeletedProject(
        name,
        deployment.version if deployment is not None else None,
        versions,
        len(owned),
        {what: count for what, count in records.items() if count},
        {bucket: count for bucket, count in objects.items() if count},
        jobs,
    )


def _end_job(ports: Ports, run: Run) -> bool:
    """Stop the run's training job if it still runs (--force: the run is dropped), then
    delete what the runner keeps of it; whether there was something to delete."""
    assert run.job_name is not None
    if not run.state.is_terminal:
        try:
            ports.jobs.stop_training_job(run.job_name)
        except NotFound:
            return False
    return forget(ports.jobs, run.job_name)
