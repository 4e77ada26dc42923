"""Greedy ensemble selection on known predictions, and the ensemble model that serves it."""

from __future__ import annotations

import time
from pathlib import Path

import numpy as np
import pytest

from conveyor.model.candidates import Data, Scored, Scorer
from conveyor.model.ensemble import EnsembleModel, blend, improves, load_fitted, select
from conveyor.model.estimators import LightGbmModel
from conveyor.model.linear import LinearModel
from conveyor.model.metrics import metric_value
from conveyor.types import Algorithm, Task


def test_two_independent_errors_are_averaged_and_a_poor_candidate_is_little_weight() -> None:
    rng = np.random.default_rng(0)
    y = rng.normal(size=2000)
    good_a, good_b = y + rng.normal(size=2000), y + rng.normal(size=2000)
    poor = y + rng.normal(scale=3.0, size=2000)
    chosen = select([good_a, poor, good_b], y, task=Task.REGRESSION, metric="rmse", n_classes=0)
    # Inverse-variance weights would be 1 : 1 : 1/9: the poor one gets little or none.
    assert chosen.weights[1] <= 0.08 and chosen.weights[0] > 0.35 and chosen.weights[2] > 0.35
    assert abs(chosen.weights[0] - 0.5) < 0.15 and abs(chosen.weights.sum() - 1) < 1e-12
    # Independent errors of 1 average to about 1/sqrt(2).
    assert chosen.score < 0.8 < chosen.single
    assert improves("rmse", chosen.score, chosen.single)


def test_a_candidate_that_only_adds_noise_gets_no_weight() -> None:
    rng = np.random.default_rng(1)
    y = rng.normal(size=2000)
    best = y + rng.normal(scale=0.1, size=2000)
    chosen = select(
        [y + rng.normal(scale=2.0, size=2000), best],
        y,
        task=Task.REGRESSION,
        metric="rmse",
        n_classes=0,
    )
    assert chosen.members == [1] and chosen.score == pytest.approx(chosen.single)
    assert not improves("rmse", chosen.score, chosen.single)


def test_classifiers_are_blended_on_their_probabilities_for_a_greater_is_better_metric() -> None:
    rng = np.random.default_rng(2)
    y = rng.integers(0, 2, 3000)
    signal = y + rng.normal(scale=1.2, size=(2, 3000))
    a, b = (1 / (1 + np.exp(-(s - 0.5) * 2)) for s in signal)
    probabilities = [np.column_stack([1 - p, p]) for p in (a, b)]
    chosen = select(probabilities, y, task=Task.BINARY, metric="roc_auc", n_classes=2)
    assert chosen.members == [0, 1] and chosen.score > chosen.single
    blended = sum(w * p for w, p in zip(chosen.weights, probabilities, strict=True))
    assert metric_value(Task.BINARY, "roc_auc", y, blended, 2) == chosen.score
    assert improves("roc_auc", chosen.score, chosen.single, margin=0.001)
    assert not improves("roc_auc", chosen.score, chosen.single, margin=0.5)


def _validation_rows(
    y: np.ndarray, predictions: list[np.ndarray], families: list[Algorithm] | None = None
) -> tuple[list[Scored], Data]:
    """Leaderboard rows scored on a validation split of targets ``y``."""
    kinds = families or [Algorithm.LIGHTGBM] * len(predictions)
    rows = [
        Scored(f"c{i}", kind, {}, {}, 0.0, None, predictions=p)
        for i, (kind, p) in enumerate(zip(kinds, predictions, strict=True))
    ]
    task = Task.REGRESSION if predictions[0].ndim == 1 else Task.BINARY
    n_classes = 0 if task is Task.REGRESSION else 2
    data = Data(task, np.zeros((1, 1)), np.zeros(1), np.zeros((len(y), 1)), y, [], n_classes, 0)
    return rows, data


def test_a_blend_that_only_fits_its_own_rows_noise_does_not_win() -> None:
    rng = np.random.default_rng(0)
    y = rng.integers(0, 2, 200)
    good = 1 / (1 + np.exp(-(y - 0.5) - rng.normal(size=200)))
    # Scores that know nothing of y: any gain from them is chance on these rows.
    noise = [rng.random(200) for _ in range(8)]
    probabilities = [np.column_stack([1 - p, p]) for p in (good, *noise)]
    in_sample = select(probabilities, y, task=Task.BINARY, metric="roc_auc", n_classes=2)
    assert len(in_sample.members) > 1
    assert improves("roc_auc", in_sample.score, in_sample.single)  # what used to be taken
    rows, data = _validation_rows(y, probabilities)
    found = blend(rows, data, "roc_auc", folds=None)
    assert found is not None and not found.wins
    assert found.metrics["roc_auc"] < in_sample.score  # cross-fitted: no chance gain
    assert "cross-fitted" in found.status


def test_a_blend_of_independent_errors_wins_on_rows_its_weights_were_not_chosen_on() -> None:
    rng = np.random.default_rng(1)
    y = rng.normal(size=400)
    rows, data = _validation_rows(y, [y + rng.normal(size=400) for _ in range(3)])
    found = blend(rows, data, "rmse", folds=None)
    assert found is not None and found.wins and len(found.members) == 3
    assert found.metrics["rmse"] < 0.7 * found.single


def test_a_validation_split_too_small_to_halve_gets_no_blend() -> None:
    y = np.array([2.0])  # one row: nothing to choose weights on and score them on apart
    rows, data = _validation_rows(y, [y + 0.1, y - 0.1])
    assert blend(rows, data, "rmse", folds=None) is None


def test_every_candidate_that_may_serve_alone_is_offered_to_the_blend_catboost_too() -> None:
    rng = np.random.default_rng(2)
    y = rng.normal(size=400)
    # Independent errors: each of the four adds to the blend, whatever its family.
    predictions = [y + rng.normal(scale=0.5, size=400)] + [
        y + rng.normal(size=400) for _ in range(3)
    ]
    rows, data = _validation_rows(y, predictions, [Algorithm.CATBOOST, *[Algorithm.LIGHTGBM] * 3])
    rows[0].one_row_ms = 0.21  # within the one-row budget: it may serve, alone or blended
    found = blend(rows, data, "rmse", folds=None)
    assert found is not None and found.wins and found.members[0].algorithm is Algorithm.CATBOOST
    assert found.weights[0] > 0.4


def test_a_blend_whose_members_fits_do_not_fit_in_the_time_left_is_chosen_from_those_that_do() -> (
    None
):
    rng = np.random.default_rng(0)
    x = rng.normal(size=(300, 3))
    y = np.sin(2 * x[:, 0]) + x[:, 1] * x[:, 2] + rng.normal(scale=0.1, size=300)
    # Under the cross-validation threshold: a member's final fit is one more, on every row.
    data = Data(Task.REGRESSION, x, y, None, None, [], 0, 3)
    scorer = Scorer(data)
    quick = {"learning_rate": 0.3, "num_boost_round": 60, "num_threads": 1}
    rows = [
        scorer.fixed(Algorithm.LIGHTGBM, {**quick, "linear_tree": True}, "lightgbm-linear"),
        scorer.fixed(Algorithm.LIGHTGBM, quick),
        scorer.fixed(Algorithm.KNN, {}),
    ]
    everything = blend(rows, data, "rmse", scorer.folds)
    assert everything is not None and everything.wins and len(everything.members) == 3
    # Five folds' fits of 1 s, 50 s (a busy machine) and 0.1 s: the final fits (a fold's each)
    # of all three take 10.2 s, of the other two 0.22 s; 2 s are left.
    for row, seconds in zip(rows, (1.0, 50.0, 0.1), strict=True):
        row.fit_seconds = seconds
    found = blend(rows, data, "rmse", scorer.folds, finish_by=time.monotonic() + 2.0)
    assert found is not None and found.wins and found.status == "ok"
    assert found.members == [rows[0], rows[2]]
    assert found.metrics["rmse"] < found.single  # still better than either alone, cross-fitted
    served = found.finish()  # fitted on every row, and it serves one row as the server asks
    assert served.predict_raw(x[:1]).shape == (1,)
    assert np.sqrt(np.mean((served.predict_raw(x) - y) ** 2)) < found.metrics["rmse"]
    # No two members' fits fit: no blend wins, and its row says why.
    rows[0].fit_seconds = 50.0
    late = blend(rows, data, "rmse", scorer.folds, finish_by=time.monotonic() + 2.0)
    assert late is not None and not late.wins
    assert late.status == "skipped: no time left for its members' fits"


def test_a_family_ranked_below_many_near_copies_of_the_leader_is_still_offered() -> None:
    rng = np.random.default_rng(4)
    y = rng.normal(size=400)
    shared = rng.normal(scale=0.5, size=400)
    # Fourteen tuned trials with the same error, then CatBoost, worse alone but independent.
    trials = [y + shared + rng.normal(scale=0.05, size=400) for _ in range(14)]
    rows, data = _validation_rows(
        y,
        [*trials, y + rng.normal(scale=0.6, size=400)],
        [*[Algorithm.LIGHTGBM] * 14, Algorithm.CATBOOST],
    )
    found = blend(rows, data, "rmse", folds=None)
    assert found is not None and found.wins
    assert Algorithm.CATBOOST in {m.algorithm for m in found.members}


def _members(
    tmp_rows: int = 600,
) -> tuple[np.ndarray, np.ndarray, list[LinearModel | LightGbmModel]]:
    rng = np.random.default_rng(3)
    x = np.column_stack([rng.normal(size=tmp_rows), rng.integers(0, 3, tmp_rows).astype(float)])
    y = (x[:, 0] + (x[:, 1] == 2) + rng.normal(scale=0.5, size=tmp_rows) > 0.5).astype(int)
    linear = LinearModel.fit(
        Task.BINARY, x, y, categorical_indices=[1], n_classes=2, params={}, seed=0
    )
    trees = [
        LightGbmModel.fit(
            Task.BINARY,
            x[:400],
            y[:400],
            x[400:],
            y[400:],
            categorical_indices=[1],
            n_classes=2,
            params={
                "num_boost_round": 200,
                "early_stopping_rounds": 20,
                "num_leaves": leaves,
                "verbose": -1,
                # OpenMP's spinning on the shared cores made each fit seconds long.
                "num_threads": 1,
            },
            seed=0,
        )
        for leaves in (4, 15)
    ]
    return x, y, [linear, *trees]


def test_a_saved_ensemble_predicts_what_it_did_one_row_as_in_a_batch(tmp_path: Path) -> None:
    x, _, members = _members()
    model = EnsembleModel(members, ["linear", "lightgbm", "lightgbm"], [0.5, 0.3, 0.2])
    model.save(tmp_path)
    loaded = load_fitted(tmp_path, "ensemble", Task.BINARY)
    batch = loaded.predict_raw(x)
    assert np.array_equal(batch, model.predict_raw(x))
    expected = sum(w * m.predict_raw(x) for w, m in zip(model.weights, members, strict=True))
    assert np.allclose(batch, expected, rtol=1e-12)
    assert np.allclose(batch.sum(axis=1), 1.0)
    singles = np.vstack([loaded.predict_raw(x[i : i + 1]) for i in range(20)])
    assert np.allclose(singles, batch[:20], rtol=1e-9)


def test_one_row_of_a_three_member_ensemble_takes_well_under_a_millisecond() -> None:
    x, _, members = _members()
    model = EnsembleModel(members, ["linear", "lightgbm", "lightgbm"], [0.5, 0.3, 0.2])
    row = x[:1]
    model.predict_raw(row)
    took = []
    for _ in range(200):
        began = time.perf_counter()
        model.predict_raw(row)
        took.append(time.perf_counter() - began)
    assert float(np.median(took)) < 0.5e-3


def test_an_ensemble_refits_its_members_on_more_rows_with_the_same_weights(
    tmp_path: Path,
) -> None:
    x, y, members = _members()
    model = EnsembleModel(members, ["linear", "lightgbm", "lightgbm"], [0.5, 0.3, 0.2])
    # More rows (a full fit's test split's too), from a shifted input: every member must learn
    # from them, as fast's LightGBM does.
    more_x = np.vstack([x, x + np.array([1.0, 0.0])])
    more_y = np.concatenate([y, y])
    refitted = model.refit(more_x, more_y, categorical_indices=[1])
    assert refitted.weights == model.weights and refitted.algorithms == model.algorithms
    linear, *trees = refitted.members
    assert isinstance(linear, LinearModel)
    assert linear.mean[0] == pytest.approx(more_x[:, 0].mean())
    for before, after in zip(members[1:], trees, strict=True):
        # Early stopping's rounds, scaled to three times the rows it stopped on.
        assert after.best_iteration == round(before.best_iteration * len(more_y) / 400)
    expected = sum(
        w * m.predict_raw(x) for w, m in zip(refitted.weights, refitted.members, strict=True)
    )
    assert np.allclose(refitted.predict_raw(x), expected)
    model.save(tmp_path)
    with pytest.raises(ValueError, match="fitted in this process"):
        load_fitted(tmp_path, "ensemble", Task.BINARY).refit(more_x, more_y)  # type: ignore[attr-defined]
