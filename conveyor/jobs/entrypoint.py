"""The training entrypoint: ``python -m conveyor.jobs.entrypoint``.

It reads only SageMaker's script-mode contract (SM_* variables, hyperparameters.json,
channels ``train``, ``validation``, ``schema`` and, for a full fit, ``test``), so the same file
runs in a local subprocess and in a SageMaker training container. On failure it writes the reason to
``output/failure`` (a person reads it) and the traceback to stderr (the log).
"""

from __future__ import annotations

import json
import logging
import os
import sys
import time
import traceback
from pathlib import Path
from typing import TYPE_CHECKING, Any

from conveyor.jobs.contract import ScriptModePaths, paths_from_environment, read_hyperparameters

if TYPE_CHECKING:
    import numpy as np

    from conveyor.model.calibration import Calibrator
    from conveyor.model.catboost_model import CatBoostModel
    from conveyor.model.encode import FeatureEncoder
    from conveyor.model.ensemble import EnsembleModel
    from conveyor.model.estimators import FittedModel, LightGbmModel
    from conveyor.model.forest import ForestModel
    from conveyor.model.knn import KnnModel
    from conveyor.model.linear import LinearModel
    from conveyor.tabular.schema import DatasetSchema
    from conveyor.types import Task


class TrainingInputError(Exception):
    """A channel or hyperparameter the job needs is missing or malformed."""


def _channel_file(paths: ScriptModePaths, channel: str, suffix: str) -> Path:
    folder = paths.channel(channel)
    found = sorted(folder.glob(f"*{suffix}")) if folder.is_dir() else []
    if not found:
        raise TrainingInputError(f"channel {channel!r} has no {suffix} file in {folder}")
    return found[0]


def train(paths: ScriptModePaths) -> dict[str, Any]:
    """Fit the encoder and the model; write the artifact folder; return the training record."""
    import numpy as np
    import polars as pl

    import conveyor
    from conveyor.model.artifact import ASSESSMENT_DIR
    from conveyor.model.budget import default_budget, parse_budget
    from conveyor.model.calibration import served_probabilities
    from conveyor.model.candidates import Data as SearchData
    from conveyor.model.cross_validation import CrossValidated, cross_validate, cross_validates
    from conveyor.model.encode import FeatureEncoder, target_values
    from conveyor.model.estimators import (
        REFIT_MAX_ROWS,
        LightGbmModel,
        effective_hyperparameters,
        fit_model,
    )
    from conveyor.model.imbalance import imbalance_record
    from conveyor.model.knn import KnnModel
    from conveyor.model.metrics import compute_metrics, default_metric
    from conveyor.model.search import one_row, search
    from conveyor.tabular.schema import DatasetSchema
    from conveyor.types import Algorithm, Preset, Task

    started = time.monotonic()
    hps = read_hyperparameters(paths)
    algorithm = Algorithm(hps.get("algorithm", "lightgbm"))
    seed = int(hps.get("seed", "42"))
    user_params = json.loads(hps.get("model_hyperparameters", "{}") or "{}")
    if not isinstance(user_params, dict):
        raise TrainingInputError("hyperparameter model_hyperparameters must be a JSON object")
    schema = DatasetSchema.from_dict(
        json.loads(_channel_file(paths, "schema", "schema.json").read_text())
    )
    train_frame = pl.read_parquet(_channel_file(paths, "train", ".parquet"))
    valid_frame = pl.read_parquet(_channel_file(paths, "validation", ".parquet"))
    # The test split comes only for a full fit (conveyor.pipeline.train.full_fit): small data.
    test_frame = (
        pl.read_parquet(_channel_file(paths, "test", ".parquet"))
        if paths.channel("test").is_dir()
        else None
    )
    print(
        f"training {algorithm.value} ({schema.task.value}) on {train_frame.height} rows, "
        f"validating on {valid_frame.height}",
        flush=True,
    )

    rows_train, rows_validation = train_frame.height, valid_frame.height
    n_classes = len(schema.classes) if schema.classes is not None else 0
    everything = (
        pl.concat([train_frame, valid_frame, test_frame], how="vertical_relaxed")
        if test_frame is not None
        else None
    )
    preset = Preset(hps.get("preset") or Preset.FAST.value)
    metric = hps.get("metric") or default_metric(schema.task)
    cross_validated: CrossValidated | None = None
    # The search scores every family the way LightGBM is scored: k folds under the threshold.
    if cross_validates(
        algorithm if preset is Preset.FAST else Algorithm.LIGHTGBM, rows_train + rows_validation
    ):
        # Small data: the rounds are chosen on five folds of train and validation together,
        # and the model fitted on both (its encoder too).
        fit_frame = pl.concat([train_frame, valid_frame], how="vertical_relaxed")
        del train_frame, valid_frame, test_frame
        encoder = FeatureEncoder().fit(fit_frame, schema)
        x_train = encoder.transform(fit_frame)
        y_train = target_values(fit_frame.get_column(schema.target), schema.classes)
        x_valid = y_valid = None
    else:
        encoder = FeatureEncoder().fit(train_frame, schema)
        x_train, x_valid = encoder.transform(train_frame), encoder.transform(valid_frame)
        y_train = target_values(train_frame.get_column(schema.target), schema.classes)
        y_valid = target_values(valid_frame.get_column(schema.target), schema.classes)
        # The model learns from the encoded arrays: the frames are let go before LightGBM
        # builds its dataset beside them (200 MB of a 700,000-row split's job's peak).
        del train_frame, valid_frame, test_frame
    hyperparameters = effective_hyperparameters(algorithm, user_params, rows_train)
    family = algorithm.value  # the record's: the search's winner's, or an ensemble
    if preset is not Preset.FAST:
        budget_text = hps.get("time_budget") or ""
        budget = (
            parse_budget(budget_text)
            if budget_text
            else default_budget(preset, len(y_train), x_train.shape[1])
        )
        print(
            f"searching ({preset.value}) for {budget:g} s"
            + ("" if budget_text else " (the default for these rows and columns)"),
            flush=True,
        )
        searched = search(
            SearchData(
                schema.task,
                x_train,
                y_train,
                x_valid,
                y_valid,
                encoder.categorical_indices_,
                n_classes,
                seed,
                encoder.calendar_indices_,
            ),
            preset=preset,
            budget=budget,
            budget_source="set" if budget_text else "default",
            metric=metric,
            algorithm=algorithm,
            user_params=user_params,
            started=started,
        )
        model: FittedModel = searched.model
        family, hyperparameters = searched.algorithm, searched.hyperparameters
        validation, cross_validated = searched.validation, searched.cross_validated
        chosen_rounds = cross_validated.rounds if cross_validated else model.best_iteration
        search_record = searched.summary
        cross_validation = searched.cross_validation
        held = (y_train if y_valid is None else y_valid, searched.predictions)
        board = search_record["leaderboard"]
        print(
            f"search tried {len(board)} candidates in {search_record['seconds']:.1f} s; "
            f"{search_record['winner']} won on {metric}",
            flush=True,
        )
    elif x_valid is None:
        fitting = time.monotonic()
        cross_validated = cross_validate(
            schema.task,
            x_train,
            y_train,
            categorical_indices=encoder.categorical_indices_,
            n_classes=n_classes,
            hyperparameters=user_params,
            seed=seed,
        )
        model = cross_validated.model
        validation = cross_validated.metrics
        chosen_rounds = cross_validated.rounds
        folds = cross_validated.folds
        print(f"{folds}-fold cross-validation chose {chosen_rounds} rounds", flush=True)
        cross_validation = cross_validated.summary()
        held = (y_train, cross_validated.out_of_fold)
        search_record = one_row(
            algorithm, hyperparameters, validation, time.monotonic() - fitting, None, metric
        )
    else:
        assert y_valid is not None
        fitting = time.monotonic()
        model = fit_model(
            algorithm,
            schema.task,
            x_train,
            y_train,
            x_valid,
            y_valid,
            categorical_indices=encoder.categorical_indices_,
            n_classes=n_classes,
            hyperparameters=user_params,
            seed=seed,
            calendar_indices=encoder.calendar_indices_,
        )
        fitted = time.monotonic()
        raw = model.predict_raw(x_valid)
        predicting = (time.monotonic() - fitted) / max(1, len(y_valid)) * 1000
        validation = compute_metrics(
            schema.task,
            y_valid.astype(np.int64) if schema.task is not Task.REGRESSION else y_valid,
            raw,
            n_classes,
        )
        chosen_rounds = model.best_iteration
        cross_validation = None
        held = (y_valid, raw)
        search_record = one_row(
            algorithm, hyperparameters, validation, fitted - fitting, predicting, metric
        )
    for name, value in validation.items():
        print(f"validation:{name}={value:.6f}", flush=True)
    # Taken before a refit, whose model has no validation rows left to record.
    curve = (
        cross_validated.curve
        if cross_validated is not None
        else model.learning_curve_
        if isinstance(model, LightGbmModel)
        else None
    )
    calibrator, calibrated = _calibrate(schema.task, held, n_classes, metric, seed, x_valid is None)
    y_held, predicted = held
    if calibrator is not None and preset is Preset.FAST and y_held is not None:
        # Reported as a search's candidates are: on its probabilities as they serve, each fold's
        # rows by a calibrator fitted on the others (conveyor.model.candidates).
        assert predicted is not None  # calibrated on them
        served, _ = served_probabilities(
            schema.task, y_held, predicted, n_classes=n_classes, seed=seed
        )
        validation = compute_metrics(schema.task, y_held.astype(np.int64), served, n_classes)
        row = search_record["leaderboard"][0]
        row.update(metrics=validation, score=validation.get(metric), calibration=calibrator.method)
        if cross_validation is not None:
            cross_validation = {**cross_validation, "metrics": validation}
    # The validation metrics above are the early-stopped model's, on rows it did not learn
    # from; the test split stays unseen by the model it scores.
    refit: dict[str, Any] | None = None  # None: the early-stopped model serves
    assessed: tuple[FittedModel, FeatureEncoder] | None = None
    refitting = _refittable(model, small=x_valid is None)
    if refitting is not None and everything is not None:
        # The test split scores the early-stopped model (kept in assessment/); the one that
        # serves learns from every row, its encoder too (neighbours: a nearer one for a row).
        assessed = (model, encoder)
        encoder = FeatureEncoder().fit(everything, schema)
        model = refitting.refit(
            encoder.transform(everything),
            target_values(everything.get_column(schema.target), schema.classes),
            categorical_indices=encoder.categorical_indices_,
        )
        refit = {"rows": everything.height, **_refitted(model), "test": True}
    elif (
        isinstance(model, LightGbmModel | KnnModel)
        and x_valid is not None
        and y_valid is not None
        and rows_train <= REFIT_MAX_ROWS
    ):
        # (An ensemble serves as its members were scored: refitting each LightGBM member took
        # countymurders' job from its 25 s budget to 105 s.)
        model = model.refit(np.vstack([x_train, x_valid]), np.concatenate([y_train, y_valid]))
        rows = rows_train + rows_validation
        refit = {"rows": rows, **_refitted(model), "test": False}
    if refit is not None:
        splits = "train, validation and test" if refit["test"] else "train and validation"
        rounds = "" if refit["rounds"] is None else f", {refit['rounds']} rounds"
        print(f"refitted on {splits} ({refit['rows']} rows{rounds})", flush=True)

    record = {
        "algorithm": family,
        "task": schema.task.value,
        "hyperparameters": hyperparameters,
        "seed": seed,
        "best_iteration": chosen_rounds,
        # The rows and rounds of the model that serves, when it is not the early-stopped one;
        # "test": True when the test split's rows are among them (the test metrics are then
        # the early-stopped model's, from assessment/).
        "refit": refit,
        # Small data: the folds' rounds and metrics; the validation metrics are then the
        # folds' out-of-fold ones over every train and validation row.
        "cross_validation": cross_validation,
        "validation_metrics": validation,
        # LightGBM's validation metric per round with the round early stopping chose
        # (``conveyor.model.curves.learning_curve``); None for the other families.
        "learning_curve": curve,
        # The preset, budget and every candidate tried (fast: its one model).
        "search": search_record,
        # A classifier's calibration and a binary one's decision threshold, chosen on the
        # rows the validation metrics are of (conveyor.model.calibration, .threshold).
        **calibrated,
        # The rarest class's share and whether class weights were tried and serve.
        "imbalance": imbalance_record(
            schema.task, y_train, n_classes, search_record["leaderboard"]
        ),
        "feature_names_out": encoder.feature_names_out_,
        "rows_train": rows_train,
        "rows_validation": rows_validation,
        "seconds": round(time.monotonic() - started, 3),
        "versions": _versions(),
        "conveyor_version": conveyor.__version__,
    }
    out = paths.model_dir
    _write_model(out, model, schema, encoder, record, calibrator)
    if assessed is not None:
        scored, scored_encoder = assessed
        _write_model(
            out / ASSESSMENT_DIR,
            scored,
            schema,
            scored_encoder,
            {**record, "refit": None, "feature_names_out": scored_encoder.feature_names_out_},
            calibrator,
        )
    print(f"best iteration {model.best_iteration}; model written to {out}", flush=True)
    return record


def _refittable(
    model: FittedModel, *, small: bool
) -> LightGbmModel | KnnModel | LinearModel | CatBoostModel | ForestModel | EnsembleModel | None:
    """``model`` when the model that serves a full fit is it fitted again on every row (the
    test split's too), as ``fast``'s LightGBM is; else None. k-nearest neighbours always: more
    rows are nearer neighbours, and its fit is a tree's build. A search's other winners are
    refitted on small data (cross-validated): served as they were scored, they had learned
    from a sixth fewer rows than ``fast``'s model, and did worse on held-out rows (txhousing's
    RMSE 7,725 against 7,645). On larger data, refitting each member of an ensemble took
    countymurders' job from its 25 s budget to 105 s."""
    from conveyor.model.catboost_model import CatBoostModel
    from conveyor.model.ensemble import EnsembleModel
    from conveyor.model.estimators import LightGbmModel
    from conveyor.model.forest import ForestModel
    from conveyor.model.knn import KnnModel
    from conveyor.model.linear import LinearModel

    if isinstance(model, LightGbmModel | KnnModel):
        return model
    if not small:
        return None
    families = (LightGbmModel, KnnModel, LinearModel, CatBoostModel, ForestModel)
    if isinstance(model, EnsembleModel):
        return model if all(isinstance(m, families) for m in model.members) else None
    return model if isinstance(model, (LinearModel, CatBoostModel, ForestModel)) else None


def _refitted(model: Any) -> dict[str, Any]:
    """What a refitted model chose on its rows: its rounds, or the neighbours' settings (they
    have no rounds)."""
    from conveyor.model.forest import ForestModel
    from conveyor.model.knn import KnnModel

    if isinstance(model, KnnModel):
        return {"rounds": None, "hyperparameters": model.hyperparameters}
    if isinstance(model, ForestModel):  # its trees are grown, not rounds chosen
        return {"rounds": None}
    return {"rounds": int(model.best_iteration)}


def _calibrate(
    task: Task,
    held: tuple[np.ndarray | None, np.ndarray | None],
    n_classes: int,
    metric: str,
    seed: int,
    out_of_fold: bool,
) -> tuple[Calibrator | None, dict[str, Any]]:
    """A classifier's calibrator and record fields, from ``held``: the rows' classes and the
    chosen model's predictions of them (validation, or out of fold)."""
    from conveyor.model.calibration import calibrate_outputs
    from conveyor.model.cross_validation import FOLDS
    from conveyor.types import Task

    y, predicted = held
    if task is Task.REGRESSION or y is None or predicted is None:
        return None, {}
    began = time.monotonic()
    calibrator, fields = calibrate_outputs(
        task,
        y,
        predicted,
        n_classes=n_classes,
        metric=metric,
        seed=seed,
        selected_on=f"{FOLDS}-fold out of fold" if out_of_fold else "validation",
    )
    said = fields["calibration"]
    said["seconds"] = round(time.monotonic() - began, 3)  # with the threshold's choice
    print(
        f"calibration: {said['method'] or 'none'} "
        f"(log-loss {said.get('log_loss_before')} -> {said.get('log_loss_after')})"
        + (f"; decision threshold {fields['decision_threshold']}" if "threshold" in fields else ""),
        flush=True,
    )
    return calibrator, fields


def _write_model(
    folder: Path,
    model: FittedModel,
    schema: DatasetSchema,
    encoder: FeatureEncoder,
    record: dict[str, Any],
    calibrator: Calibrator | None = None,
) -> None:
    """One loadable model folder: the model, its schema, encoder, training record and
    calibrator."""
    from conveyor.model.artifact import ENCODER_FILE, SCHEMA_FILE, TRAINING_FILE

    folder.mkdir(parents=True, exist_ok=True)
    model.save(folder)
    if calibrator is not None:
        calibrator.save(folder)
    (folder / SCHEMA_FILE).write_text(json.dumps(schema.to_dict(), indent=2))
    (folder / ENCODER_FILE).write_text(json.dumps(encoder.to_dict(), indent=2))
    (folder / TRAINING_FILE).write_text(json.dumps(record, indent=2, default=str))


def _versions() -> dict[str, str]:
    from importlib.metadata import PackageNotFoundError, version

    found = {}
    for package in ("lightgbm", "scikit-learn", "polars", "numpy"):
        try:
            found[package] = version(package)
        except PackageNotFoundError:
            continue
    found["python"] = sys.version.split()[0]
    return found


def main() -> int:
    paths = paths_from_environment()
    try:
        train(paths)
    except Exception as exc:  # the job boundary: every failure becomes a reason for a person
        traceback.print_exc()
        message = getattr(exc, "message", None) or str(exc) or type(exc).__name__
        paths.failure_file.parent.mkdir(parents=True, exist_ok=True)
        paths.failure_file.write_text(f"{type(exc).__name__}: {message}\n")
        return 1
    return 0


if __name__ == "__main__":
    code = main()
    # Everything the job writes is closed by now. Python's own teardown (every module of
    # numpy, polars, LightGBM and scikit-learn) held a finished 1,000,000-row job 0.2 s
    # more before its exit code was seen; ending here skips it, as multiprocessing's
    # children do.
    logging.shutdown()
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(code)
