"""Extremely randomised trees served as LightGBM: the same predictions as scikit-learn's
forest, one row as in a batch, after a round trip, with exact contributions."""

from __future__ import annotations

import time
from pathlib import Path

import numpy as np
from sklearn.ensemble import ExtraTreesClassifier, ExtraTreesRegressor

from conveyor.model.candidates import Data
from conveyor.model.ensemble import load_fitted
from conveyor.model.forest import ForestModel
from conveyor.model.search import search
from conveyor.types import Algorithm, Preset, Task


def _rows(n: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(n, 4))
    x[::7, 2] = np.nan  # missing values go where scikit-learn's trees send them
    x[:, 3] = np.round(x[:, 3], 1)  # ties, and values float32 cannot hold exactly
    return x, x[:, 0] + np.sin(2 * x[:, 1]) + rng.normal(scale=0.3, size=n)


def test_a_forest_serves_scikit_learns_predictions_through_lightgbm(tmp_path: Path) -> None:
    x, y = _rows(700, 0)
    model = ForestModel.grow(Task.REGRESSION, x[:500], y[:500], n_classes=0, params={}, seed=3)
    same = ExtraTreesRegressor(n_estimators=100, max_features=1.0, random_state=3, n_jobs=1)
    expected = same.fit(x[:500].astype(np.float32), y[:500]).predict(x[500:])
    assert np.array_equal(model.predict_raw(x[500:]), expected)
    model.save(tmp_path)
    loaded = load_fitted(tmp_path, Algorithm.FOREST.value, Task.REGRESSION)
    # The saved model is LightGBM's form: a batch and one row at a time, as scikit-learn's.
    assert np.array_equal(loaded.predict_raw(x[500:]), expected)
    singles = np.concatenate([loaded.predict_raw(x[i : i + 1]) for i in range(500, 540)])
    assert np.array_equal(singles, expected[:40])
    # Contributions add up to the prediction: TreeSHAP over the averaged trees.
    explained = loaded.contributions(x[500:510])  # type: ignore[attr-defined]
    assert np.allclose(explained.sum(axis=2)[:, 0], expected[:10], atol=1e-9)
    took = []
    for i in range(50):
        began = time.thread_time()
        loaded.predict_raw(x[500 + i : 501 + i])
        took.append(time.thread_time() - began)
    # scikit-learn's own predict of one row of 100 trees takes ~14 ms; LightGBM's ~0.02.
    assert float(np.median(took)) < 1e-3


def test_a_forest_classifier_gives_every_class_a_column_and_refits() -> None:
    x, _ = _rows(600, 1)
    y = (x[:, 0] > 0).astype(np.int64) + (x[:, 1] > 1)  # class 2 is rare
    # A fold without the rare class still answers three columns, the missing one 0.
    common = y[:400] < 2
    model = ForestModel.grow(
        Task.MULTICLASS, x[:400][common], y[:400][common], n_classes=3, params={}, seed=0
    )
    proba = model.predict_raw(x[400:])
    same = ExtraTreesClassifier(n_estimators=100, max_features=1.0, random_state=0, n_jobs=1)
    same.fit(x[:400][common].astype(np.float32), y[:400][common])
    assert proba.shape == (200, 3) and np.all(proba[:, 2] == 0)
    assert np.allclose(proba[:, :2], same.predict_proba(x[400:]), atol=1e-12)
    # Each class's contributions add up to its probability (not log-odds).
    explained = model.contributions(x[400:405])
    assert model.explanation_space == "probability"
    assert np.allclose(explained.sum(axis=2), proba[:5], atol=1e-9)
    refitted = model.refit(x[:400], y[:400])
    assert refitted.predict_raw(x[400:]).shape == (200, 3)
    assert refitted.predict_raw(x[400:])[:, 2].max() > 0  # it saw the rare class this time


def test_the_search_scores_a_forest_and_skips_it_on_large_data() -> None:
    x, y = _rows(300, 2)
    data = Data(Task.REGRESSION, x, y, None, None, [], 0, 3)
    searched = search(
        data, preset=Preset.BALANCED, budget=3.0, budget_source="set", metric="rmse",
        algorithm=Algorithm.LIGHTGBM, user_params={}, started=time.monotonic(),
    )  # fmt: skip
    row = next(r for r in searched.summary["leaderboard"] if r["algorithm"] == "forest")
    assert row["status"] == "ok" and row["score"] is not None and row["one_row_ms"] < 0.5
    from conveyor.model.forest import MAX_ROWS, unsuited

    assert unsuited(MAX_ROWS) is None
    assert (unsuited(MAX_ROWS + 1) or "").startswith("skipped: 3,001 rows")
