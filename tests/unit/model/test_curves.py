"""A model's curves: bounded in size, the decision threshold's point where the model answers,
per-class scores for multiclass, a residual sample for regression, and LightGBM's validation
metric per round with the round early stopping chose."""

from __future__ import annotations

import json

import numpy as np

from conveyor.model.cross_validation import cross_validate
from conveyor.model.curves import MAX_POINTS, RESIDUAL_POINTS, evaluation_curves
from conveyor.model.estimators import LightGbmModel
from conveyor.types import Task


def _binary(rows: int, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    y = rng.integers(0, 2, size=rows)
    positive = np.clip(0.3 * y + rng.uniform(0, 0.7, size=rows), 0, 1)
    return y, np.column_stack([1 - positive, positive])


def test_binary_curves_stay_small_and_mark_the_threshold_the_model_answers_with() -> None:
    y, raw = _binary(5_000)
    curves = evaluation_curves(Task.BINARY, y, raw, labels=["no", "yes"], threshold=0.7)
    roc, pr = curves["roc"], curves["precision_recall"]
    assert len(roc["fpr"]) <= MAX_POINTS + 1 and len(pr["recall"]) <= MAX_POINTS + 1
    assert roc["fpr"][0] == 0 and roc["fpr"][-1] == 1 and 0.7 < roc["auc"] < 1
    assert pr["recall"] == sorted(pr["recall"])  # x rising, as a chart draws it
    # At 0.7 only positives (0.3 + up to 0.7) can score: no false positive, some recall.
    assert roc["threshold"] == {"value": 0.7, "fpr": 0.0, "tpr": roc["threshold"]["tpr"]}
    assert 0.4 < roc["threshold"]["tpr"] < 0.6 and pr["threshold"]["precision"] == 1.0
    calibration = curves["calibration"]
    assert len(calibration["predicted"]) == len(calibration["rows"]) <= 10
    assert sum(calibration["rows"]) == 5_000 and calibration["label"] == "P(yes)"
    assert curves["per_class"] is None and curves["residuals"] is None
    assert len(json.dumps(curves)) < 20_000


def test_multiclass_has_per_class_scores_and_a_top_label_reliability_curve() -> None:
    y = np.array([0, 0, 1, 1, 2, 2])
    raw = np.array([[0.8, 0.1, 0.1], [0.6, 0.3, 0.1], [0.2, 0.7, 0.1]] * 2)
    curves = evaluation_curves(Task.MULTICLASS, y, raw, labels=["a", "b", "c"])
    by_label = {c["label"]: c for c in curves["per_class"]}
    assert by_label["c"] == {"label": "c", "precision": 0, "recall": 0, "f1": 0, "support": 2}
    assert by_label["a"]["recall"] == 1.0 and by_label["a"]["precision"] == 0.5
    assert curves["roc"] is None and curves["calibration"]["label"] == "P(predicted class)"


def test_regression_keeps_a_sample_of_residuals_ordered_by_prediction() -> None:
    rng = np.random.default_rng(1)
    predicted = rng.normal(size=3000)
    y = predicted + rng.normal(scale=0.1, size=3000)
    residuals = evaluation_curves(Task.REGRESSION, y, predicted, labels=[])["residuals"]
    assert len(residuals["predicted"]) == RESIDUAL_POINTS and residuals["rows"] == 3000
    assert residuals["predicted"] == sorted(residuals["predicted"])
    assert max(abs(r) for r in residuals["residual"]) < 0.6


def test_lightgbm_records_its_validation_metric_per_round_and_the_round_it_stopped_at() -> None:
    rng = np.random.default_rng(2)
    x = rng.normal(size=(600, 4))
    y = (x[:, 0] + rng.normal(scale=0.5, size=600) > 0).astype(np.float64)
    params = {"num_boost_round": 1000, "early_stopping_rounds": 20, "learning_rate": 0.1}
    model = LightGbmModel.fit(
        Task.BINARY, x[:400], y[:400], x[400:], y[400:],
        categorical_indices=[], n_classes=2, params=params, seed=1,
    )  # fmt: skip
    curve = model.learning_curve_
    assert curve is not None and curve["metric"] == "binary_logloss"
    assert curve["best_iteration"] == model.best_iteration
    assert curve["rounds"] == model.best_iteration + 20  # patience rounds past the best
    best = curve["iterations"].index(model.best_iteration)
    assert curve["values"][best] == min(curve["values"])

    quick = {"learning_rate": 0.2, "early_stopping_rounds": 10}
    folds = cross_validate(
        Task.BINARY, x, y, categorical_indices=[], n_classes=2, hyperparameters=quick, seed=1
    )
    assert folds.curve is not None and folds.curve["best_iteration"] == folds.rounds
    assert folds.curve["source"] == "mean of 5 validation folds"
    assert folds.curve["rounds"] == folds.rounds + 10  # the rounds of patience too
    assert len(folds.curve["values"]) <= MAX_POINTS + 1
