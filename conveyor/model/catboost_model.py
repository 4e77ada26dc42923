"""CatBoost, a search candidate (issue 23: strong on categoricals): gradient boosting on
oblivious trees that encodes a categorical column by ordered target statistics rather than by
its codes' order, early-stopped on held-out rows, behind the families' small interface
(``conveyor.model.estimators.FittedModel``).

The encoder's matrix holds a category as a float code (NaN: missing); CatBoost wants
categories as text, so they are handed over as the codes' digits ("-1": missing) beside the
numbers, in a ``FeaturesData`` (numbers first, categories after): the same at fit and predict.
"""

from __future__ import annotations

import json
import os
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np

from conveyor.errors import InvalidInput
from conveyor.types import Task

# A higher learning rate than LightGBM's: CatBoost's iterations cost more (15 ms each on
# diamonds' 3,000 rows, one thread, at load 14), and at 0.15 diamonds stopped at 259 of them in
# 6 s with the held-out RMSE of 0.08's 622 in 10 s (691 against 692).
CATBOOST_DEFAULTS: dict[str, Any] = {
    "iterations": 1000,
    "learning_rate": 0.15,
    "depth": 6,
    "l2_leaf_reg": 3.0,
    "early_stopping_rounds": 50,
}
# Up to this many rows a fit runs on one thread: on the 2 shared cores OpenMP-style spinning
# made the other families' small fits many times slower (cross_validation.py), and a second
# thread saves little there. A prediction of this many rows or fewer too.
SINGLE_THREAD_MAX_ROWS = 20_000
_LOSS = {Task.BINARY: "Logloss", Task.MULTICLASS: "MultiClass", Task.REGRESSION: "RMSE"}
_MODEL_FILE = "model.cbm"
_COLUMNS_FILE = "catboost.json"


class CatBoostModel:
    """A fitted CatBoost model and which of the encoder's columns are categories."""

    def __init__(self, model: Any, task: Task, categorical: list[int], width: int) -> None:
        self.model = model
        self.task = task
        self.categorical = sorted(categorical)
        self.width = width  # the encoder's columns
        taken = set(self.categorical)
        self.numeric = [j for j in range(width) if j not in taken]
        self.best_iteration = int(model.tree_count_ or 0)
        # What fit used (CatBoost's settings, training rows), for refit; a loaded model has none.
        self._trained_with: tuple[dict[str, Any], int] | None = None

    @classmethod
    def fit(
        cls,
        task: Task,
        x_train: np.ndarray,
        y_train: np.ndarray,
        x_valid: np.ndarray,
        y_valid: np.ndarray,
        *,
        categorical_indices: list[int],
        n_classes: int,
        params: dict[str, Any],
        seed: int,
        stop_at: float | None = None,
    ) -> CatBoostModel:
        """Early-stopped on the validation rows, keeping the best iteration; ended with the
        iterations so far at ``stop_at`` (``time.monotonic``), a search's deadline.

        Raises:
            InvalidInput: CatBoost refused the parameters or data.
        """
        from catboost import CatBoost, CatBoostError

        settings = dict(params)
        patience = int(settings.pop("early_stopping_rounds", 50))
        rows = len(y_train)
        settings = {
            "loss_function": _LOSS[task],
            "random_seed": seed,
            "verbose": False,
            "allow_writing_files": False,  # no catboost_info/ in the job's folder
            "thread_count": 1 if rows <= SINGLE_THREAD_MAX_ROWS else (os.cpu_count() or 1),
            "use_best_model": True,
            **settings,
        }
        if task is Task.MULTICLASS:
            settings["classes_count"] = n_classes  # a class the rows lack keeps its column
        shape = cls(_Unfitted(), task, categorical_indices, x_train.shape[1])
        callbacks = [_StopAt(stop_at)] if stop_at is not None else None
        try:
            model = CatBoost(settings)
            model.fit(
                shape._pool(x_train, y_train),
                eval_set=shape._pool(x_valid, y_valid),
                early_stopping_rounds=patience,
                callbacks=callbacks,
            )
        except (CatBoostError, ValueError, TypeError) as exc:
            raise InvalidInput(
                f"CatBoost refused the hyperparameters or data: {exc}", field="hyperparameters"
            ) from exc
        fitted = cls(model, task, categorical_indices, x_train.shape[1])
        fitted._trained_with = (settings, rows)
        return fitted

    def refit(
        self, x: np.ndarray, y: np.ndarray, *, categorical_indices: list[int] | None = None
    ) -> CatBoostModel:
        """The same model fitted on ``x`` (more rows than it was), with the iterations early
        stopping chose scaled by how many more rows it sees (as LightGBM's refit).
        ``categorical_indices`` when ``x`` comes from another encoder than the fit's.

        Raises:
            ValueError: a model not fitted in this process.
        """
        from catboost import CatBoost

        if self._trained_with is None:
            raise ValueError("refit needs a model fitted in this process")
        settings, rows_train = self._trained_with
        categorical = self.categorical if categorical_indices is None else categorical_indices
        iterations = max(1, round(self.best_iteration * len(y) / rows_train))
        settings = {**settings, "iterations": iterations, "use_best_model": False}
        shape = CatBoostModel(_Unfitted(), self.task, categorical, x.shape[1])
        model = CatBoost(settings)
        model.fit(shape._pool(x, y))
        refitted = CatBoostModel(model, self.task, categorical, x.shape[1])
        refitted._trained_with = (settings, len(y))
        return refitted

    def _pool(self, x: np.ndarray, y: np.ndarray | None = None) -> Any:
        from catboost import FeaturesData, Pool

        codes = x[:, self.categorical]
        text = np.where(np.isnan(codes), -1, codes).astype(np.int64).astype(str).astype(object)
        features = FeaturesData(
            num_feature_data=np.ascontiguousarray(x[:, self.numeric], dtype=np.float32),
            cat_feature_data=text if self.categorical else None,
        )
        label = None if y is None else (y if self.task is Task.REGRESSION else y.astype(np.int64))
        return Pool(features, label=label)

    def predict_raw(self, x: np.ndarray) -> np.ndarray:
        threads = 1 if len(x) <= SINGLE_THREAD_MAX_ROWS else (os.cpu_count() or 1)
        pool = self._pool(x)
        if self.task is Task.REGRESSION:
            return np.asarray(self.model.predict(pool, thread_count=threads), dtype=np.float64)
        raw = self.model.predict(pool, prediction_type="Probability", thread_count=threads)
        return np.asarray(raw, dtype=np.float64).reshape(len(x), -1)

    explanation_method = "catboost_shap"

    def contributions(self, x: np.ndarray) -> np.ndarray:
        """CatBoost's own exact SHAP values (``get_feature_importance(type="ShapValues")``),
        which with the base value sum to its ``RawFormulaVal``: the value, the log-odds of
        class 1, each class's score before the softmax. As ``Explainable`` says, in the
        encoder's column order (the pool holds the numbers first, the categories after)."""
        threads = 1 if len(x) <= SINGLE_THREAD_MAX_ROWS else (os.cpu_count() or 1)
        values = self.model.get_feature_importance(
            data=self._pool(x), type="ShapValues", thread_count=threads
        )
        raw = np.asarray(values, dtype=np.float64).reshape(len(x), -1, self.width + 1)
        order = np.argsort(self.numeric + self.categorical)  # the pool's column of each input
        return np.concatenate([raw[:, :, order], raw[:, :, -1:]], axis=2)

    def save(self, folder: Path) -> None:
        self.model.save_model(str(folder / _MODEL_FILE))
        columns = {"categorical": self.categorical, "width": self.width}
        (folder / _COLUMNS_FILE).write_text(json.dumps(columns))

    @classmethod
    def load(cls, folder: Path, task: Task) -> CatBoostModel:
        model = _catboost_without_pandas().CatBoost()
        model.load_model(str(folder / _MODEL_FILE))
        columns = json.loads((folder / _COLUMNS_FILE).read_text())
        return cls(model, task, list(columns["categorical"]), int(columns["width"]))


def _catboost_without_pandas() -> Any:
    """The catboost module, imported (when nothing has imported it or pandas yet) with pandas
    made unimportable: catboost's core takes pandas as optional and stands in for its frame
    types when the import fails, conveyor hands it ``FeaturesData`` only, and importing pandas
    was 0.19 s of the 0.21 s catboost took to import, on a server's cold start."""
    if "catboost" in sys.modules or "pandas" in sys.modules:
        import catboost

        return catboost
    sys.modules["pandas"] = None  # type: ignore[assignment]  # an import of it then fails
    try:
        import catboost
    finally:
        if sys.modules.get("pandas", 0) is None:
            del sys.modules["pandas"]
    return catboost


class _Unfitted:
    """Stands in for the model while the fit's pools are built."""

    tree_count_ = 0


class _StopAt:
    """CatBoost's training callback: go on until ``stop_at`` (``time.monotonic``)."""

    def __init__(self, stop_at: float) -> None:
        self.stop_at = stop_at

    def after_iteration(self, info: Any) -> bool:
        return time.monotonic() < self.stop_at
