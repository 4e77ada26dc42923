"""The model families: LightGBM (default) and scikit-learn's HistGradientBoosting, both
with early stopping on the validation split, a regularised linear model
(``conveyor.model.linear``), CatBoost (``conveyor.model.catboost_model``) and k-nearest
neighbours (``conveyor.model.knn``), behind one small interface."""

from __future__ import annotations

import json
import os
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal, Protocol

import numpy as np

from conveyor.errors import InvalidInput
from conveyor.model.curves import learning_curve
from conveyor.model.imbalance import lightgbm_weights
from conveyor.model.single_row import SingleRowPredictor
from conveyor.types import Algorithm, Task

if TYPE_CHECKING:
    from conveyor.model.hist_shap import HistTreeShap

# LightGBM's categorical_feature: the columns' indices, or "auto" (none declared).
Categorical = list[int] | Literal["auto"]

LIGHTGBM_DEFAULTS: dict[str, Any] = {
    "learning_rate": 0.05,
    "num_leaves": 31,
    "min_data_in_leaf": 20,
    "feature_fraction": 1.0,
    "bagging_fraction": 1.0,
    "lambda_l2": 0.0,
    "max_cat_to_onehot": 4,
    "num_boost_round": 1000,
    "early_stopping_rounds": 50,
}
SINGLE_THREAD_MAX_ROWS = 256
# Up to this many training rows, the model that serves is fitted again on train + validation
# once early stopping has chosen its rounds: a small file cannot spare a sixth of its rows
# (a 300-row file's RMSE is a tenth worse on 70% of the rows than on 85%). Larger files have
# rows to spare, and refitting would double their training time.
REFIT_MAX_ROWS = 200_000
# LightGBM's defaults for categorical splits (a category needs 100 rows, its L2 penalty 10) are
# made for large data: on the corpus's small files they cost 4-7% RMSE against scikit-learn's
# HistGradientBoosting (diamonds: 686 against 638). Up to REFIT_MAX_ROWS training rows a
# category may split on 5 rows with a lighter penalty. The default smoothing (10) stays: at 1,
# a model of 38 levels on 188 rows (plotnine's mpg) overfit by 23% against 10% better at 10,
# over 3 seeds, with diamonds within 1.3%. (Smaller leaves helped two small files and hurt
# scikit-learn's bundled ones: not taken.)
SMALL_DATA: dict[str, Any] = {"min_data_per_group": 5, "cat_l2": 1.0}
_OBJECTIVES = {Task.BINARY: "binary", Task.MULTICLASS: "multiclass", Task.REGRESSION: "regression"}
SKLEARN_DEFAULTS: dict[str, Any] = {
    "learning_rate": 0.1,
    "max_iter": 1000,
    "max_leaf_nodes": 31,
    "min_samples_leaf": 20,
    "l2_regularization": 0.0,
    "early_stopping_rounds": 50,
}


class FittedModel(Protocol):
    best_iteration: int

    def predict_raw(self, x: np.ndarray) -> np.ndarray:
        """Class probabilities (n, k) for classifiers, values (n,) for regression."""
        ...

    def save(self, folder: Path) -> None: ...


def merged_hyperparameters(algorithm: Algorithm, given: dict[str, Any]) -> dict[str, Any]:
    """Defaults overridden by the project's values (numbers given as text are parsed)."""
    from conveyor.model.catboost_model import CATBOOST_DEFAULTS
    from conveyor.model.forest import FOREST_DEFAULTS
    from conveyor.model.knn import KNN_DEFAULTS
    from conveyor.model.linear import LINEAR_DEFAULTS

    defaults = {
        Algorithm.LIGHTGBM: LIGHTGBM_DEFAULTS,
        Algorithm.SKLEARN: SKLEARN_DEFAULTS,
        Algorithm.LINEAR: LINEAR_DEFAULTS,
        Algorithm.CATBOOST: CATBOOST_DEFAULTS,
        Algorithm.KNN: KNN_DEFAULTS,
        Algorithm.FOREST: FOREST_DEFAULTS,
    }[algorithm]
    merged = dict(defaults)
    for key, value in given.items():
        merged[key] = _parse(value)
    return merged


def effective_hyperparameters(
    algorithm: Algorithm, given: dict[str, Any], rows_train: int
) -> dict[str, Any]:
    """What a job trains with: ``merged_hyperparameters`` and, for LightGBM on up to
    REFIT_MAX_ROWS rows, the small-data settings the project did not set itself."""
    params = merged_hyperparameters(algorithm, given)
    if algorithm is not Algorithm.LIGHTGBM or rows_train > REFIT_MAX_ROWS:
        return params
    params.update({k: v for k, v in SMALL_DATA.items() if k not in given})
    return params


def _parse(value: Any) -> Any:
    if isinstance(value, str):
        try:
            return json.loads(value)
        except json.JSONDecodeError:
            return value
    return value


def fit_model(
    algorithm: Algorithm,
    task: Task,
    x_train: np.ndarray,
    y_train: np.ndarray,
    x_valid: np.ndarray,
    y_valid: np.ndarray,
    *,
    categorical_indices: list[int],
    n_classes: int,
    hyperparameters: dict[str, Any],
    seed: int,
    calendar_indices: Sequence[int] = (),
) -> FittedModel:
    """The project's one model of ``algorithm`` (``--preset fast``); ``calendar_indices``,
    a date's parts, are left out of the distance of k-nearest neighbours."""
    params = effective_hyperparameters(algorithm, hyperparameters, len(y_train))
    if algorithm in (Algorithm.LIGHTGBM, Algorithm.CATBOOST):
        from conveyor.model.catboost_model import CatBoostModel

        boosting = LightGbmModel if algorithm is Algorithm.LIGHTGBM else CatBoostModel
        return boosting.fit(
            task,
            x_train,
            y_train,
            x_valid,
            y_valid,
            categorical_indices=categorical_indices,
            n_classes=n_classes,
            params=params,
            seed=seed,
        )
    if algorithm is Algorithm.LINEAR:
        from conveyor.model.linear import LinearModel

        return LinearModel.fit(
            task,
            x_train,
            y_train,
            categorical_indices=categorical_indices,
            n_classes=n_classes,
            params=params,
            seed=seed,
        )
    if algorithm is Algorithm.KNN:
        from conveyor.model.knn import KnnModel

        return KnnModel.fit(
            task,
            x_train,
            y_train,
            categorical_indices=categorical_indices,
            calendar_indices=calendar_indices,
            n_classes=n_classes,
            params=params,
            seed=seed,
        )
    if algorithm is Algorithm.FOREST:
        from conveyor.model.forest import ForestModel

        # A forest needs no early stopping: the validation rows are left for the scores.
        return ForestModel.grow(
            task, x_train, y_train, n_classes=n_classes, params=params, seed=seed
        )
    return SklearnModel.fit(
        task,
        x_train,
        y_train,
        x_valid,
        y_valid,
        categorical_indices=categorical_indices,
        params=params,
        seed=seed,
    )


class LightGbmModel:
    def __init__(self, booster: Any, task: Task) -> None:
        self.booster = booster
        self.task = task
        self.best_iteration = int(booster.best_iteration or booster.current_iteration())
        self._fast: SingleRowPredictor | None = None
        # The validation metric per round (``conveyor.model.curves.learning_curve``), when
        # this process fitted it early-stopped on a validation set.
        self.learning_curve_: dict[str, Any] | None = None
        # What fit used, for refit; a loaded model has none.
        self._trained_with: tuple[dict[str, Any], Any, int] | None = None
        self._linear: bool | None = None  # linear leaves (``unexplained``), once looked at

    def _single_row(self) -> SingleRowPredictor:
        if self._fast is None:
            outputs = self.booster.num_model_per_iteration() if self.task is Task.MULTICLASS else 1
            self._fast = SingleRowPredictor(
                self.booster, num_iteration=self.best_iteration, outputs=outputs
            )
        return self._fast

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
        callbacks: Sequence[Callable[..., None]] = (),
    ) -> LightGbmModel:
        """Early-stopped on the validation rows; ``callbacks`` run every round too (a
        search's pruning)."""
        import lightgbm as lgb

        rounds = int(params.pop("num_boost_round"))
        patience = int(params.pop("early_stopping_rounds"))
        booster_params = cls.booster_params(task, params, n_classes=n_classes, seed=seed)
        categorical: Categorical = categorical_indices or "auto"
        lightgbm_params, weight = lightgbm_weights(booster_params, y_train)
        train = lgb.Dataset(
            x_train, y_train, weight=weight, categorical_feature=categorical, free_raw_data=True
        )
        # Early stopping watches the loss the weights make the model minimise.
        valid = lgb.Dataset(
            x_valid,
            y_valid,
            weight=None if weight is None else lightgbm_weights(booster_params, y_valid)[1],
            reference=train,
            categorical_feature=categorical,
        )
        recorded: dict[str, Any] = {}
        with cls.refusals():
            booster = lgb.train(
                lightgbm_params,
                train,
                num_boost_round=rounds,
                valid_sets=[valid],
                valid_names=["validation"],
                callbacks=[
                    lgb.early_stopping(patience, verbose=False),
                    lgb.record_evaluation(recorded),
                    *callbacks,
                ],
            )
        model = cls(booster, task)
        model._trained_with = (booster_params, categorical, len(y_train))
        model.learning_curve_ = learning_curve(
            recorded.get("validation", {}), model.best_iteration, "validation split"
        )
        return model

    @staticmethod
    def booster_params(
        task: Task, params: dict[str, Any], *, n_classes: int, seed: int
    ) -> dict[str, Any]:
        """LightGBM's parameters for ``task`` from the job's (rounds and patience taken out)."""
        booster_params = {
            "objective": _OBJECTIVES[task],
            "verbose": -1,
            "seed": seed,
            "deterministic": True,
            "num_threads": os.cpu_count() or 1,
            **params,
        }
        if task is Task.MULTICLASS:
            booster_params["num_class"] = n_classes
        return booster_params

    @staticmethod
    @contextmanager
    def refusals() -> Iterator[None]:
        """LightGBM's refusal of the parameters or data as the user's input error."""
        import lightgbm as lgb

        try:
            yield
        except lgb.basic.LightGBMError as exc:
            raise InvalidInput(
                f"LightGBM refused the hyperparameters or data: {exc}", field="hyperparameters"
            ) from exc

    @classmethod
    def train_rounds(
        cls,
        task: Task,
        x: np.ndarray,
        y: np.ndarray,
        booster_params: dict[str, Any],
        categorical: Categorical,
        rounds: int,
    ) -> LightGbmModel:
        """A model of exactly ``rounds`` rounds on ``x``, refittable on more rows."""
        import lightgbm as lgb

        lightgbm_params, weight = lightgbm_weights(booster_params, y)
        full = lgb.Dataset(x, y, weight=weight, categorical_feature=categorical, free_raw_data=True)
        model = cls(lgb.train(lightgbm_params, full, num_boost_round=max(1, rounds)), task)
        model._trained_with = (booster_params, categorical, len(y))
        return model

    def refit(
        self, x: np.ndarray, y: np.ndarray, *, categorical_indices: list[int] | None = None
    ) -> LightGbmModel:
        """The same model fitted on ``x`` (more rows than it was), with the rounds early
        stopping chose scaled by how many more rows it sees, as more data supports more trees.
        ``categorical_indices`` when ``x`` comes from another encoder than the fit's."""
        if self._trained_with is None:
            raise ValueError("refit needs a model fitted in this process")
        params, categorical, rows_train = self._trained_with
        if categorical_indices is not None:
            categorical = categorical_indices or "auto"
        rounds = round(self.best_iteration * len(y) / rows_train)
        return self.train_rounds(self.task, x, y, params, categorical, rounds)

    def predict_raw(self, x: np.ndarray) -> np.ndarray:
        if len(x) == 1:
            raw = self._single_row().predict(x[0])
            if self.task is Task.BINARY:
                return np.array([[1.0 - raw[0], raw[0]]])
            return raw if self.task is Task.REGRESSION else raw.reshape(1, -1)
        # A few rows are faster on one thread: waking OpenMP's team costs more than the trees,
        # and on a busy server its spinning threads steal the cores requests need.
        threads = {"num_threads": 1} if len(x) <= SINGLE_THREAD_MAX_ROWS else {}
        raw = self.booster.predict(x, num_iteration=self.best_iteration, **threads)
        if self.task is Task.BINARY:
            return np.column_stack([1.0 - raw, raw])
        return np.asarray(raw)

    explanation_method = "tree_shap"

    @property
    def unexplained(self) -> str | None:
        """Why this model's contributions cannot be computed (linear leaves), or None."""
        if self._linear is None:
            # The parameters LightGBM writes at the end of every model's text. A served model's
            # file is read rather than the booster asked: that would import lightgbm.
            model_file = getattr(self.booster, "model_file", None)
            text = Path(model_file).read_text() if model_file else self.booster.model_to_string()
            self._linear = "\n[linear_tree: 1]\n" in text
        if self._linear:
            return (
                "its trees have linear leaves (the search's linear_tree), for which LightGBM "
                "has no TreeSHAP"
            )
        return None

    def contributions(self, x: np.ndarray) -> np.ndarray:
        """TreeSHAP values (LightGBM's ``pred_contrib``), as ``Explainable`` says (refused
        first when ``unexplained`` says why not)."""
        threads = {"num_threads": 1} if len(x) <= SINGLE_THREAD_MAX_ROWS else {}
        raw = np.asarray(
            self.booster.predict(x, num_iteration=self.best_iteration, pred_contrib=True, **threads)
        )
        # Multiclass: each class's block of inputs + 1 side by side.
        return raw.reshape(len(x), -1, x.shape[1] + 1)

    def save(self, folder: Path) -> None:
        self.booster.save_model(str(folder / "model.txt"), num_iteration=self.best_iteration)

    @classmethod
    def load(cls, folder: Path, task: Task) -> LightGbmModel:
        # Through the C library: importing lightgbm would import scikit-learn and SciPy, a
        # second of a server's cold start (lightgbm_c.py).
        from conveyor.model.lightgbm_c import CBooster

        return cls(CBooster(folder / "model.txt"), task)


class SklearnModel:
    """HistGradientBoosting with its own early stopping."""

    def __init__(self, estimator: Any, task: Task) -> None:
        self.estimator = estimator
        self.task = task
        self.best_iteration = int(getattr(estimator, "n_iter_", 0))
        self._shap: HistTreeShap | None = None  # its explainer, built at the first explanation

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
        params: dict[str, Any],
        seed: int,
    ) -> SklearnModel:
        from sklearn.ensemble import HistGradientBoostingClassifier, HistGradientBoostingRegressor

        patience = int(params.pop("early_stopping_rounds"))
        kind = (
            HistGradientBoostingRegressor
            if task is Task.REGRESSION
            else HistGradientBoostingClassifier
        )
        mask = np.zeros(x_train.shape[1], dtype=bool)
        mask[categorical_indices] = True
        estimator = kind(
            categorical_features=mask if categorical_indices else None,
            early_stopping=True,
            n_iter_no_change=patience,
            random_state=seed,
            **params,
        )
        # sklearn cannot take a given validation set; it holds out its own part of the same
        # size from train + validation (seeded). The test split stays unseen either way.
        x_all = np.vstack([x_train, x_valid])
        y_all = np.concatenate([y_train, y_valid])
        estimator.set_params(validation_fraction=len(y_valid) / len(y_all))
        try:
            estimator.fit(x_all, y_all)
        except ValueError as exc:
            raise InvalidInput(
                f"scikit-learn refused the hyperparameters or data: {exc}", field="hyperparameters"
            ) from exc
        return cls(estimator, task)

    def predict_raw(self, x: np.ndarray) -> np.ndarray:
        if self.task is Task.REGRESSION:
            return np.asarray(self.estimator.predict(x))
        return np.asarray(self.estimator.predict_proba(x))

    explanation_method = "tree_shap"

    @property
    def unexplained(self) -> str | None:
        """Why this model's contributions would not be exact, or None (``hist_shap``)."""
        from conveyor.model.hist_shap import why_not

        return why_not(self.estimator, regression=self.task is Task.REGRESSION)

    def contributions(self, x: np.ndarray) -> np.ndarray:
        """TreeSHAP values through the shap package, as ``Explainable`` says (refused first
        when ``unexplained`` says why not)."""
        if self._shap is None:
            from conveyor.model.hist_shap import HistTreeShap

            self._shap = HistTreeShap(self.estimator)
        return self._shap.contributions(x)

    def save(self, folder: Path) -> None:
        import joblib

        joblib.dump(self.estimator, folder / "model.joblib")

    @classmethod
    def load(cls, folder: Path, task: Task) -> SklearnModel:
        import joblib

        return cls(joblib.load(folder / "model.joblib"), task)


def load_model(folder: Path, algorithm: Algorithm, task: Task) -> FittedModel:
    if algorithm is Algorithm.LIGHTGBM:
        return LightGbmModel.load(folder, task)
    if algorithm is Algorithm.LINEAR:
        from conveyor.model.linear import LinearModel

        return LinearModel.load(folder, task)
    if algorithm is Algorithm.CATBOOST:
        from conveyor.model.catboost_model import CatBoostModel

        return CatBoostModel.load(folder, task)
    if algorithm is Algorithm.KNN:
        from conveyor.model.knn import KnnModel

        return KnnModel.load(folder, task)
    if algorithm is Algorithm.FOREST:
        from conveyor.model.forest import ForestModel

        return ForestModel.load(folder, task)
    return SklearnModel.load(folder, task)
