"""The linear model: what it saves it predicts again, one row as in a batch."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from conveyor.model.linear import LinearModel
from conveyor.types import Task


def three_classes(rows: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    number = rng.normal(size=rows)
    code = rng.integers(0, 3, rows).astype(float)
    x = np.column_stack([number, code])
    x[::17, 0] = np.nan
    x[::13, 1] = np.nan
    return x, ((number > 0.5).astype(int) + (code == 2)).clip(0, 2)


def test_a_saved_linear_model_predicts_what_it_did(tmp_path: Path) -> None:
    x, y = three_classes(400, 1)
    model = LinearModel.fit(
        Task.MULTICLASS, x, y, categorical_indices=[1], n_classes=3, params={}, seed=0
    )
    model.save(tmp_path)
    loaded = LinearModel.load(tmp_path, Task.MULTICLASS)
    unseen = np.array([[0.3, 7.0], [np.nan, np.nan]])  # a code past the fit's, and missing
    for rows in (x, unseen, x[:1]):
        assert np.array_equal(loaded.predict_raw(rows), model.predict_raw(rows))
    probabilities = model.predict_raw(x)
    assert probabilities.shape == (400, 3) and np.allclose(probabilities.sum(axis=1), 1)
    assert (probabilities.argmax(axis=1) == y).mean() > 0.8


def test_a_class_the_training_rows_lack_gets_no_probability() -> None:
    x, y = three_classes(300, 2)
    y = np.where(y == 2, 0, y)
    model = LinearModel.fit(
        Task.MULTICLASS, x, y, categorical_indices=[1], n_classes=3, params={}, seed=0
    )
    assert model.predict_raw(x)[:, 2].max() < 1e-12


def test_one_row_is_predicted_as_in_a_batch_even_far_out() -> None:
    rng = np.random.default_rng(4)
    x = np.column_stack([rng.normal(size=300), rng.integers(0, 2, 300).astype(float)])
    y = (x[:, 0] + x[:, 1] > 0.5).astype(int)
    model = LinearModel.fit(
        Task.BINARY, x, y, categorical_indices=[1], n_classes=2, params={}, seed=0
    )
    rows = np.vstack([x[:20], [[1e6, 1.0], [-1e6, 0.0], [np.nan, np.nan]]])
    batch = model.predict_raw(rows)
    singles = np.vstack([model.predict_raw(rows[i : i + 1]) for i in range(len(rows))])
    assert np.allclose(batch, singles, rtol=1e-12, atol=1e-15)
    assert batch[-3].tolist() == [0.0, 1.0] and batch[-2].tolist() == [1.0, 0.0]


def test_a_regression_extrapolates_a_trend_but_not_without_bound(tmp_path: Path) -> None:
    rng = np.random.default_rng(5)
    x = rng.uniform(0, 6, size=(300, 1))
    y = 1000 * x[:, 0] + rng.normal(scale=10, size=300)  # targets about 0-6,000
    model = LinearModel.fit(
        Task.REGRESSION, x, y, categorical_indices=[], n_classes=0, params={}, seed=0
    )
    model.save(tmp_path)
    loaded = LinearModel.load(tmp_path, Task.REGRESSION)
    near, far = np.array([[9.0]]), np.array([[31.8]])  # a typo'd 3.18 is far out
    assert loaded.predict_raw(near)[0] > 8500  # past the trees' reach: the trend goes on
    ceiling = y.max() + (y.max() - y.min())
    assert loaded.predict_raw(far)[0] == model.predict_raw(np.vstack([far, near]))[0]
    assert loaded.predict_raw(far)[0] <= ceiling + 1e-6
    # Its explanation still adds up to what it predicts, the cut in the base value.
    terms = loaded.contributions(np.vstack([far, near]))
    assert np.allclose(terms.sum(axis=2)[:, 0], loaded.predict_raw(np.vstack([far, near])))
