"""The request path's row encoder gives exactly what the columnar path gives."""

from __future__ import annotations

import random
from datetime import datetime
from typing import Any

import numpy as np
import polars as pl
import pytest

from conveyor.errors import InvalidInput
from conveyor.model.encode import FeatureEncoder
from conveyor.model.rows import RowEncoder
from conveyor.tabular.coerce import coerce_frame
from conveyor.tabular.schema import DatasetSchema, FeatureKind, FeatureSpec
from conveyor.types import Task

SCHEMA = DatasetSchema(
    target="y",
    task=Task.BINARY,
    classes=(0, 1),
    features=(
        FeatureSpec("x", FeatureKind.NUMERIC),
        FeatureSpec("plan", FeatureKind.CATEGORICAL),
        FeatureSpec("flag", FeatureKind.BOOLEAN, true_values=("yes",), false_values=("no",)),
        FeatureSpec("day", FeatureKind.DATETIME, date_format="%Y-%m-%d"),
        FeatureSpec("at", FeatureKind.DATETIME, date_format="%Y-%m-%d %H:%M:%S"),
    ),
)
TRAIN = pl.DataFrame(
    {
        "x": [1.0, 2.5, None, 4.0],
        "plan": ["pro", "basic", "3", None],
        "flag": [True, False, True, None],
        "day": [datetime(2024, 3, 1), datetime(2021, 12, 31), None, datetime(2020, 2, 29)],
        "at": [datetime(2024, 3, 1, 13, 5), datetime(2021, 1, 1), None, datetime(2020, 2, 29, 23)],
    }
)
ENCODER = FeatureEncoder().fit(TRAIN, SCHEMA)

VALUES: dict[str, list[Any]] = {
    "x": [None, 0, 3, -2.5, 1e9, "7", " 8.5 ", "NA", "", "?"],
    "plan": [None, "pro", "basic", "enterprise", 3, " pro ", "N/A"],
    "flag": [None, True, False, "yes", "No", "TRUE", "f", 0, 1, "1", ""],
    "day": [None, "2024-03-01", "1999-12-31", "2000-02-29", "", "null"],
    "at": [None, "2024-03-01 13:05:00", "2021-01-01 00:00:00", "NaN"],
}
BAD: dict[str, list[Any]] = {
    "x": ["old", True],
    "flag": ["maybe", 2],
    "day": ["yesterday", "01/02/2024"],
    "at": ["2024-03-01"],
}


def columnar(records: list[dict[str, Any]]) -> np.ndarray:
    names = sorted({k for r in records for k in r})
    frame = pl.DataFrame(
        {n: pl.Series(n, [r.get(n) for r in records], strict=False) for n in names}
    )
    return ENCODER.transform(coerce_frame(frame, SCHEMA, allow_extra=False))


def same(a: np.ndarray, b: np.ndarray) -> bool:
    return a.shape == b.shape and bool(np.all((a == b) | (np.isnan(a) & np.isnan(b))))


@pytest.mark.parametrize("seed", range(20))
def test_random_valid_rows_encode_identically(seed: int) -> None:
    rng = random.Random(seed)
    records = [
        {name: rng.choice(values) for name, values in VALUES.items()}
        for _ in range(rng.randint(1, 5))
    ]
    assert same(RowEncoder(ENCODER).encode(records), columnar(records)), records


@pytest.mark.parametrize(
    ("column", "value"), [(c, v) for c, vs in BAD.items() for v in vs], ids=repr
)
def test_bad_values_raise_the_same_error(column: str, value: Any) -> None:
    record = {
        "x": 1,
        "plan": "pro",
        "flag": "yes",
        "day": "2024-01-01",
        "at": "2024-01-01 00:00:00",
        column: value,
    }
    with pytest.raises(InvalidInput) as fast:
        RowEncoder(ENCODER).encode([record])
    with pytest.raises(InvalidInput) as slow:
        columnar([record])
    assert (fast.value.field, fast.value.message) == (slow.value.field, slow.value.message)


def test_a_left_out_column_is_missing_on_both_paths_and_an_unknown_one_the_same_error() -> None:
    full = {"x": 1, "plan": "pro", "flag": "yes", "day": None, "at": None}
    left_out = {k: v for k, v in full.items() if k != "plan"}
    assert same(RowEncoder(ENCODER).encode([left_out]), columnar([left_out]))
    assert same(columnar([left_out]), columnar([{**full, "plan": None}]))
    for record in ({**full, "colour": 1}, {"colour": 1}):
        with pytest.raises(InvalidInput) as fast:
            RowEncoder(ENCODER).encode([record])
        with pytest.raises(InvalidInput) as slow:
            columnar([record])
        assert (fast.value.field, fast.value.message) == (slow.value.field, slow.value.message)


def test_a_whole_float_for_a_category_matches_its_text() -> None:
    record = {"x": 1, "plan": 3.0, "flag": None, "day": None, "at": None}
    fast = RowEncoder(ENCODER).encode([record])
    assert same(fast, columnar([record]))
    assert same(fast, RowEncoder(ENCODER).encode([{**record, "plan": "3"}]))
