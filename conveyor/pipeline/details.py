"""A version's details beside its metrics, measured on the test split by the evaluate stage:
the confusion matrix (classifiers) or the residuals' histogram (regression), what each
model input weighed, and its curves (``conveyor.model.curves``). Kept as
``reports/<project>/<run_id>/details.json``; versions evaluated before details were recorded
have none, and those evaluated before curves were have no ``curves``."""

from __future__ import annotations

from typing import Any

import numpy as np

from conveyor.model.artifact import Predictor
from conveyor.model.curves import evaluation_curves
from conveyor.model.estimators import LightGbmModel, SklearnModel
from conveyor.model.forest import ForestModel
from conveyor.types import Task

RESIDUAL_BINS = 20
# Permutation importance on at most this many test rows, a few repeats: a second or two
# at evaluation, for a model (scikit-learn's) that reports no importance of its own.
PERMUTATION_ROWS = 2000
PERMUTATION_REPEATS = 3


def details_key(project: str, run_id: str) -> str:
    """Where (in the reports bucket) the details of the version a run registered are kept."""
    return f"{project}/{run_id}/details.json"


def version_details(
    predictor: Predictor,
    x_test: np.ndarray,
    y_test: np.ndarray,
    raw: np.ndarray,
    *,
    training: dict[str, Any] | None = None,
    seed: int = 0,
) -> dict[str, Any]:
    """``{"confusion_matrix", "residuals", "feature_importance", "curves"}`` of a model on the
    test split (``raw`` its predictions on ``x_test``, ``y_test`` as the model learns it).

    Args:
        training: the model's training record: its ``learning_curve`` is kept among the
            curves. The binary curves mark the predictor's decision threshold (its
            record's ``decision_threshold``, 0.5 without one).
    """
    schema = predictor.schema
    training = training or {}
    details: dict[str, Any] = {"confusion_matrix": None, "residuals": None}
    labels = [str(label) for label in schema.classes or ()]
    if schema.task is Task.REGRESSION:
        details["residuals"] = residual_histogram(y_test, raw)
    else:
        details["confusion_matrix"] = confusion(y_test, predictor.class_indices(raw), labels)
    names = list(predictor.encoder.feature_names_out_)
    details["feature_importance"] = feature_importance(predictor, x_test, y_test, names, seed)
    curves = evaluation_curves(
        schema.task, y_test, raw, labels=labels, threshold=predictor.threshold, seed=seed
    )
    details["curves"] = {**curves, "learning": training.get("learning_curve")}
    return details


def confusion(y_true: np.ndarray, predicted: np.ndarray, labels: list[Any]) -> dict[str, Any]:
    """Rows: the true class; columns: the predicted class (as the model serves it)."""
    from sklearn.metrics import confusion_matrix

    matrix = confusion_matrix(y_true, predicted, labels=list(range(len(labels))))
    return {"labels": [str(label) for label in labels], "matrix": matrix.tolist()}


def residual_histogram(y_true: np.ndarray, raw: np.ndarray) -> dict[str, Any]:
    """Residuals (true - predicted): ``bins`` holds the edges, one more than ``counts``."""
    residuals = np.asarray(y_true, dtype=float) - np.asarray(raw, dtype=float).reshape(-1)
    residuals = residuals[np.isfinite(residuals)]
    counts, edges = np.histogram(residuals, bins=RESIDUAL_BINS)
    return {"bins": edges.tolist(), "counts": counts.tolist()}


def feature_importance(
    predictor: Predictor, x: np.ndarray, y: np.ndarray, names: list[str], seed: int
) -> list[dict[str, Any]] | None:
    """Per model input (encoded column), largest first: LightGBM's total gain; for every
    other model (scikit-learn's, the linear model, an ensemble) the mean drop of its score
    (scikit-learn's own, else the test loss) when the column is shuffled."""
    model = predictor.model
    if isinstance(model, LightGbmModel):
        values = model.booster.feature_importance(importance_type="gain")
    elif isinstance(model, ForestModel):
        values = model.feature_importance()
    elif len(y) > 1:
        from sklearn.inspection import permutation_importance

        own = model.estimator if isinstance(model, SklearnModel) else None
        result = permutation_importance(
            own if own is not None else _Fitted(model),
            x,
            y,
            scoring=None if own is not None else _loss_drop(predictor),
            n_repeats=PERMUTATION_REPEATS,
            random_state=seed,
            max_samples=min(1.0, PERMUTATION_ROWS / len(y)),
        )
        values = result.importances_mean
    else:
        return None
    ranked = sorted(
        zip(names, np.asarray(values, dtype=float).tolist(), strict=True), key=lambda pair: -pair[1]
    )
    return [{"feature": name, "importance": value} for name, value in ranked]


class _Fitted:
    """A fitted model as scikit-learn's ``permutation_importance`` takes one: its parameter
    check wants a ``fit`` (never called), which an ensemble lacks (its runs failed evaluate)."""

    def __init__(self, model: Any) -> None:
        self.model = model

    def fit(self, *_: Any) -> _Fitted:
        return self

    def predict_raw(self, x: np.ndarray) -> np.ndarray:
        return np.asarray(self.model.predict_raw(x))


def _loss_drop(predictor: Predictor) -> Any:
    """A scorer (greater is better) for a model scikit-learn cannot score itself: minus the
    RMSE for regression, minus the log-loss of its probabilities for classes."""
    from sklearn.metrics import log_loss

    task, classes = predictor.schema.task, len(predictor.schema.classes or ())

    def score(model: Any, x: np.ndarray, y: np.ndarray) -> float:
        raw = np.asarray(model.predict_raw(x), dtype=float)
        if task is Task.REGRESSION:
            return -float(np.sqrt(np.mean((np.asarray(y, dtype=float) - raw.reshape(-1)) ** 2)))
        proba = raw if raw.ndim == 2 else np.column_stack([1.0 - raw, raw])
        return -float(log_loss(y, proba, labels=list(range(classes))))

    return score
