"""The train stage: turn a preprocessed dataset into a training job request and start it."""

from __future__ import annotations

import json

from conveyor.jobs import JobRunner, TrainingJob, TrainingJobSpec
from conveyor.storage import MODELS, PROCESSED
from conveyor.types import ObjectRef, Project, Run


def job_name_for(run: Run) -> str:
    # SageMaker job names: letters, digits and hyphens, at most 63 characters.
    return f"{run.project}-{run.run_id.removeprefix('r-')}"[:63].strip("-")


def artifact_ref(run: Run) -> ObjectRef:
    return ObjectRef(MODELS, f"{run.project}/{run.run_id}/model.tar.gz")


def training_job_spec(run: Run, project: Project, *, seed: int) -> TrainingJobSpec:
    prefix = f"{run.project}/{run.dataset_id}"
    return TrainingJobSpec(
        job_name=job_name_for(run),
        channels={
            "train": ObjectRef(PROCESSED, f"{prefix}/train.parquet"),
            "validation": ObjectRef(PROCESSED, f"{prefix}/validation.parquet"),
            "schema": ObjectRef(PROCESSED, f"{prefix}/schema.json"),
        },
        output=artifact_ref(run),
        hyperparameters={
            "algorithm": project.algorithm.value,
            "seed": str(seed),
            "model_hyperparameters": json.dumps(project.hyperparameters),
        },
    )


def start_training(jobs: JobRunner, run: Run, project: Project, *, seed: int) -> TrainingJob:
    """Start the run's training job; returns the job (``InProgress``)."""
    return jobs.start_training_job(training_job_spec(run, project, seed=seed))
