from __future__ import annotations

import json
import math
from datetime import datetime

import polars as pl

from conveyor.model.encode import FeatureEncoder
from conveyor.tabular.schema import DatasetSchema, FeatureKind, FeatureSpec
from conveyor.types import Task

SCHEMA = DatasetSchema(
    target="y",
    task=Task.BINARY,
    classes=(0, 1),
    features=(
        FeatureSpec("x", FeatureKind.NUMERIC, nullable=True),
        FeatureSpec("plan", FeatureKind.CATEGORICAL),
        FeatureSpec("flag", FeatureKind.BOOLEAN),
        FeatureSpec("when", FeatureKind.DATETIME),
    ),
)
TRAIN = pl.DataFrame(
    {
        "x": [1.0, None, 3.0, 4.0],
        "plan": ["pro", "basic", "pro", None],
        "flag": [True, False, None, True],
        "when": [datetime(2024, 3, 1), datetime(2024, 3, 2), None, datetime(2023, 12, 31)],
    }
)


def test_encoding_turns_every_kind_into_numbers_and_keeps_missing_as_nan() -> None:
    encoder = FeatureEncoder().fit(TRAIN, SCHEMA)
    matrix = encoder.transform(TRAIN)
    names = encoder.feature_names_out_
    assert names[:3] == ["x", "plan", "flag"]
    assert "when__month" in names and "when__epoch_days" in names
    assert "when__hour" not in names  # no time of day in training
    assert encoder.categorical_indices_ == [1]
    column = dict(zip(names, matrix.T, strict=True))
    assert math.isnan(column["x"][1])
    assert list(column["plan"][:3]) == [0.0, 1.0, 0.0]  # most frequent first
    assert math.isnan(column["plan"][3])
    assert list(column["flag"][:2]) == [1.0, 0.0]
    assert column["when__month"][0] == 3.0 and column["when__dayofweek"][0] == 5.0


def test_unseen_categories_are_missing_not_an_error() -> None:
    encoder = FeatureEncoder().fit(TRAIN, SCHEMA)
    row = TRAIN.head(1).with_columns(plan=pl.lit("enterprise"))
    assert math.isnan(encoder.transform(row)[0][1])


def test_a_saved_encoder_encodes_exactly_as_the_fitted_one() -> None:
    encoder = FeatureEncoder().fit(TRAIN, SCHEMA)
    restored = FeatureEncoder.from_dict(json.loads(json.dumps(encoder.to_dict())))
    a, b = encoder.transform(TRAIN), restored.transform(TRAIN)
    assert a.shape == b.shape
    assert ((a == b) | (a != a) & (b != b)).all()
