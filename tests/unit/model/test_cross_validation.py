"""Small data chooses its rounds on k folds, and its validation metrics are out of fold."""

from __future__ import annotations

import numpy as np

from conveyor.model.cross_validation import CV_MAX_ROWS, cross_validate, cross_validates
from conveyor.types import Algorithm, Task


def test_only_lightgbm_on_small_data_cross_validates() -> None:
    assert cross_validates(Algorithm.LIGHTGBM, 500)
    assert not cross_validates(Algorithm.LIGHTGBM, CV_MAX_ROWS + 1)
    assert not cross_validates(Algorithm.SKLEARN, 500)


def test_out_of_fold_metrics_do_not_flatter_a_model_of_noise() -> None:
    # Labels unrelated to the features: a model scored on rows it learned from would look
    # good; scored out of fold it is a coin.
    rng = np.random.default_rng(0)
    x = rng.normal(size=(400, 5))
    y = rng.integers(0, 2, size=400).astype(np.float64)
    result = cross_validate(
        Task.BINARY, x, y, categorical_indices=[], n_classes=2, hyperparameters={}, seed=1
    )
    assert 0.35 < result.metrics["roc_auc"] < 0.65
    assert result.folds == 5 and set(result.spread) >= {"roc_auc", "accuracy"}


def test_a_class_too_rare_for_every_fold_still_trains() -> None:
    rng = np.random.default_rng(2)
    x = rng.normal(size=(300, 3))
    y = (x[:, 0] > 0).astype(np.float64)
    y[:2] = 2.0  # two rows of a third class: fewer than the folds
    result = cross_validate(
        Task.MULTICLASS, x, y, categorical_indices=[], n_classes=3, hyperparameters={}, seed=1
    )
    assert result.metrics["accuracy"] > 0.8
    assert result.model.predict_raw(x[:3]).shape == (3, 3)


def test_the_model_learns_every_row_with_the_folds_rounds_scaled_to_them() -> None:
    rng = np.random.default_rng(3)
    x = rng.normal(size=(500, 4))
    y = x[:, 0] * 3 + rng.normal(scale=0.3, size=500)
    result = cross_validate(
        Task.REGRESSION, x, y, categorical_indices=[], n_classes=0, hyperparameters={}, seed=1
    )
    assert result.model.booster.num_trees() == round(result.rounds * 500 / 400)
    assert result.metrics["r2"] > 0.9
    assert result.summary()["rounds"] == result.rounds
