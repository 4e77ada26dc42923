"""CatBoost as a model family: fitted on the encoder's matrix (categories as float codes,
NaN missing), saved, loaded through the families' registry, one row as in a batch."""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from conveyor.model.catboost_model import CatBoostModel
from conveyor.model.ensemble import load_fitted
from conveyor.model.metrics import compute_metrics
from conveyor.types import Algorithm, Task


def _rows(n: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    town = rng.integers(0, 6, n).astype(float)
    town[::25] = np.nan  # missing category
    number = rng.normal(size=n)
    x = np.column_stack([number, town, rng.normal(size=n)])
    # The category carries most of the signal, in no order of its codes.
    effect = np.array([1.5, -1.0, 0.8, -1.6, 0.2, 1.1])[np.nan_to_num(town, nan=4).astype(int)]
    y = (effect + 0.5 * number + rng.normal(scale=0.7, size=n) > 0).astype(np.int64)
    return x, y


def test_catboost_fits_round_trips_and_predicts_one_row_as_in_a_batch(tmp_path: Path) -> None:
    x, y = _rows(600, 0)
    model = CatBoostModel.fit(
        Task.BINARY,
        x[:400],
        y[:400],
        x[400:500],
        y[400:500],
        categorical_indices=[1],
        n_classes=2,
        params={"iterations": 150, "learning_rate": 0.1, "depth": 4},
        seed=0,
    )
    held = x[500:]
    assert compute_metrics(Task.BINARY, y[500:], model.predict_raw(held), 2)["roc_auc"] > 0.8
    model.save(tmp_path)
    loaded = load_fitted(tmp_path, Algorithm.CATBOOST.value, Task.BINARY)
    batch = loaded.predict_raw(held)
    assert batch.shape == (100, 2) and np.allclose(batch, model.predict_raw(held), atol=1e-12)
    singles = np.vstack([loaded.predict_raw(held[i : i + 1]) for i in range(10)])
    assert np.allclose(singles, batch[:10], atol=1e-12)
    # A category never seen in training (code 9) and a missing number predict, not fail.
    odd = np.array([[np.nan, 9.0, 0.0]])
    assert np.isclose(loaded.predict_raw(odd).sum(), 1.0)
    took = []
    for _ in range(50):
        began = time.perf_counter()
        loaded.predict_raw(held[:1])
        took.append(time.perf_counter() - began)
    # ~0.25-0.45 ms on a busy machine (CatBoost's predict call); a frame built per row or a
    # thread pool woken for it would be many times that.
    assert float(np.median(took)) < 5e-3
    # A full fit's model learns from every row (as LightGBM's refit): the test split's too.
    refitted = model.refit(x, y)
    assert refitted.best_iteration == round(model.best_iteration * 600 / 400)
    assert np.allclose(refitted.predict_raw(held[:5]).sum(axis=1), 1.0)
    with pytest.raises(ValueError, match="fitted in this process"):
        loaded.refit(x, y)  # type: ignore[attr-defined]
    # A server loading it (a fresh interpreter) predicts without importing pandas, which was
    # most of catboost's import on a cold start.
    script = (
        "import sys, numpy as np\n"
        "from conveyor.model.ensemble import load_fitted\n"
        f"m = load_fitted(__import__('pathlib').Path({str(tmp_path)!r}), 'catboost', "
        "__import__('conveyor.types').types.Task.BINARY)\n"
        "p = m.predict_raw(np.array([[0.1, 2.0, -0.3]]))\n"
        "print(round(float(p.sum()), 6), 'pandas' in sys.modules)\n"
    )
    shown = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True)
    assert shown.stdout.split() == ["1.0", "False"], shown.stderr


def test_a_multiclass_catboost_keeps_a_column_for_a_class_its_rows_lack() -> None:
    x, y = _rows(300, 1)
    y = y * 2  # classes 0 and 2 of three: class 1 has no row
    model = CatBoostModel.fit(
        Task.MULTICLASS,
        x[:200],
        y[:200],
        x[200:],
        y[200:],
        categorical_indices=[1],
        n_classes=3,
        params={"iterations": 30, "depth": 3},
        seed=0,
    )
    raw = model.predict_raw(x[:5])
    assert raw.shape == (5, 3) and np.allclose(raw.sum(axis=1), 1.0)
