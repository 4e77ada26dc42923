"""The evaluate stage: score the trained artifact on the held-out test split and the
project's holdout, beside a trivial baseline and the champion on the same rows, and register
it as a new version with its metrics and lineage.

The artifact is loaded exactly as serving loads it (sha256 checked, unpacked, ``Predictor``),
so a version that registers is a version that serves.
"""

from __future__ import annotations

import json
from pathlib import Path

import polars as pl

from conveyor.hashing import sha256_file
from conveyor.model.artifact import TRAINING_FILE, Predictor, scored_dir, unpack
from conveyor.model.calibration import calibration_report
from conveyor.model.encode import target_values
from conveyor.model.metrics import baseline_metrics, compute_metrics, default_metric
from conveyor.monitoring.profile import prediction_profile, prediction_profile_key
from conveyor.pipeline.comparison import (
    HOLDOUT,
    TEST,
    Champion,
    Rows,
    compare,
    deployed_champion,
    holdout_rows,
)
from conveyor.pipeline.details import details_key, version_details
from conveyor.pipeline.holdout import load_holdout
from conveyor.pipeline.leakage import leak_warnings
from conveyor.pipeline.registration import Evaluation, git_commit, register
from conveyor.pipeline.train import artifact_ref
from conveyor.ports import PipelineContext
from conveyor.storage import PROCESSED, REPORTS, ObjectStore
from conveyor.types import ObjectRef, Project, Run, Task

__all__ = ["Evaluation", "evaluate_artifact", "evaluate_run", "git_commit", "register"]


def evaluate_run(ctx: PipelineContext, run: Run, project: Project) -> Evaluation:
    """The run's trained artifact evaluated against the champion the project serves now:
    what the local worker and the AWS pipeline job both do once training completed."""
    ports = ctx.ports
    champion = deployed_champion(
        ports.store, ports.registry, ports.endpoint, project.name, cache_dir=ctx.cache_dir
    )
    with ctx.workdir(f"{run.run_id}-evaluate") as workdir:
        return evaluate_artifact(
            ports.store, run, artifact_ref(run), project, workdir=workdir, champion=champion
        )


def evaluate_artifact(
    store: ObjectStore,
    run: Run,
    artifact: ObjectRef,
    project: Project,
    *,
    workdir: Path,
    champion: Champion | None = None,
) -> Evaluation:
    """Metrics of the artifact on the test split (and the project's holdout, when the run
    left it out of training), of a trivial baseline, and from training; and the comparison
    with ``champion`` on the same rows that the gate decides on."""
    tarball = workdir / "model.tar.gz"
    store.download(artifact.bucket, artifact.key, tarball)
    digest = sha256_file(tarball)
    model_dir = workdir / "model"
    unpack(tarball, model_dir)
    # A full fit serves a model that learned from the test split too: the test split scores
    # the one fitted on the train split, which the artifact keeps for that.
    scored = scored_dir(model_dir)
    predictor = Predictor.load(scored)
    schema = predictor.schema
    n_classes = len(schema.classes) if schema.classes is not None else 0

    prefix = f"{run.project}/{run.dataset_id}"
    test = _read_parquet(store, ObjectRef(PROCESSED, f"{prefix}/test.parquet"), workdir)
    train_target = _read_parquet(
        store, ObjectRef(PROCESSED, f"{prefix}/train.parquet"), workdir, columns=[schema.target]
    )
    x_test = predictor.encoder.transform(test)
    raw = predictor.predict_raw(x_test)
    # The baseline of prediction drift is what the model that serves predicts on the test
    # rows: a full fit's answers are sharper than its assessment model's (more rows, more
    # rounds), and live answers are compared with it.
    served = predictor if scored == model_dir else Predictor.load(model_dir)
    served_raw = raw if served is predictor else served.predict_raw(served.encoder.transform(test))
    store.put(
        REPORTS,
        prediction_profile_key(run.project, run.run_id),
        json.dumps(prediction_profile(served_raw, schema.task)).encode(),
    )
    y_test = target_values(test.get_column(schema.target), schema.classes)
    y_train = target_values(train_target.get_column(schema.target), schema.classes)
    training = json.loads((model_dir / TRAINING_FILE).read_text())
    if schema.task is not Task.REGRESSION:
        # The calibration's check on rows neither the model nor its calibrator saw.
        training["calibration"] = {
            **(training.get("calibration") or {}),
            "test": calibration_report(
                y_test,
                raw if predictor.calibrator is None else predictor.model.predict_raw(x_test),
                raw,
                n_classes,
            ),
        }
    details = version_details(predictor, x_test, y_test, raw, training=training)
    if schema.task is not Task.REGRESSION:
        training["calibration"]["test"]["reliability"] = details["curves"]["calibration"]
        details["calibration"] = training["calibration"]
        details["decision_threshold"] = predictor.threshold
    store.put(REPORTS, details_key(run.project, run.run_id), json.dumps(details).encode())
    splits = [Rows(TEST, run.dataset_id, x_test, y_test, test)]
    notes: list[str] = []
    holdout_id = _holdout_rows(store, run, predictor, workdir, splits, notes)
    comparison = compare(
        predictor, champion, splits, y_train=y_train, holdout_id=holdout_id, notes=notes
    )
    metrics = {
        "validation": {k: float(v) for k, v in (training.get("validation_metrics") or {}).items()},
        "test": compute_metrics(schema.task, y_test, raw, n_classes, threshold=predictor.threshold),
        "baseline": baseline_metrics(schema.task, y_train, y_test, n_classes),
    }
    if HOLDOUT in comparison.scores:
        metrics[HOLDOUT] = comparison.scores[HOLDOUT].challenger
    warnings = leak_warnings(
        project=run.project,
        task=schema.task,
        test=metrics["test"],
        baseline=metrics["baseline"],
        test_rows=len(y_test),
        importance=details["feature_importance"],
        sources=predictor.encoder.feature_sources_,
    )
    return Evaluation(
        primary_metric=project.metric or default_metric(schema.task),
        metrics=metrics,
        schema=schema,
        training=training,
        sha256=digest,
        comparison=comparison,
        warnings=tuple(warnings),
    )


def _holdout_rows(
    store: ObjectStore,
    run: Run,
    predictor: Predictor,
    workdir: Path,
    splits: list[Rows],
    notes: list[str],
) -> str | None:
    """Add the project's holdout to ``splits`` when this run never trained on it; its id."""
    used = run.report.get("holdout") or {}
    if not used.get("used"):
        return None
    holdout = load_holdout(store, run.project, workdir)
    if holdout is None or holdout.id != used.get("id"):
        notes.append("the project's holdout changed since this run was preprocessed")
        return None
    rows, problem = holdout_rows(predictor, holdout)
    if rows is None:
        notes.append(f"not scored on the holdout: {problem}")
        return None
    splits.append(rows)
    return holdout.id


def _read_parquet(
    store: ObjectStore, ref: ObjectRef, workdir: Path, columns: list[str] | None = None
) -> pl.DataFrame:
    local = workdir / "data" / Path(ref.key).name
    if not local.exists():
        store.download(ref.bucket, ref.key, local)
    return pl.read_parquet(local, columns=columns)
