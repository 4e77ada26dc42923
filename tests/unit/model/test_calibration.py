"""Calibration, the decision threshold and class weights, on synthetic predictions whose
truth is known."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from conveyor.model.calibration import Calibrator, calibrate, calibration_report
from conveyor.model.candidates import Data, Scorer
from conveyor.model.curves import calibration
from conveyor.model.imbalance import has_rare_class, imbalance_record, weighted_candidates
from conveyor.model.metrics import metric_value
from conveyor.model.threshold import choose_threshold, labels
from conveyor.types import Algorithm, Task


def _overconfident(n: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Rows whose class 1 has probability sigmoid(s), predicted as sigmoid(3 s): too sure."""
    rng = np.random.default_rng(seed)
    score = rng.normal(size=n)
    y = (rng.random(n) < 1 / (1 + np.exp(-score))).astype(np.int64)
    p = 1 / (1 + np.exp(-3 * score))
    return y, np.column_stack([1 - p, p])


def test_a_miscalibrated_model_comes_out_with_lower_log_loss_on_rows_it_never_saw() -> None:
    y, proba = _overconfident(1500, seed=1)
    chosen = calibrate(Task.BINARY, y, proba, n_classes=2, seed=0, selected_on="validation")
    assert chosen.calibrator is not None
    assert chosen.record["log_loss_after"] < chosen.record["log_loss_before"] * 0.9
    fresh_y, fresh = _overconfident(3000, seed=2)
    report = calibration_report(fresh_y, fresh, chosen.apply(fresh), 2)
    assert report["log_loss_after"] < report["log_loss_before"] * 0.9
    curve = calibration(fresh_y, chosen.apply(fresh)[:, 1], "P(1)")
    gaps = np.abs(np.array(curve["predicted"]) - np.array(curve["observed"]))
    assert len(curve["rows"]) >= 8 and float(np.average(gaps, weights=curve["rows"])) < 0.05


def test_a_calibrated_model_keeps_its_probabilities() -> None:
    rng = np.random.default_rng(3)
    p = rng.random(800)
    y = (rng.random(800) < p).astype(np.int64)
    chosen = calibrate(
        Task.BINARY, y, np.column_stack([1 - p, p]), n_classes=2, seed=0, selected_on="x"
    )
    assert chosen.calibrator is None and chosen.record["method"] is None


def test_an_overconfident_multiclass_model_is_cooled_by_temperature(tmp_path: Path) -> None:
    rng = np.random.default_rng(4)
    logits = rng.normal(size=(1200, 3))
    truth = np.exp(logits) / np.exp(logits).sum(axis=1, keepdims=True)
    y = np.array([rng.choice(3, p=row) for row in truth])
    sharp = np.exp(3 * logits) / np.exp(3 * logits).sum(axis=1, keepdims=True)
    chosen = calibrate(Task.MULTICLASS, y, sharp, n_classes=3, seed=0, selected_on="x")
    assert chosen.calibrator is not None and chosen.calibrator.method == "temperature"
    assert chosen.calibrator.params["temperature"] > 2
    chosen.calibrator.save(tmp_path)
    loaded = Calibrator.load(tmp_path)
    assert loaded is not None and np.allclose(loaded.apply(sharp), chosen.apply(sharp))


def test_one_row_is_calibrated_as_a_batch_is() -> None:
    proba = np.array([[0.9, 0.1], [0.2, 0.8], [1.0, 0.0]])
    for calibrator in (
        Calibrator("sigmoid", {"a": 0.6, "b": -0.2}),
        Calibrator("isotonic", {"x": [0.0, 0.5, 1.0], "y": [0.1, 0.3, 0.9]}),
    ):
        batch = calibrator.apply(proba)
        for i in range(len(proba)):
            assert np.allclose(calibrator.apply(proba[i : i + 1]), batch[i : i + 1])


def test_the_threshold_maximises_a_label_metric_and_stays_at_half_for_others() -> None:
    rng = np.random.default_rng(5)
    y = (rng.random(2000) < 0.1).astype(np.int64)
    p = np.clip(0.1 + 0.3 * y + rng.normal(0, 0.12, 2000), 0, 1)
    proba = np.column_stack([1 - p, p])
    for metric in ("f1", "accuracy"):
        cut = choose_threshold(y, p, metric)
        served = metric_value(Task.BINARY, metric, y, proba, 2, threshold=cut["value"])
        assert round(served, 6) == cut["score"] > cut["score_at_0.5"]
        assert served >= max(
            metric_value(Task.BINARY, metric, y, proba, 2, threshold=t)
            for t in np.linspace(0.01, 0.99, 99)
        )
    assert choose_threshold(y, p, "roc_auc")["value"] == 0.5
    # Calibrated probabilities: the best cut is 0.5 give or take noise, and 0.5 it stays.
    calibrated = rng.random(2000)
    outcome = (rng.random(2000) < calibrated).astype(np.int64)
    assert choose_threshold(outcome, calibrated, "accuracy")["value"] == 0.5
    assert labels(np.array([0.2, 0.5, 0.7]), 0.5).tolist() == [0, 0, 1]


def test_an_imbalanced_file_gets_class_weighted_candidates() -> None:
    rng = np.random.default_rng(6)
    x = rng.normal(size=(300, 3))
    y = (x[:, 0] + rng.normal(0, 1, 300) > 1.6).astype(np.int64)
    assert has_rare_class(Task.BINARY, y, 2)
    assert not has_rare_class(Task.BINARY, np.arange(300) % 2, 2)
    scorer = Scorer(Data(Task.BINARY, x, y, None, None, [], 2, seed=1))
    board = [scorer.fixed(Algorithm.LIGHTGBM, {}), scorer.fixed(Algorithm.LINEAR, {})]
    weighted = weighted_candidates(scorer, board, Algorithm.LIGHTGBM, {}, deadline=1e12)
    assert [row.name for row in weighted] == ["lightgbm-balanced", "linear-balanced"]
    for plain, heavier in zip(board, weighted, strict=True):
        assert heavier.status == "ok" and heavier.hyperparameters["class_weight"] == "balanced"
        assert heavier.predictions is not None and plain.predictions is not None
        # The rare class weighs as much as the other: it is predicted more often.
        assert heavier.predictions[:, 1].mean() > plain.predictions[:, 1].mean() + 0.1
    rows = [row.row("f1", winner=row is weighted[0]) for row in [*board, *weighted]]
    said = imbalance_record(Task.BINARY, y, 2, rows)
    assert said is not None and said["rare_class"] and said["class_weights"] == "balanced"


def test_a_large_validation_split_is_calibrated_on_a_bounded_sample() -> None:
    from conveyor.model.calibration import MAX_ROWS, calibrate_outputs

    rng = np.random.default_rng(3)
    p = rng.uniform(0.01, 0.99, MAX_ROWS * 2)
    y = (rng.uniform(size=len(p)) < p**2).astype(int)  # overconfident: a calibrator helps
    _, fields = calibrate_outputs(
        Task.BINARY,
        y,
        np.column_stack([1 - p, p]),
        n_classes=2,
        metric="roc_auc",
        seed=1,
        selected_on="validation",
    )
    assert fields["calibration"]["rows"] == MAX_ROWS
    assert fields["calibration"]["method"] is not None


def test_a_candidate_is_scored_on_its_probabilities_as_they_would_serve() -> None:
    """A strongly regularised linear model's probabilities huddle near the base rate: raw,
    its log-loss (0.37 on breast_cancer) said it was far worse than it serves once
    calibrated. The leaderboard's score is the served one: the log-loss the deployed model's
    calibration reports on the same rows, each calibrated by a calibrator that never saw it."""
    from sklearn.datasets import load_breast_cancer

    from conveyor.model.calibration import calibrate_outputs

    x, y = load_breast_cancer(return_X_y=True)
    scorer = Scorer(Data(Task.BINARY, x, y, None, None, [], 2, seed=3))
    row = scorer.fixed(Algorithm.LINEAR, {"alpha": 1000.0})
    assert row.predictions is not None and row.calibration == "sigmoid"
    raw = metric_value(Task.BINARY, "log_loss", y, row.predictions, 2)
    assert row.metrics["log_loss"] < 0.5 * raw
    # Platt's sigmoid keeps the rows' order: ROC-AUC moves only as the folds' calibrators
    # differ from one another (0.0004 here).
    auc = metric_value(Task.BINARY, "roc_auc", y, row.predictions, 2)
    assert abs(row.metrics["roc_auc"] - auc) < 0.005
    # What the training job records when this row wins: its calibration, on the same rows.
    _, fields = calibrate_outputs(
        Task.BINARY, y, row.predictions, n_classes=2, metric="log_loss", seed=3, selected_on="5"
    )
    assert abs(fields["calibration"]["log_loss_after"] - row.metrics["log_loss"]) < 1e-6
    assert row.row("log_loss", winner=True)["calibration"] == "sigmoid"


def test_a_multiclass_model_records_its_decision_rule_and_weights_a_rare_class() -> None:
    from sklearn.datasets import load_wine

    from conveyor.model.calibration import calibrate_outputs

    _, y = load_wine(return_X_y=True)
    proba = np.eye(3)[y] * 0.9 + 0.1 / 3  # sure of every row: temperature cools it
    proba[::7] = proba[::7][:, [1, 2, 0]]  # and wrong on one in seven
    _, fields = calibrate_outputs(
        Task.MULTICLASS, y, proba, n_classes=3, metric="f1_macro", seed=0, selected_on="v"
    )
    assert fields["decision_rule"] == "argmax" and "decision_threshold" not in fields
    # A class under half an even share (1/6 of three) is rare: class weights are tried.
    rare = np.r_[y[y != 2], y[y == 2][:10]]
    assert has_rare_class(Task.MULTICLASS, rare, 3) and not has_rare_class(Task.MULTICLASS, y, 3)
