"""A saved LightGBM model loaded through the C library predicts what lightgbm.Booster does,
and loading it imports neither lightgbm nor scikit-learn."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import lightgbm as lgb
import numpy as np
import pytest

from conveyor.model.estimators import LightGbmModel
from conveyor.types import Task

_OBJECTIVES = {
    Task.BINARY: {"objective": "binary"},
    Task.MULTICLASS: {"objective": "multiclass", "num_class": 3},
    Task.REGRESSION: {"objective": "regression"},
}


def _saved(folder: Path, task: Task) -> np.ndarray:
    rng = np.random.default_rng(7)
    x = rng.normal(size=(300, 4))
    x[rng.random(x.shape) < 0.1] = np.nan  # missing values take the trees' default branch
    y = (x[:, 0] > 0).astype(float) + (x[:, 1] > 1) if task is Task.MULTICLASS else x[:, 0] > 0
    params = {**_OBJECTIVES[task], "verbose": -1, "num_threads": 1}
    booster = lgb.train(params, lgb.Dataset(x, np.asarray(y, dtype=float)), num_boost_round=15)
    booster.save_model(str(folder / "model.txt"))
    return x


@pytest.mark.parametrize("task", list(_OBJECTIVES), ids=lambda t: t.value)
def test_the_c_library_predicts_what_lightgbm_predicts(tmp_path: Path, task: Task) -> None:
    x = _saved(tmp_path, task)
    loaded = LightGbmModel.load(tmp_path, task)
    reference = LightGbmModel(lgb.Booster(model_file=str(tmp_path / "model.txt")), task)

    np.testing.assert_array_equal(loaded.predict_raw(x), reference.predict_raw(x))
    np.testing.assert_array_equal(loaded.predict_raw(x[:1]), reference.predict_raw(x[:1]))
    np.testing.assert_array_equal(loaded.predict_raw(x[:5]), reference.predict_raw(x[:5]))
    assert loaded.best_iteration == reference.best_iteration
    for rows in (x[:1], x):
        np.testing.assert_array_equal(
            loaded.booster.predict(rows, pred_contrib=True, num_threads=1),
            reference.booster.predict(rows, pred_contrib=True, num_threads=1),
        )
    np.testing.assert_array_equal(
        loaded.booster.predict(x, raw_score=True), reference.booster.predict(x, raw_score=True)
    )
    # What it does not do itself, lightgbm's own booster does.
    np.testing.assert_array_equal(
        loaded.booster.feature_importance(), reference.booster.feature_importance()
    )


def test_loading_and_predicting_imports_neither_lightgbm_nor_scikit_learn(tmp_path: Path) -> None:
    _saved(tmp_path, Task.BINARY)
    code = (
        "import sys, numpy as np\n"
        "from conveyor.model.estimators import LightGbmModel\n"
        "from conveyor.types import Task\n"
        f"model = LightGbmModel.load(__import__('pathlib').Path({str(tmp_path)!r}), Task.BINARY)\n"
        "model.predict_raw(np.zeros((3, 4)))\n"
        "print(sorted(m for m in ('lightgbm', 'sklearn', 'scipy') if m in sys.modules))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


def test_a_matrix_of_the_wrong_width_is_refused_with_lightgbms_message(tmp_path: Path) -> None:
    _saved(tmp_path, Task.REGRESSION)
    loaded = LightGbmModel.load(tmp_path, Task.REGRESSION)

    with pytest.raises(RuntimeError, match="number of features"):
        loaded.booster.predict(np.zeros((2, 5)))
