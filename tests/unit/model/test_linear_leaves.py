"""A LightGBM model with linear leaves (the search's ``linear_tree``) saved and loaded as the
server and the SageMaker container load it answers as the model that was fitted, one row and
many; its explanation is refused naming why, alone or as an ensemble's member; and the search
fits such trees first."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import optuna

from conveyor.model import tuning
from conveyor.model.ensemble import ENSEMBLE, EnsembleModel
from conveyor.model.estimators import LightGbmModel, fit_model
from conveyor.model.explain import refusal
from conveyor.model.lightgbm_c import CBooster
from conveyor.types import Algorithm, Task


def _fitted(linear: bool) -> tuple[LightGbmModel, np.ndarray]:
    rng = np.random.default_rng(5)
    x = rng.uniform(0, 10, size=(300, 3))
    x[::9, 1] = np.nan
    y = 2.0 * x[:, 0] + np.sin(x[:, 2])  # a slope: linear leaves follow it
    params = {"num_boost_round": 20, "early_stopping_rounds": 100, "learning_rate": 0.3}
    params["num_threads"] = 1  # a busy machine: OpenMP's team costs more than the trees
    model = fit_model(
        Algorithm.LIGHTGBM,
        Task.REGRESSION,
        x[:240],
        y[:240],
        x[240:],
        y[240:],
        categorical_indices=[],
        n_classes=0,
        hyperparameters={**params, "linear_tree": linear, "linear_lambda": 1.0},
        seed=1,
    )
    assert isinstance(model, LightGbmModel)
    return model, x


def test_linear_leaves_serve_the_fitted_answers_and_refuse_explanations(tmp_path: Path) -> None:
    fitted, x = _fitted(linear=True)
    fitted.save(tmp_path)
    served = LightGbmModel.load(tmp_path, Task.REGRESSION)
    assert isinstance(served.booster, CBooster)  # the server's and the container's loader
    expected = fitted.predict_raw(x)
    np.testing.assert_allclose(served.predict_raw(x), expected, rtol=0, atol=1e-12)
    for i in (0, 9, 100):  # one row goes through LightGBM's fast single-row path
        np.testing.assert_allclose(
            served.predict_raw(x[i : i + 1]), expected[i : i + 1], atol=1e-12
        )
    # The leaves are lines, which follow the slope closer than steps do.
    truth = 2.0 * x[:, 0] + np.sin(x[:, 2])
    steps = _fitted(linear=False)[0].predict_raw(x)
    assert np.abs(expected - truth).mean() < 0.8 * np.abs(steps - truth).mean()

    for model in (fitted, served):
        refused = refusal(model, "lightgbm")
        assert refused is not None and refused.field == "explain"
        assert "linear leaves" in refused.message and "--preset fast" in refused.message
    blend = EnsembleModel([_fitted(linear=False)[0], served], ["lightgbm", "lightgbm"], [0.5, 0.5])
    refused = refusal(blend, ENSEMBLE)
    assert refused is not None and "its member lightgbm: its trees have linear" in refused.message
    assert refusal(_fitted(linear=False)[0], "lightgbm") is None


def test_the_search_fits_linear_leaves_and_random_splits_first_then_tunes_them() -> None:
    points = tuning.hand_picked(categorical=False, given={})
    assert list(points) == ["linear", "extra-trees", "linear-extra-trees"]  # lightgbm-<name>
    assert points["linear"]["linear_tree"] and points["linear"]["linear_lambda"] == 10.0
    assert points["extra-trees"]["extra_trees"] and not points["extra-trees"]["linear_tree"]
    assert points["linear"]["num_leaves"] == 31  # the defaults but the change
    # TPE tunes them too, a linear leaves' penalty only when its trees are linear.
    study = optuna.create_study(sampler=optuna.samplers.RandomSampler(seed=0))
    tuned = tuning.space(categorical=True)
    tried = [tuning.suggest(study.ask(), tuned, {}) for _ in range(12)]
    assert {t["linear_tree"] for t in tried} == {False, True}
    assert all(("linear_lambda" in t) == t["linear_tree"] for t in tried)
    assert all(4 <= t["max_cat_to_onehot"] <= 64 for t in tried)
    # What a project set itself is neither tuned nor varied.
    points = tuning.hand_picked(categorical=False, given={"linear_tree": False})
    assert list(points) == ["extra-trees"] and "linear_tree" not in points["extra-trees"]
    assert "linear_tree" not in tuning.suggest(study.ask(), tuned, {"linear_tree": True})
