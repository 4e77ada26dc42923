"""The train stage: turn a preprocessed dataset into a training job request and start it."""

from __future__ import annotations

import json

from conveyor.jobs import JobRunner, TrainingJob, TrainingJobSpec
from conveyor.storage import MODELS, PROCESSED
from conveyor.types import ObjectRef, Preset, Project, Run


def job_name_for(run: Run) -> str:
    # SageMaker job names: letters, digits and hyphens, at most 63 characters.
    return f"{run.project}-{run.run_id.removeprefix('r-')}"[:63].strip("-")


def artifact_ref(run: Run) -> ObjectRef:
    return ObjectRef(MODELS, f"{run.project}/{run.run_id}/model.tar.gz")


# Up to this many rows in all three splits, the model that serves is fitted on all of them
# once the test split has scored the model fitted on the train split: a small file cannot
# spare its test rows (scikit-learn's HistGradientBoosting on 85% of the corpus's files of
# 200-3,000 rows is 4-10% worse in RMSE than on all of them). The job gets the test split as a
# channel only then, so the spec says which runs do it.
FULL_FIT_MAX_ROWS = 200_000


def full_fit(rows: int) -> bool:
    """Whether a run of ``rows`` rows (train + validation + test) serves a model fitted on all
    of them."""
    return rows <= FULL_FIT_MAX_ROWS


def training_job_spec(run: Run, project: Project, *, seed: int, rows: int) -> TrainingJobSpec:
    """The run's training job: its splits as channels (``test`` too when ``full_fit(rows)``)."""
    prefix = f"{run.project}/{run.dataset_id}"
    splits = ("train", "validation", "test") if full_fit(rows) else ("train", "validation")
    return TrainingJobSpec(
        job_name=job_name_for(run),
        channels={
            **{name: ObjectRef(PROCESSED, f"{prefix}/{name}.parquet") for name in splits},
            "schema": ObjectRef(PROCESSED, f"{prefix}/schema.json"),
        },
        output=artifact_ref(run),
        hyperparameters={
            "algorithm": project.algorithm.value,
            "seed": str(seed),
            "model_hyperparameters": json.dumps(project.hyperparameters),
            **_search_hyperparameters(project),
        },
    )


def _search_hyperparameters(project: Project) -> dict[str, str]:
    """What the job's search needs (conveyor.model.search); for ``fast``, whose job is the
    same as before there was a search, only the project's metric when it names one: a binary
    model's decision threshold is chosen for it (conveyor.model.threshold)."""
    if project.preset is Preset.FAST:
        return {"metric": project.metric} if project.metric else {}
    search = {"preset": project.preset.value, "metric": project.metric or ""}
    if project.time_budget is not None:
        search["time_budget"] = f"{project.time_budget:g}"
    return search


def start_training(
    jobs: JobRunner, run: Run, project: Project, *, seed: int, rows: int
) -> TrainingJob:
    """Start the run's training job on its ``rows`` preprocessed rows; returns the job
    (``InProgress``)."""
    return jobs.start_training_job(training_job_spec(run, project, seed=seed, rows=rows))


def split_rows(report: dict[str, int]) -> int:
    """The rows of a run's three splits, from its preprocess report."""
    return report["rows_train"] + report["rows_validation"] + report["rows_test"]
