"""k-nearest neighbours as a model family: scikit-learn's neighbours' predictions on the
encoder's matrix made comparable, its settings chosen by leave-one-out, a date counted once,
saved and loaded through the families' registry, one row as in a batch, and skipped where it
would serve slowly."""

from __future__ import annotations

import time
from datetime import datetime, timedelta
from pathlib import Path

import numpy as np
import polars as pl
import pytest
from sklearn.neighbors import KNeighborsClassifier, KNeighborsRegressor

from conveyor.model.encode import FeatureEncoder
from conveyor.model.ensemble import load_fitted
from conveyor.model.knn import MAX_CELLS, KnnModel, distance_inputs, unsuited
from conveyor.tabular.schema import DatasetSchema, FeatureKind, FeatureSpec
from conveyor.types import Algorithm, Task


def _rows(n: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """A number, a town (a missing one now and then), a number on another scale; the value
    is the town's level plus a wave: a lookup more than a trend."""
    rng = np.random.default_rng(seed)
    town = rng.integers(0, 5, n).astype(float)
    town[::20] = np.nan
    first = rng.normal(size=n)
    first[::17] = np.nan
    second = rng.uniform(0, 1000, n)
    x = np.column_stack([first, town, second])
    y = 20 * np.nan_to_num(town, nan=2) + 5 * np.sin(second / 50) + rng.normal(size=n)
    return x, y


@pytest.mark.parametrize("weights", ["uniform", "distance"])
def test_knn_predicts_as_scikit_learns_neighbours(weights: str) -> None:
    x, y = _rows(300, 0)
    x[7] = x[8]  # a training row twice: distance weighting takes exact matches alone
    classes = np.digitize(y, np.percentile(y, [33, 66]))
    held = np.vstack([x[250:], x[8:9]])
    for task, target, reference in (
        (Task.REGRESSION, y, KNeighborsRegressor),
        (Task.MULTICLASS, classes, KNeighborsClassifier),
    ):
        model = KnnModel.fit(
            task,
            x[:250],
            target[:250],
            categorical_indices=[1],
            n_classes=3,
            params={"n_neighbors": 6, "weights": weights},
            seed=0,
        )
        sklearn = reference(n_neighbors=6, weights=weights).fit(model.points, target[:250])
        scaled = model.inputs.matrix(held)
        expected = sklearn.predict(scaled) if task is Task.REGRESSION else (
            sklearn.predict_proba(scaled)
        )  # fmt: skip
        assert np.allclose(model.predict_raw(held), expected, atol=1e-12)


def test_knn_round_trips_and_predicts_one_row_as_in_a_batch(tmp_path: Path) -> None:
    x, y = _rows(600, 1)
    model = KnnModel.fit(
        Task.REGRESSION, x[:500], y[:500], categorical_indices=[1], n_classes=0, params={}, seed=0
    )
    # Chosen by leave-one-out: a few neighbours (the wave is narrow), weighted.
    assert model.hyperparameters["n_neighbors"] <= 12
    held = x[500:]
    rmse = np.sqrt(np.mean((model.predict_raw(held) - y[500:]) ** 2))
    assert rmse < 0.15 * np.std(y)
    model.save(tmp_path)
    loaded = load_fitted(tmp_path, Algorithm.KNN.value, Task.REGRESSION)
    batch = loaded.predict_raw(held)
    assert np.array_equal(batch, model.predict_raw(held))
    singles = np.concatenate([loaded.predict_raw(held[i : i + 1]) for i in range(10)])
    assert np.allclose(singles, batch[:10], atol=1e-12)
    # A town never seen (code 9) and missing numbers predict, not fail.
    assert np.isfinite(loaded.predict_raw(np.array([[np.nan, 9.0, np.nan]]))).all()


def test_a_date_counts_once_by_its_days() -> None:
    rng = np.random.default_rng(2)
    days = np.sort(rng.uniform(0, 3000, 400))
    weekday = rng.integers(0, 7, 400).astype(float)  # a calendar part, noise to a distance
    x = np.column_stack([weekday, days])
    y = np.sin(days / 100)
    fitted = {
        calendar: KnnModel.fit(
            Task.REGRESSION,
            x[::2],
            y[::2],
            categorical_indices=[],
            calendar_indices=calendar,
            n_classes=0,
            params={"n_neighbors": 2, "weights": "uniform"},
            seed=0,
        )
        for calendar in ((), (0,))
    }
    errors = {k: np.abs(m.predict_raw(x[1::2]) - y[1::2]).mean() for k, m in fitted.items()}
    assert errors[(0,)] < errors[()] / 3


def test_an_hourly_cycle_is_found_on_the_same_hour_of_other_days() -> None:
    # Hourly values whose day repeats a profile no hour's neighbour predicts (as hourly
    # temperatures' do, smoothly): the hour is the one calendar part a distance keeps.
    rng = np.random.default_rng(4)
    profile = rng.normal(scale=5, size=24)
    stamps = [datetime(2024, 1, 1) + timedelta(hours=h) for h in range(24 * 30)]
    frame = pl.DataFrame(
        {
            "when": stamps,
            "y": [profile[t.hour] + (t - stamps[0]).days / 10 for t in stamps],
        }
    )
    schema = DatasetSchema(
        target="y",
        task=Task.REGRESSION,
        classes=None,
        features=(FeatureSpec("when", FeatureKind.DATETIME),),
    )
    encoder = FeatureEncoder().fit(frame, schema)
    x, y = encoder.transform(frame), frame.get_column("y").to_numpy()
    held = np.arange(len(y)) % 5 == 0
    model = KnnModel.fit(
        Task.REGRESSION,
        x[~held],
        y[~held],
        categorical_indices=[],
        calendar_indices=encoder.calendar_indices_,
        n_classes=0,
        params={},
        seed=0,
    )
    # The day-to-day drift (0.1) is the error, not the profile's spread (5).
    assert np.abs(model.predict_raw(x[held]) - y[held]).mean() < 0.3


def test_a_classifier_keeps_a_column_for_a_class_its_rows_lack() -> None:
    x, y = _rows(200, 3)
    labels = np.where(y > np.median(y), 2, 0)  # class 1 of three has no row
    model = KnnModel.fit(
        Task.MULTICLASS, x, labels, categorical_indices=[1], n_classes=3, params={}, seed=0
    )
    raw = model.predict_raw(x[:5])
    assert raw.shape == (5, 3) and np.allclose(raw.sum(axis=1), 1.0) and not raw[:, 1].any()


def test_knn_is_skipped_where_it_would_serve_slowly() -> None:
    x, _ = _rows(100, 4)
    inputs = distance_inputs(x, [1], [])
    assert inputs == 2 + 6  # two numbers; five towns and missing
    assert unsuited(100, inputs) is None
    said = unsuited(MAX_CELLS // 8 + 1, 8)
    assert said is not None and said.startswith("skipped:") and f"{MAX_CELLS:,}" in said


def test_one_row_at_the_size_limit_stays_well_inside_a_millisecond() -> None:
    rng = np.random.default_rng(5)
    rows = 20_000
    numbers = MAX_CELLS // rows - 4  # and a category of three levels
    x = np.column_stack([rng.normal(size=(rows, numbers)), rng.integers(0, 3, rows)])
    assert distance_inputs(x, [numbers], []) * rows <= MAX_CELLS
    model = KnnModel.fit(
        Task.REGRESSION,
        x,
        rng.normal(size=rows),
        categorical_indices=[numbers],
        n_classes=0,
        params={"n_neighbors": 30, "weights": "distance"},
        seed=0,
    )
    took = []
    for i in range(200):
        began = time.perf_counter()
        model.predict_raw(x[i : i + 1])
        took.append(time.perf_counter() - began)
    # ~0.1-0.2 ms on a busy machine (random numbers: the tree's worst case).
    assert float(np.median(took)) < 1e-3


def test_a_refit_learns_every_row_and_keeps_what_the_project_fixed() -> None:
    x, y = _rows(400, 6)
    chosen = KnnModel.fit(
        Task.REGRESSION, x[:100], y[:100], categorical_indices=[1], n_classes=0, params={}, seed=0
    )
    refitted = chosen.refit(x, y)
    assert len(refitted.points) == 400
    # Rows it now holds have themselves among their neighbours.
    error = {m: np.abs(m.predict_raw(x[300:]) - y[300:]).mean() for m in (chosen, refitted)}
    assert error[refitted] < error[chosen] / 2
    fixed = KnnModel.fit(
        Task.REGRESSION,
        x[:100],
        y[:100],
        categorical_indices=[1],
        n_classes=0,
        params={"n_neighbors": 7, "weights": "uniform"},
        seed=0,
    ).refit(x, y)
    assert fixed.hyperparameters == {"n_neighbors": 7, "weights": "uniform"}
