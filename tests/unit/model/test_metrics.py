from __future__ import annotations

import math

import numpy as np
import pytest

from conveyor.errors import InvalidInput
from conveyor.model.metrics import (
    baseline_metrics,
    compute_metrics,
    default_metric,
    greater_is_better,
)
from conveyor.types import Task


def test_binary_metrics_on_a_hand_checked_example() -> None:
    y = np.array([0, 0, 1, 1])
    proba1 = np.array([0.1, 0.6, 0.4, 0.9])
    result = compute_metrics(Task.BINARY, y, np.column_stack([1 - proba1, proba1]), 2)
    assert result["accuracy"] == 0.5
    assert result["roc_auc"] == 0.75
    assert result["f1"] == 0.5
    expected_loss = -np.mean(np.log([0.9, 0.4, 0.4, 0.9]))
    assert result["log_loss"] == pytest.approx(expected_loss)


def test_regression_metrics_on_a_hand_checked_example() -> None:
    result = compute_metrics(
        Task.REGRESSION, np.array([1.0, 2.0, 3.0]), np.array([1.0, 2.0, 5.0]), 0
    )
    assert result["mae"] == pytest.approx(2 / 3)
    assert result["rmse"] == pytest.approx(math.sqrt(4 / 3))
    assert result["r2"] == pytest.approx(1 - 4 / 2)


def test_baseline_predicts_the_majority_class_and_the_mean() -> None:
    y_train = np.array([0, 0, 0, 1])
    base = baseline_metrics(Task.BINARY, y_train, np.array([0, 1, 0, 0]), 2)
    assert base["accuracy"] == 0.75 and base["roc_auc"] == 0.5
    reg = baseline_metrics(Task.REGRESSION, np.array([1.0, 3.0]), np.array([2.0, 2.0]), 0)
    assert reg["rmse"] == 0.0


def test_multiclass_uses_macro_f1_by_default() -> None:
    assert default_metric(Task.MULTICLASS) == "f1_macro"
    y = np.array([0, 1, 2, 2])
    proba = np.eye(3)[[0, 1, 2, 1]]
    result = compute_metrics(Task.MULTICLASS, y, proba, 3)
    assert result["accuracy"] == 0.75
    assert result["f1_macro"] == pytest.approx((1 + 2 / 3 + 2 / 3) / 3)


def test_metric_direction_and_unknown_names() -> None:
    assert greater_is_better("roc_auc") and not greater_is_better("rmse")
    with pytest.raises(InvalidInput, match="valid metrics: roc_auc"):
        greater_is_better("auc")
