"""The one-row fast path answers exactly as LightGBM's own Booster.predict, for every task."""

from __future__ import annotations

import numpy as np
import pytest

from conveyor.model.estimators import fit_model
from conveyor.types import Algorithm, Task

PARAMS = {"num_boost_round": 30, "early_stopping_rounds": 1000, "min_data_in_leaf": 5}


def fitted(task: Task, n_classes: int):  # type: ignore[no-untyped-def]
    rng = np.random.default_rng(3)
    x = rng.normal(size=(400, 6))
    x[rng.random(x.shape) < 0.1] = np.nan
    signal = np.nan_to_num(x[:, 0] + x[:, 1] * x[:, 2])
    if task is Task.REGRESSION:
        y = signal
    else:
        y = np.digitize(signal, np.quantile(signal, np.linspace(0, 1, n_classes + 1)[1:-1]))
    model = fit_model(
        Algorithm.LIGHTGBM,
        task,
        x[:300],
        y[:300].astype(float),
        x[300:],
        y[300:].astype(float),
        categorical_indices=[],
        n_classes=n_classes,
        hyperparameters=PARAMS,
        seed=1,
    )
    return model, x


@pytest.mark.parametrize(
    ("task", "n_classes"), [(Task.BINARY, 2), (Task.MULTICLASS, 3), (Task.REGRESSION, 0)]
)
def test_one_row_equals_the_batch_answer(task: Task, n_classes: int) -> None:
    model, x = fitted(task, n_classes)
    batch = model.predict_raw(x[:50])
    for i in range(50):
        one = model.predict_raw(x[i : i + 1])
        assert one.shape == batch[i : i + 1].shape
        np.testing.assert_allclose(one, batch[i : i + 1], rtol=0, atol=1e-12)


def test_a_row_of_the_wrong_width_is_refused_not_read_past_its_end() -> None:
    model, x = fitted(Task.BINARY, 2)
    with pytest.raises(ValueError, match="expected 6 features, got 5"):
        model._single_row().predict(x[0, :5])
