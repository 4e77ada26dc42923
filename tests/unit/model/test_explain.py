"""Contributions add up to the raw score: LightGBM's TreeSHAP, CatBoost's SHAP values, scikit-
learn's HistGradientBoosting through shap, the linear model's terms, a regression ensemble's
weighted sum, a blend of classifiers' in probability (each member's carried through its link);
a HistGradientBoosting model with categorical splits is refused naming why."""

from __future__ import annotations

import numpy as np
import pytest
from threadpoolctl import threadpool_limits

from conveyor.errors import InvalidInput
from conveyor.model.catboost_model import CatBoostModel
from conveyor.model.ensemble import ENSEMBLE, EnsembleModel
from conveyor.model.estimators import LightGbmModel, SklearnModel
from conveyor.model.explain import Explainable, refusal
from conveyor.model.knn import KnnModel
from conveyor.model.linear import LinearModel
from conveyor.types import Task

ROWS = 300
TASKS = [Task.REGRESSION, Task.BINARY, Task.MULTICLASS]


def _data(task: Task) -> tuple[np.ndarray, np.ndarray, int]:
    rng = np.random.default_rng(7)
    number, other = rng.normal(size=ROWS), rng.normal(size=ROWS)
    code = rng.integers(0, 4, ROWS).astype(float)
    x = np.column_stack([number, code, other])
    x[::11, 0] = np.nan
    x[::13, 1] = np.nan
    signal = number + (code == 2) - 0.5 * other
    if task is Task.REGRESSION:
        return x, np.nan_to_num(signal), 0
    if task is Task.BINARY:
        return x, (np.nan_to_num(signal) > 0.3).astype(int), 2
    return x, np.digitize(np.nan_to_num(signal), [-0.5, 0.8]), 3


def _scores(task: Task, raw: np.ndarray) -> np.ndarray:
    """The raw scores (value, log-odds, log-probabilities up to a constant) of predict_raw."""
    if task is Task.REGRESSION:
        return raw.reshape(-1, 1)
    if task is Task.BINARY:
        return np.log(raw[:, 1:] / raw[:, :1])
    return np.log(raw)


def _check_sums(task: Task, model: Explainable, x: np.ndarray) -> None:
    contributions = model.contributions(x)
    assert contributions.shape == (len(x), 3 if task is Task.MULTICLASS else 1, x.shape[1] + 1)
    summed = contributions.sum(axis=2)
    expected = _scores(task, model.predict_raw(x))  # type: ignore[attr-defined]
    if task is Task.MULTICLASS:  # the softmax drops a constant per row
        summed = summed - summed.mean(axis=1, keepdims=True)
        expected = expected - expected.mean(axis=1, keepdims=True)
    assert np.allclose(summed, expected, atol=1e-6), task
    one = model.contributions(x[:1])
    assert np.allclose(one, contributions[:1])


def _lightgbm(task: Task) -> LightGbmModel:
    x, y, classes = _data(task)
    params = {"num_boost_round": 30, "early_stopping_rounds": 5, "min_data_in_leaf": 5}
    params["num_threads"] = 1  # a busy machine: OpenMP's team costs more than the trees
    return LightGbmModel.fit(
        task, x, y, x, y, categorical_indices=[1], n_classes=classes, params=params, seed=0
    )


def _linear(task: Task) -> LinearModel:
    x, y, classes = _data(task)
    return LinearModel.fit(
        task, x, y, categorical_indices=[1], n_classes=classes, params={}, seed=0
    )


@pytest.mark.parametrize("task", TASKS, ids=lambda t: t.value)
def test_lightgbm_and_linear_contributions_sum_to_the_raw_score(task: Task) -> None:
    x = _data(task)[0]
    unseen = np.array([[0.2, 9.0, np.nan], [np.nan, np.nan, 3.0]])  # a code past the fit's
    for model in (_lightgbm(task), _linear(task)):
        _check_sums(task, model, np.vstack([x, unseen]))


def test_a_linear_number_at_its_mean_or_missing_contributes_nothing() -> None:
    model = _linear(Task.REGRESSION)
    rows = np.array([[model.mean[0], np.nan, model.mean[1]], [np.nan, np.nan, np.nan]])
    contributions = model.contributions(rows)
    assert np.allclose(contributions[:, 0, :3], 0.0)
    assert np.allclose(contributions[:, 0, 3], model.predict_raw(rows[1:])[0])


def test_a_regression_ensemble_is_its_members_weighted_sum() -> None:
    x = _data(Task.REGRESSION)[0]
    blend = EnsembleModel(
        [_lightgbm(Task.REGRESSION), _linear(Task.REGRESSION)], ["lightgbm", "linear"], [0.7, 0.3]
    )
    assert refusal(blend, ENSEMBLE) is None
    _check_sums(Task.REGRESSION, blend, x)
    assert "linear_terms" in blend.explanation_method


def _catboost(task: Task, x: np.ndarray | None = None) -> CatBoostModel:
    data, y, classes = _data(task)
    x = data if x is None else x
    params = {"iterations": 30, "depth": 4, "early_stopping_rounds": 5}
    return CatBoostModel.fit(
        task, x, y, x, y, categorical_indices=[1], n_classes=classes, params=params, seed=0
    )


@pytest.mark.parametrize("task", TASKS, ids=lambda t: t.value)
def test_catboost_shap_values_sum_to_its_raw_formula_value(task: Task) -> None:
    x = _data(task)[0]
    model = _catboost(task)
    assert refusal(model, "catboost") is None
    rows = np.vstack([x, [[0.2, 9.0, np.nan], [np.nan, np.nan, 3.0]]])  # an unseen category
    _check_sums(task, model, rows)
    # CatBoost's own raw score, not only the probabilities' log-ratio.
    raw = np.asarray(model.model.predict(model._pool(rows), prediction_type="RawFormulaVal"))
    summed = model.contributions(rows).sum(axis=2)
    assert np.abs(summed - raw.reshape(len(rows), -1)).max() < 1e-9


def test_catboost_contributions_are_in_the_encoders_column_order() -> None:
    # The pool puts the category (column 1) last: a column CatBoost never splits on (a
    # constant third one) must keep a zero where the encoder has it, not the category's values.
    x = _data(Task.REGRESSION)[0].copy()
    x[:, 2] = 0.0
    contributions = _catboost(Task.REGRESSION, x).contributions(x)
    assert np.all(contributions[:, 0, 2] == 0.0)
    assert np.abs(contributions[:, 0, 1]).max() > 0.1 and np.abs(contributions[:, 0, 0]).max() > 0.1


def _hist(task: Task, categorical: list[int]) -> SklearnModel:
    x, y, _ = _data(task)
    params = {"max_iter": 20, "early_stopping_rounds": 5}
    with threadpool_limits(1):  # a busy machine: OpenMP's spinning made the fit 3 s, not 0.1
        return SklearnModel.fit(
            task, x, y, x, y, categorical_indices=categorical, params=params, seed=0
        )


@pytest.mark.parametrize("task", TASKS, ids=lambda t: t.value)
def test_hist_gradient_boosting_tree_shap_sums_to_its_raw_score(task: Task) -> None:
    x = _data(task)[0]
    model = _hist(task, [])  # the code column taken as a number: thresholds only
    assert refusal(model, "sklearn") is None
    _check_sums(task, model, np.vstack([x, [[0.2, 9.0, np.nan], [np.nan, np.nan, 3.0]]]))
    raw = model.estimator._raw_predict(x)  # scikit-learn's own score before the link
    assert np.abs(model.contributions(x).sum(axis=2) - raw).max() < 1e-9


def test_categorical_hist_gradient_boosting_is_refused() -> None:
    refused = refusal(_hist(Task.BINARY, [1]), "sklearn")
    assert isinstance(refused, InvalidInput) and refused.field == "explain"
    assert "reads its categorical splits as thresholds" in refused.message
    assert "--algorithm lightgbm" in refused.message


@pytest.mark.parametrize("task", [Task.BINARY, Task.MULTICLASS], ids=lambda t: t.value)
def test_a_blend_of_classifiers_contributions_sum_to_its_probability(task: Task) -> None:
    x = _data(task)[0]
    rows = np.vstack([x, [[0.2, 9.0, np.nan], [np.nan, np.nan, 3.0], [40.0, 2.0, -40.0]]])
    members = [_lightgbm(task), _linear(task), _catboost(task)]
    blend = EnsembleModel(members, ["lightgbm", "linear", "catboost"], [0.5, 0.3, 0.2])
    assert refusal(blend, ENSEMBLE) is None and blend.explanation_space == "probability"
    contributions = blend.contributions(rows)
    assert contributions.shape == (len(rows), 1 if task is Task.BINARY else 3, 4)
    proba = blend.predict_raw(rows)
    expected = proba[:, 1:] if task is Task.BINARY else proba
    assert np.abs(contributions.sum(axis=2) - expected).max() < 1e-9
    # The base value is the blend of the members' probabilities at their base scores: the
    # same for every row.
    assert np.ptp(contributions[:, :, -1], axis=0).max() < 1e-12
    assert np.allclose(blend.contributions(rows[:1]), contributions[:1])


def test_a_binary_members_share_keeps_the_sign_of_its_log_odds_contribution() -> None:
    x = _data(Task.BINARY)[0]
    member = _lightgbm(Task.BINARY)
    log_odds = member.contributions(x)[:, 0, :-1]
    shares = EnsembleModel([member], ["lightgbm"], [1.0]).contributions(x)[:, 0, :-1]
    assert np.array_equal(np.sign(shares), np.sign(log_odds))


def test_neighbours_and_an_ensemble_holding_them_are_refused_naming_them() -> None:
    x, y, _ = _data(Task.REGRESSION)
    knn = KnnModel.fit(
        Task.REGRESSION, x, y, categorical_indices=[1], n_classes=0, params={}, seed=0
    )
    refused = refusal(knn, "knn")
    assert refused is not None and "(knn) has no exact per-column" in refused.message
    blend = EnsembleModel([_linear(Task.REGRESSION), knn], ["linear", "knn"], [0.5, 0.5])
    refused = refusal(blend, ENSEMBLE)
    assert refused is not None and "its member knn has no exact" in refused.message
    with pytest.raises(InvalidInput, match="member knn"):
        blend.contributions(x[:2])
