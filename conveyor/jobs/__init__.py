"""The JobRunner port: training jobs under SageMaker's script-mode contract.

Locally a subprocess runs the entrypoint in a temporary ``/opt/ml``-like root; on AWS
``CreateTrainingJob`` runs the same entrypoint in a container. Verbs mirror SageMaker.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Protocol, runtime_checkable

from conveyor.types import JobStatus, ObjectRef

DEFAULT_ENTRYPOINT = "conveyor.jobs.entrypoint"


@dataclass(frozen=True)
class TrainingJobSpec:
    """What to run: SageMaker's CreateTrainingJob request, reduced to what conveyor uses.

    ``channels`` maps a channel name to an object-key prefix: every object under it lands
    in ``input/data/<channel>/`` under its base name. ``output`` is where ``model.tar.gz``
    is written. Hyperparameter values are strings, as SageMaker passes them.
    """

    job_name: str
    channels: dict[str, ObjectRef]
    output: ObjectRef
    hyperparameters: dict[str, str] = field(default_factory=dict)
    entrypoint: str = DEFAULT_ENTRYPOINT
    max_runtime_seconds: int = 24 * 3600


@dataclass(frozen=True)
class TrainingJob:
    job_name: str
    status: JobStatus
    failure_reason: str | None = None
    model_artifact: ObjectRef | None = None
    started_at: datetime | None = None
    finished_at: datetime | None = None


@runtime_checkable
class JobRunner(Protocol):
    scheme: str

    def start_training_job(self, spec: TrainingJobSpec) -> TrainingJob:
        """Start a job and return at once (status ``InProgress``).

        Raises:
            AlreadyExists: a job with this name exists (job names are unique, as on SageMaker).
            NotFound: a channel prefix holds no object.
            BackendUnavailable: the job could not be started.
        """
        ...

    def describe_training_job(self, job_name: str) -> TrainingJob:
        """The job's current state; once terminal, ``model_artifact`` (Completed) or
        ``failure_reason`` (Failed/Stopped) is set.

        Raises:
            NotFound: no such job.
        """
        ...

    def get_logs(self, job_name: str) -> str:
        """The job's stdout and stderr so far.

        Raises:
            NotFound: no such job.
        """
        ...

    def stop_training_job(self, job_name: str) -> None:
        """Ask a running job to stop; it ends ``Stopped``. Stopping a finished job does nothing.

        Raises:
            NotFound: no such job.
        """
        ...


@runtime_checkable
class Warmable(Protocol):
    """A runner that can get its next job's process ready ahead of time."""

    def warm(self) -> None:
        """Prepare for a job expected soon; cheap to call again while one is ready."""
        ...

    def cool(self) -> None:
        """Let go of what ``warm`` prepared and no job used."""
        ...


@runtime_checkable
class Forgettable(Protocol):
    """A runner that keeps each job's files where it ran them (the local subprocess
    runner's folders) and can delete them. SageMaker keeps a training job's record for as
    long as the account lasts and offers no delete, so its runner is not one."""

    def forget_training_job(self, job_name: str) -> bool:
        """Delete what the runner keeps of an ended job; False when it keeps nothing.

        Raises:
            Conflict: the job is still running.
        """
        ...


def forget(jobs: object, job_name: str) -> bool:
    """Let ``jobs`` delete what it keeps of ``job_name``, if it is a runner that can."""
    return isinstance(jobs, Forgettable) and jobs.forget_training_job(job_name)


def warm(jobs: object) -> None:
    """Let ``jobs`` prepare its next job's process, if it is a runner that can."""
    if isinstance(jobs, Warmable):
        jobs.warm()


def cool(jobs: object) -> None:
    if isinstance(jobs, Warmable):
        jobs.cool()
