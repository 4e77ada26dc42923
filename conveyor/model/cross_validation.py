"""k-fold cross-validation for small data: the boosting rounds chosen on every row.

Early stopping on one validation split of a small file chooses its rounds on a few dozen
rows, and the choice swings with the split: on the corpus's 300-1,600-row files a plain
validation split left the served model 0.4-2.5% worse than scikit-learn's HistGradientBoosting
on average and up to 7% worse on an unlucky split; five folds' mean curve left it 0.2-0.9%
worse at most on average and 1.5% at worst, across 8 splits each (bench/real_files' data).
The folds' out-of-fold predictions also give validation metrics over every train and
validation row, with their spread across folds.
"""

from __future__ import annotations

import dataclasses
import functools
import math
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, cast

import numpy as np

from conveyor.model.curves import learning_curve
from conveyor.model.estimators import (
    Categorical,
    FittedModel,
    LightGbmModel,
    effective_hyperparameters,
)
from conveyor.model.imbalance import lightgbm_weights
from conveyor.model.metrics import compute_metrics
from conveyor.types import Algorithm, Task

# Up to this many train + validation rows a LightGBM job cross-validates: five fits cost
# seconds here, and the rounds of larger files are chosen on enough validation rows.
CV_MAX_ROWS = 20_000
FOLDS = 5


@dataclass(frozen=True)
class CrossValidated:
    """The model fitted on train + validation with the folds' rounds, and what the folds
    measured."""

    model: LightGbmModel
    metrics: dict[str, float]  # out of fold, over every train and validation row
    spread: dict[str, float]  # each metric's standard deviation across folds
    folds: int
    rounds: int  # the folds' best round; the model's own is scaled to its rows
    curve: dict[str, Any] | None = None  # the folds' mean validation metric per round
    # Each row's prediction by the fold that left it out (what calibration learns from).
    out_of_fold: np.ndarray | None = None

    def summary(self) -> dict[str, Any]:
        """The training record's ``cross_validation`` entry."""
        return {
            "folds": self.folds,
            "rounds": self.rounds,
            "metrics": self.metrics,
            "spread": self.spread,
        }


def cross_validates(algorithm: Algorithm, rows: int) -> bool:
    """Whether a job of ``rows`` train + validation rows chooses its rounds by k-fold."""
    return algorithm is Algorithm.LIGHTGBM and FOLDS * 2 <= rows <= CV_MAX_ROWS


def cross_validate(
    task: Task,
    x: np.ndarray,
    y: np.ndarray,
    *,
    categorical_indices: list[int],
    n_classes: int,
    hyperparameters: dict[str, Any],
    seed: int,
) -> CrossValidated:
    """Choose the rounds on ``FOLDS`` folds of ``x`` (train and validation together), score
    the folds' models on the rows each left out, then fit on all of ``x``."""
    params = effective_hyperparameters(Algorithm.LIGHTGBM, hyperparameters, len(y))
    rounds_cap = int(params.pop("num_boost_round"))
    patience = int(params.pop("early_stopping_rounds"))
    booster_params = LightGbmModel.booster_params(task, params, n_classes=n_classes, seed=seed)
    # One thread, unless the project says otherwise: on up to CV_MAX_ROWS rows a second one
    # saves little, and on a busy machine OpenMP's spinning made five folds of 5,000 rows
    # 6.5x slower (1.5 s against 9.8 s; 20,000 rows: 3.4 s against 30.7 s).
    if "num_threads" not in params:
        booster_params["num_threads"] = 1
    categorical: Categorical = categorical_indices or "auto"
    folds = make_folds(task, y, seed)
    scored = lightgbm_folds(
        task, x, y, folds, booster_params, categorical, rounds_cap, patience, n_classes
    )
    return fit_all(task, x, y, scored, booster_params, categorical)


@dataclass(frozen=True)
class FoldScores:
    """What k folds measured of one set of settings."""

    rounds: int  # LightGBM's: the folds' best round; 0 for other families
    out_of_fold: np.ndarray  # each row's prediction by the fold that left it out
    metrics: dict[str, float]  # out of fold, over every row
    spread: dict[str, float]  # each metric's standard deviation across folds
    predict_seconds: float = 0.0  # spent predicting the held-out rows
    curve: dict[str, Any] | None = None  # LightGBM's: the folds' mean metric per round
    # One fold's model, at the chosen rounds: what a one-row predict of these settings costs.
    model: FittedModel | None = None


def fit_all(
    task: Task,
    x: np.ndarray,
    y: np.ndarray,
    scored: FoldScores,
    booster_params: dict[str, Any],
    categorical: Categorical,
) -> CrossValidated:
    """The LightGBM model of ``booster_params`` fitted on all of ``x`` with the folds'
    rounds, scaled to the rows it sees."""
    fold_rows = len(y) - len(y) // FOLDS
    with LightGbmModel.refusals():
        model = LightGbmModel.train_rounds(
            task, x, y, booster_params, categorical, round(scored.rounds * len(y) / fold_rows)
        )
    return CrossValidated(
        model=model,
        metrics=scored.metrics,
        spread=scored.spread,
        folds=FOLDS,
        rounds=scored.rounds,
        curve=scored.curve,
        out_of_fold=scored.out_of_fold,
    )


def lightgbm_folds(
    task: Task,
    x: np.ndarray,
    y: np.ndarray,
    folds: list[tuple[np.ndarray, np.ndarray]],
    booster_params: dict[str, Any],
    categorical: Categorical,
    rounds_cap: int,
    patience: int,
    n_classes: int,
    callbacks: Sequence[Callable[..., None]] = (),
) -> FoldScores:
    """LightGBM's rounds chosen on ``folds`` (their mean curve, early-stopped), and its
    out-of-fold scores at those rounds. ``callbacks`` run every round (a search's pruning).

    Raises:
        InvalidInput: LightGBM refused the parameters or data.
    """
    import lightgbm as lgb

    lightgbm_params, weight = lightgbm_weights(booster_params, y)
    dataset = lgb.Dataset(x, y, weight=weight, categorical_feature=categorical, free_raw_data=False)
    means: dict[str, list[float]] = {}
    with LightGbmModel.refusals():
        result = lgb.cv(
            lightgbm_params,
            dataset,
            num_boost_round=rounds_cap,
            folds=folds,
            callbacks=[
                lgb.early_stopping(patience, verbose=False),
                functools.partial(_record_means, means),
                *callbacks,
            ],
            return_cvbooster=True,
        )
    boosters = cast("lgb.CVBooster", result["cvbooster"])  # there with return_cvbooster
    rounds = int(boosters.best_iteration)
    clock = time.monotonic()
    out_of_fold = _out_of_fold(task, x, folds, boosters.boosters, rounds, n_classes)
    predicting = time.monotonic() - clock
    scored = score_folds(task, y, folds, out_of_fold, n_classes, rounds=rounds)
    curve = learning_curve(means, rounds, f"mean of {len(folds)} validation folds")
    model = LightGbmModel(boosters.boosters[-1], task)
    model.best_iteration = rounds  # the fold's booster holds the rounds early stopping waited
    return dataclasses.replace(scored, predict_seconds=predicting, curve=curve, model=model)


def _record_means(means: dict[str, list[float]], env: Any) -> None:
    """The folds' mean of each metric, every round: lgb.cv's own result stops at the best
    round, and the learning curve shows the rounds early stopping waited through too."""
    for item in env.evaluation_result_list:  # (data set, metric, mean, maximize, stdv)
        means.setdefault(item[1], []).append(float(item[2]))


def score_folds(
    task: Task,
    y: np.ndarray,
    folds: list[tuple[np.ndarray, np.ndarray]],
    out_of_fold: np.ndarray,
    n_classes: int,
    *,
    rounds: int = 0,
) -> FoldScores:
    """The metrics of ``out_of_fold`` predictions over every row, and their spread across
    ``folds``."""
    per_fold = [compute_metrics(task, y[held], out_of_fold[held], n_classes) for _, held in folds]
    return FoldScores(
        rounds=rounds,
        out_of_fold=out_of_fold,
        metrics=compute_metrics(task, y, out_of_fold, n_classes),
        spread=_spread(per_fold),
    )


def make_folds(
    task: Task, y: np.ndarray, seed: int, folds: int = FOLDS
) -> list[tuple[np.ndarray, np.ndarray]]:
    """``folds`` (train, held-out) index pairs of ``y``: stratified for a classifier whose
    every class has a row per fold."""
    from sklearn.model_selection import KFold, StratifiedKFold

    if task is not Task.REGRESSION:
        counts = np.bincount(y.astype(np.int64))
        if counts[counts > 0].min() >= folds:
            splitter = StratifiedKFold(folds, shuffle=True, random_state=seed)
            return list(splitter.split(np.zeros(len(y)), y))
    # A class with fewer rows than folds cannot be in every fold: plain folds keep it in
    # training for most of them (issue 19: rare classes train, never fail the run).
    splitter_plain = KFold(folds, shuffle=True, random_state=seed)
    return list(splitter_plain.split(np.zeros(len(y))))


def _out_of_fold(
    task: Task,
    x: np.ndarray,
    folds: list[tuple[np.ndarray, np.ndarray]],
    boosters: list[Any],
    rounds: int,
    n_classes: int,
) -> np.ndarray:
    width = n_classes if task is Task.MULTICLASS else None
    out = np.zeros((len(x), width) if width else len(x), dtype=np.float64)
    for (_, held), booster in zip(folds, boosters, strict=True):
        out[held] = booster.predict(x[held], num_iteration=rounds)
    if task is Task.BINARY:
        return np.column_stack([1.0 - out, out])
    return out


def _spread(per_fold: list[dict[str, float]]) -> dict[str, float]:
    """Each metric's standard deviation across folds; a metric a fold could not measure
    (ROC-AUC on a fold of one class) over the folds that could, left out below two."""
    spread = {}
    for name in per_fold[0]:
        finite = [m[name] for m in per_fold if math.isfinite(m[name])]
        if len(finite) >= 2:
            spread[name] = float(np.std(finite, ddof=1))
    return spread
