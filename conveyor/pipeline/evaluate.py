"""The evaluate stage: score the trained artifact on the held-out test split, beside a trivial
baseline, and register it as a new version with its metrics and lineage.

The artifact is loaded exactly as serving loads it (sha256 checked, unpacked, ``Predictor``),
so a version that registers is a version that serves.
"""

from __future__ import annotations

import json
from pathlib import Path

import polars as pl

from conveyor.model.artifact import TRAINING_FILE, Predictor, scored_dir, sha256_file, unpack
from conveyor.model.encode import target_values
from conveyor.model.metrics import baseline_metrics, compute_metrics, default_metric
from conveyor.monitoring.profile import prediction_profile, prediction_profile_key
from conveyor.pipeline.details import details_key, version_details
from conveyor.pipeline.registration import Evaluation, git_commit, register
from conveyor.storage import PROCESSED, REPORTS, ObjectStore
from conveyor.types import ObjectRef, Project, Run

__all__ = ["Evaluation", "evaluate_artifact", "git_commit", "register"]


def evaluate_artifact(
    store: ObjectStore, run: Run, artifact: ObjectRef, project: Project, *, workdir: Path
) -> Evaluation:
    """Metrics of the artifact on the test split, of a trivial baseline, and from training."""
    tarball = workdir / "model.tar.gz"
    store.download(artifact.bucket, artifact.key, tarball)
    digest = sha256_file(tarball)
    model_dir = workdir / "model"
    unpack(tarball, model_dir)
    # A full fit serves a model that learned from the test split too: the test split scores
    # the one fitted on the train split, which the artifact keeps for that.
    predictor = Predictor.load(scored_dir(model_dir))
    schema = predictor.schema
    n_classes = len(schema.classes) if schema.classes is not None else 0

    prefix = f"{run.project}/{run.dataset_id}"
    test = _read_parquet(store, ObjectRef(PROCESSED, f"{prefix}/test.parquet"), workdir)
    train_target = _read_parquet(
        store, ObjectRef(PROCESSED, f"{prefix}/train.parquet"), workdir, columns=[schema.target]
    )
    x_test = predictor.encoder.transform(test)
    raw = predictor.model.predict_raw(x_test)
    # The baseline of prediction drift: what this model predicts on data it never saw.
    store.put(
        REPORTS,
        prediction_profile_key(run.project, run.run_id),
        json.dumps(prediction_profile(raw, schema.task)).encode(),
    )
    y_test = target_values(test.get_column(schema.target), schema.classes)
    y_train = target_values(train_target.get_column(schema.target), schema.classes)
    store.put(
        REPORTS,
        details_key(run.project, run.run_id),
        json.dumps(version_details(predictor, x_test, y_test, raw)).encode(),
    )
    training = json.loads((model_dir / TRAINING_FILE).read_text())
    metrics = {
        "validation": {k: float(v) for k, v in (training.get("validation_metrics") or {}).items()},
        "test": compute_metrics(schema.task, y_test, raw, n_classes),
        "baseline": baseline_metrics(schema.task, y_train, y_test, n_classes),
    }
    return Evaluation(
        primary_metric=project.metric or default_metric(schema.task),
        metrics=metrics,
        schema=schema,
        training=training,
        sha256=digest,
    )


def _read_parquet(
    store: ObjectStore, ref: ObjectRef, workdir: Path, columns: list[str] | None = None
) -> pl.DataFrame:
    local = workdir / "data" / Path(ref.key).name
    if not local.exists():
        store.download(ref.bucket, ref.key, local)
    return pl.read_parquet(local, columns=columns)
