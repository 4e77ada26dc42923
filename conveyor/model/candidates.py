"""One candidate of the search (``conveyor.model.search``) fitted and scored the same way
whatever its family: on the validation split, or under the cross-validation threshold out of
fold over train and validation, with its fit and predict times: a leaderboard row.

A classifier is scored on its probabilities as they would serve: calibrated
(``conveyor.model.calibration.served_probabilities``, each row by a calibrator fitted on the
other folds), as the deployed model's are. Scored raw, log-loss favoured whichever family
came out of its fit better calibrated, not the one that serves best: a strongly regularised
linear model's raw log-loss on breast_cancer was 0.37, calibrated 0.14."""

from __future__ import annotations

import dataclasses
import math
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from conveyor.model.calibration import served_probabilities
from conveyor.model.catboost_model import CatBoostModel
from conveyor.model.cross_validation import (
    FOLDS,
    CrossValidated,
    FoldScores,
    fit_all,
    lightgbm_folds,
    make_folds,
    score_folds,
)
from conveyor.model.estimators import (
    Categorical,
    FittedModel,
    LightGbmModel,
    SklearnModel,
    effective_hyperparameters,
)
from conveyor.model.forest import ForestModel
from conveyor.model.forest import unsuited as forest_unsuited
from conveyor.model.knn import KnnModel, distance_inputs, unsuited
from conveyor.model.linear import LinearModel
from conveyor.model.metrics import compute_metrics
from conveyor.model.one_row import ONE_ROW_BUDGET_MS, one_row_ms, over_budget
from conveyor.types import Algorithm, Task

# The linear model learns from at most this many rows: it serves small data and extrapolation;
# on larger files the trees win, and its fit should not take the search's budget.
LINEAR_MAX_ROWS = 100_000


@dataclass
class Scored:
    """One leaderboard row, and how to get its model fitted."""

    name: str
    algorithm: Algorithm
    hyperparameters: dict[str, Any]
    metrics: dict[str, float]
    fit_seconds: float
    predict_seconds_per_1000: float | None
    status: str = "ok"  # or "pruned", "failed: <reason>", "not served: <why>"
    rounds: int | None = None  # LightGBM's early-stopped rounds
    spread: dict[str, float] = field(default_factory=dict)  # across folds, when cross-validated
    # The model's own validation or out-of-fold predictions (what an ensemble blends and the
    # winner's calibrator learns from).
    predictions: np.ndarray | None = field(default=None, repr=False)
    # ``predictions`` as they would serve (a classifier's calibrated, cross-fitted): what
    # ``metrics`` are of.
    served: np.ndarray | None = field(default=None, repr=False)
    calibration: str | None = None  # the calibrator its scores are of; None: raw
    # The model that serves if this row wins (fitted on all of train + validation under
    # cross-validation; the model already fitted otherwise).
    finish: Callable[[], FittedModel | CrossValidated] | None = field(default=None, repr=False)
    # The median CPU milliseconds of a one-row predict in process (``conveyor.model.one_row``).
    one_row_ms: float | None = None
    # The model ``one_row_ms`` was timed on (a fold's under cross-validation): an ensemble's
    # one-row predict is timed on its members' (``conveyor.model.ensemble.blend``).
    timed: FittedModel | None = field(default=None, repr=False)

    def row(self, metric: str, *, winner: bool) -> dict[str, Any]:
        """The training record's leaderboard entry."""
        score = self.metrics.get(metric)
        return {
            "name": self.name,
            "algorithm": self.algorithm.value,
            "hyperparameters": self.hyperparameters,
            "rounds": self.rounds,
            "score": score if score is not None and math.isfinite(score) else None,
            "metrics": self.metrics,
            "fit_seconds": round(self.fit_seconds, 3),
            "predict_seconds_per_1000": (
                None
                if self.predict_seconds_per_1000 is None
                else round(self.predict_seconds_per_1000, 5)
            ),
            "one_row_ms": None if self.one_row_ms is None else round(self.one_row_ms, 4),
            "calibration": self.calibration,
            "status": self.status,
            "winner": winner,
        }


@dataclass(frozen=True)
class Data:
    """The rows a search scores on: a validation split, or (``x_valid`` None) k folds of
    train and validation together."""

    task: Task
    x_train: np.ndarray
    y_train: np.ndarray
    x_valid: np.ndarray | None
    y_valid: np.ndarray | None
    categorical_indices: list[int]
    n_classes: int
    seed: int
    # A date's calendar parts (``FeatureEncoder.calendar_indices_``): out of a distance.
    calendar_indices: list[int] = field(default_factory=list)

    @property
    def cross_validated(self) -> bool:
        return self.x_valid is None


def finish_seconds(row: Scored, data: Data) -> float:
    """About what ``row.finish`` takes: under cross-validation a fit on every row, about one of
    its folds' (a fifth of its ``fit_seconds``; seattle_temps' members' took 0.6-1.3 times
    that); on a validation split nothing, as its model is the one already fitted."""
    return row.fit_seconds / FOLDS if data.cross_validated else 0.0


class Scorer:
    """Fits and scores one candidate the same way for every family."""

    def __init__(
        self,
        data: Data,
        deadline: float | None = None,
        one_row_budget_ms: float = ONE_ROW_BUDGET_MS,
    ) -> None:
        self.data = data
        # A candidate whose one-row predict takes longer (median CPU ms) is scored, not served.
        self.one_row_budget_ms = one_row_budget_ms
        # When a candidate's fit that can stop part-way (CatBoost's) ends, keeping what it has
        # (``time.monotonic``); the winner's final fit is not held to it.
        self.deadline = deadline
        self.folds = (
            make_folds(data.task, data.y_train, data.seed) if data.cross_validated else None
        )

    def unsuited(self, family: Algorithm) -> str | None:
        """Why ``family`` is not fitted on these data (a leaderboard row's status), or None."""
        d = self.data
        if family is Algorithm.FOREST:
            return forest_unsuited(len(d.y_train))
        if family is not Algorithm.KNN:
            return None
        return unsuited(
            len(d.y_train), distance_inputs(d.x_train, d.categorical_indices, d.calendar_indices)
        )

    def fixed(self, family: Algorithm, given: dict[str, Any], name: str | None = None) -> Scored:
        rows = len(self.data.y_train)
        params = effective_hyperparameters(family, given, rows)
        if family is Algorithm.LIGHTGBM:
            return self.lightgbm(name or family.value, params, callbacks=())
        return self._other(family, params, name or family.value)

    def lightgbm(
        self, name: str, params: dict[str, Any], callbacks: tuple[Callable[..., None], ...]
    ) -> Scored:
        d = self.data
        began = time.monotonic()
        if self.folds is not None:
            fitting = dict(params)
            cap, patience = (
                int(fitting.pop("num_boost_round")),
                int(fitting.pop("early_stopping_rounds")),
            )
            booster_params = LightGbmModel.booster_params(
                d.task, fitting, n_classes=d.n_classes, seed=d.seed
            )
            if "num_threads" not in params:  # as cross_validate, for the same reason
                booster_params["num_threads"] = 1
            categorical: Categorical = d.categorical_indices or "auto"
            scored = lightgbm_folds(
                d.task,
                d.x_train,
                d.y_train,
                self.folds,
                booster_params,
                categorical,
                cap,
                patience,
                d.n_classes,
                callbacks,
            )
            return self._from_folds(
                name,
                Algorithm.LIGHTGBM,
                params,
                scored,
                began,
                lambda: fit_all(d.task, d.x_train, d.y_train, scored, booster_params, categorical),
            )
        assert d.x_valid is not None and d.y_valid is not None
        model = LightGbmModel.fit(
            d.task,
            d.x_train,
            d.y_train,
            d.x_valid,
            d.y_valid,
            categorical_indices=d.categorical_indices,
            n_classes=d.n_classes,
            params=dict(params),
            seed=d.seed,
            callbacks=callbacks,
        )
        return self._from_model(name, Algorithm.LIGHTGBM, params, model, began)

    def _other(self, family: Algorithm, params: dict[str, Any], name: str) -> Scored:
        d = self.data
        began = time.monotonic()
        if self.folds is None:
            model = self._fit(family, d.x_train, d.y_train, params, self.deadline)
            return self._from_model(name, family, _fitted(model, params), model, began)
        from threadpoolctl import threadpool_limits

        width = d.n_classes if d.task is not Task.REGRESSION else 0
        out = np.zeros((len(d.y_train), width) if width else len(d.y_train))
        predicting = 0.0
        # One thread on small data, as cross_validate's LightGBM: on a busy machine OpenMP's
        # spinning made HistGradientBoosting's fit of 700 rows 17x slower (3.4 s against 0.2 s).
        with threadpool_limits(1):
            for k, (train, held) in enumerate(self.folds):
                # Each fold an equal share of the time left: the last ones are not starved.
                stop_at = (
                    None
                    if self.deadline is None
                    else time.monotonic()
                    + (self.deadline - time.monotonic()) / (len(self.folds) - k)
                )
                fold_model = self._fit(family, d.x_train[train], d.y_train[train], params, stop_at)
                clock = time.monotonic()
                out[held] = fold_model.predict_raw(d.x_train[held])
                predicting += time.monotonic() - clock
        scored = score_folds(d.task, d.y_train, self.folds, out, d.n_classes)
        scored = dataclasses.replace(scored, predict_seconds=predicting, model=fold_model)
        return self._from_folds(
            name,
            family,
            _fitted(fold_model, params),
            scored,
            began,
            lambda: self._fit_all(family, params),
        )

    def _fit_all(self, family: Algorithm, params: dict[str, Any]) -> Any:
        from threadpoolctl import threadpool_limits

        with threadpool_limits(1):
            return self._fit(family, self.data.x_train, self.data.y_train, params)

    def _fit(
        self,
        family: Algorithm,
        x: np.ndarray,
        y: np.ndarray,
        params: dict[str, Any],
        stop_at: float | None = None,
    ) -> Any:
        d = self.data
        if family is Algorithm.LINEAR:
            if len(y) > LINEAR_MAX_ROWS:
                keep = np.random.default_rng(d.seed).choice(len(y), LINEAR_MAX_ROWS, replace=False)
                x, y = x[keep], y[keep]
            return LinearModel.fit(
                d.task,
                x,
                y,
                categorical_indices=d.categorical_indices,
                n_classes=d.n_classes,
                params=params,
                seed=d.seed,
            )
        if family is Algorithm.KNN:
            return KnnModel.fit(
                d.task,
                x,
                y,
                categorical_indices=d.categorical_indices,
                calendar_indices=d.calendar_indices,
                n_classes=d.n_classes,
                params=params,
                seed=d.seed,
            )
        if family is Algorithm.FOREST:
            return ForestModel.grow(d.task, x, y, n_classes=d.n_classes, params=params, seed=d.seed)
        # The boosting families early-stop on a share of the rows they are given: the last
        # sixth here, so that the search's validation rows stay unseen.
        cut = len(y) - max(1, len(y) // 6)
        split = (d.task, x[:cut], y[:cut], x[cut:], y[cut:])
        if family is Algorithm.CATBOOST:
            return CatBoostModel.fit(
                *split,
                categorical_indices=d.categorical_indices,
                n_classes=d.n_classes,
                params=dict(params),
                seed=d.seed,
                stop_at=stop_at,
            )
        return SklearnModel.fit(
            *split, categorical_indices=d.categorical_indices, params=dict(params), seed=d.seed
        )

    def _from_model(
        self,
        name: str,
        family: Algorithm,
        params: dict[str, Any],
        model: FittedModel,
        began: float,
    ) -> Scored:
        d = self.data
        assert d.x_valid is not None and d.y_valid is not None
        fit_seconds = time.monotonic() - began
        clock = time.monotonic()
        raw = model.predict_raw(d.x_valid)
        predict = (time.monotonic() - clock) / max(1, len(d.y_valid)) * 1000
        served, method = served_probabilities(
            d.task, d.y_valid, raw, n_classes=d.n_classes, seed=d.seed
        )
        return self._served(
            Scored(
                name,
                family,
                params,
                compute_metrics(d.task, d.y_valid, served, d.n_classes),
                fit_seconds,
                predict,
                rounds=model.best_iteration if family is Algorithm.LIGHTGBM else None,
                predictions=raw,
                served=served,
                calibration=method,
                finish=lambda: model,
            ),
            model,
            d.x_valid,
        )

    def _from_folds(
        self,
        name: str,
        family: Algorithm,
        params: dict[str, Any],
        scored: FoldScores,
        began: float,
        finish: Callable[[], FittedModel | CrossValidated],
    ) -> Scored:
        d = self.data
        fit_seconds = time.monotonic() - began
        assert self.folds is not None  # scored on folds
        served, method = served_probabilities(
            d.task, d.y_train, scored.out_of_fold, n_classes=d.n_classes, seed=d.seed
        )
        if method is not None:  # the metrics and their spread across folds, as served
            calibrated = score_folds(d.task, d.y_train, self.folds, served, d.n_classes)
            scored = dataclasses.replace(
                scored, metrics=calibrated.metrics, spread=calibrated.spread
            )
        row = Scored(
            name,
            family,
            params,
            scored.metrics,
            fit_seconds,
            scored.predict_seconds / max(1, len(d.y_train)) * 1000,
            rounds=scored.rounds if family is Algorithm.LIGHTGBM else None,
            spread=scored.spread,
            predictions=scored.out_of_fold,
            served=served,
            calibration=method,
            finish=finish,
        )
        return self._served(row, scored.model, self.data.x_train[self.folds[-1][1]])

    def _served(self, row: Scored, model: FittedModel | None, held: np.ndarray) -> Scored:
        """``row`` with its one-row predict time (of ``model`` on rows it did not learn from),
        and marked not served when that is over the budget: such a model never wins."""
        if model is None:
            return row
        row.one_row_ms = one_row_ms(model, held)
        row.timed = model
        refused = over_budget(row.one_row_ms, self.one_row_budget_ms)
        if refused is not None:
            row.status = refused
        return row


def _fitted(model: Any, params: dict[str, Any]) -> Any:
    """What the fit chose in its row: the linear model's penalty (ridge chooses its own),
    the neighbours' number and weighting."""
    chose = isinstance(model, LinearModel | KnnModel)
    return {**params, **model.hyperparameters} if chose else params
