"""A request's matrix is kept for the data capture only where it holds the values sent: the
model's numeric features exactly, each a finite number."""

from __future__ import annotations

from typing import Any

import numpy as np
import polars as pl
import pytest

from conveyor.model.artifact import Predictor
from conveyor.model.encode import FeatureEncoder
from conveyor.tabular.schema import DatasetSchema, FeatureKind, FeatureSpec
from conveyor.types import Task

NUMERIC = DatasetSchema(
    target="y",
    task=Task.BINARY,
    classes=(0, 1),
    features=(FeatureSpec("x", FeatureKind.NUMERIC), FeatureSpec("z", FeatureKind.NUMERIC)),
)
MIXED = DatasetSchema(
    target="y",
    task=Task.BINARY,
    classes=(0, 1),
    features=(FeatureSpec("x", FeatureKind.NUMERIC), FeatureSpec("plan", FeatureKind.CATEGORICAL)),
)


class _Quarter:
    """A model answering 0.25 for class 1, whatever the rows."""

    def predict_raw(self, x: np.ndarray) -> np.ndarray:
        return np.tile([0.75, 0.25], (len(x), 1))


def _predictor(schema: DatasetSchema) -> Predictor:
    train = pl.DataFrame({"x": [1.0, 2.0], "z": [3.0, 4.0], "plan": ["pro", "basic"]})
    encoder = FeatureEncoder().fit(train.select(schema.feature_names), schema)
    return Predictor(schema, encoder, _Quarter(), {"algorithm": "lightgbm"})  # type: ignore[arg-type]


def test_numeric_rows_keep_their_values_typed_in_the_features_order() -> None:
    rows = [{"z": "2.5", "x": 1}, {"x": -3.0, "z": 4}]

    prediction = _predictor(NUMERIC).predict_records(rows, keep_matrix=True)

    assert prediction.columns == ("x", "z")
    assert prediction.matrix is not None
    np.testing.assert_array_equal(prediction.matrix, [[1.0, 2.5], [-3.0, 4.0]])
    assert prediction.probabilities == [[0.75, 0.25], [0.75, 0.25]]


@pytest.mark.parametrize(
    "rows",
    [
        [{"x": 1, "z": None}],  # a missing value
        [{"x": 1}],  # a feature left out
        [{"x": 1, "z": 2, "y": 1}],  # a column the model ignores (the target)
    ],
    ids=["null", "left out", "ignored"],
)
def test_rows_the_matrix_does_not_hold_as_sent_keep_none(rows: list[dict[str, Any]]) -> None:
    prediction = _predictor(NUMERIC).predict_records(rows, keep_matrix=True)

    assert prediction.matrix is None
    assert prediction.columns == tuple(sorted({key for row in rows for key in row}))


def test_no_matrix_unless_asked_nor_for_a_categorical_feature() -> None:
    assert _predictor(NUMERIC).predict_records([{"x": 1, "z": 2}]).matrix is None
    mixed = _predictor(MIXED).predict_records([{"x": 1, "plan": "pro"}], keep_matrix=True)
    assert mixed.matrix is None
