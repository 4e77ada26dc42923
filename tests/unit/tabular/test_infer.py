from __future__ import annotations

from datetime import datetime

import polars as pl
import pytest

from conveyor.errors import InvalidInput
from conveyor.tabular.infer import infer_schema, infer_task
from conveyor.tabular.schema import FeatureKind
from conveyor.types import Task


def strings(**columns: list[str | None]) -> pl.DataFrame:
    return pl.DataFrame({k: pl.Series(k, v, dtype=pl.String) for k, v in columns.items()})


def mixed_frame(rows: int = 120) -> pl.DataFrame:
    return strings(
        **{
            "customer id": [f"C{i}" for i in range(rows)],
            "row_id": [str(i) for i in range(rows)],
            "monthly charges": [str(20 + i % 7) if i % 10 else None for i in range(rows)],
            "plan": [("basic", "pro", None)[i % 3] for i in range(rows)],
            "has partner": [("Yes", "no")[i % 2] for i in range(rows)],
            "signup date": [f"2024-0{1 + i % 9}-1{i % 10}" for i in range(rows)],
            "constant": ["x"] * rows,
            "empty": [None] * rows,
            "y": [("a", "b")[i % 2] for i in range(rows)],
        }
    )


def test_kinds_and_drops_of_a_realistic_export() -> None:
    schema, notes = infer_schema(mixed_frame(), target="y", task=Task.AUTO)
    kinds = {f.name: f.kind for f in schema.features}
    assert kinds == {
        "monthly charges": FeatureKind.NUMERIC,
        "plan": FeatureKind.CATEGORICAL,
        "has partner": FeatureKind.BOOLEAN,
        "signup date": FeatureKind.DATETIME,
    }
    assert schema.feature("signup date").date_format == "%Y-%m-%d"
    assert schema.feature("has partner").true_values == ("yes",)
    assert schema.feature("monthly charges").nullable
    reasons = {d.name: d.reason for d in schema.dropped}
    assert set(reasons) == {"customer id", "row_id", "constant", "empty"}
    assert "high-cardinality" in reasons["customer id"]
    assert "id column" in reasons["row_id"]
    assert schema.task is Task.BINARY and schema.classes == ("a", "b")
    assert notes == []


def test_numbers_with_one_odd_text_are_numbers_with_that_text_as_missing() -> None:
    # Once refused ("mixes numbers and text"); issue 19 reversed it.
    frame = strings(age=["31", "42", "forty", "50"] * 10, y=["a", "b"] * 20)
    schema, _ = infer_schema(frame, target="y", task=Task.AUTO)
    age = schema.feature("age")
    assert age.kind is FeatureKind.NUMERIC
    assert age.missing_tokens == ("forty",)


def test_mostly_text_with_some_numbers_is_categorical() -> None:
    frame = strings(code=["A1", "B2", "7", "C3"] * 10, y=["a", "b"] * 20)
    schema, _ = infer_schema(frame, target="y", task=Task.AUTO)
    assert schema.feature("code").kind is FeatureKind.CATEGORICAL


def test_missing_target_lists_the_columns() -> None:
    with pytest.raises(InvalidInput, match="'churned' is not in the file; its columns are: 'a'"):
        infer_schema(strings(a=["1", "2"]), target="churned", task=Task.AUTO)


@pytest.mark.parametrize(
    ("values", "task", "expected_task", "classes"),
    [
        (["0", "1"] * 10, Task.AUTO, Task.BINARY, [0, 1]),
        (["1", "2", "3"] * 10, Task.AUTO, Task.MULTICLASS, [1, 2, 3]),
        ([str(i * 1.5) for i in range(30)], Task.AUTO, Task.REGRESSION, None),
        ([str(i) for i in range(30)], Task.AUTO, Task.REGRESSION, None),
        (["1", "2", "3"] * 10, Task.REGRESSION, Task.REGRESSION, None),
        (["cat", "dog", "emu"] * 10, Task.AUTO, Task.MULTICLASS, ["cat", "dog", "emu"]),
    ],
    ids=["binary ints", "multiclass ints", "floats", "many ints", "forced regression", "strings"],
)
def test_task_inference(
    values: list[str], task: Task, expected_task: Task, classes: list[object] | None
) -> None:
    inferred, labels = infer_task(pl.Series("y", values), task)
    assert inferred is expected_task
    assert labels == classes


def test_a_single_class_is_refused() -> None:
    with pytest.raises(InvalidInput, match="single class 'yes'"):
        infer_task(pl.Series("y", ["yes"] * 30), Task.AUTO)


def test_regression_on_text_is_refused() -> None:
    with pytest.raises(InvalidInput, match="regression needs numbers"):
        infer_task(pl.Series("y", ["a", "b"]), Task.REGRESSION)


def test_typed_parquet_columns_keep_their_kinds() -> None:
    frame = pl.DataFrame(
        {
            "x": [1.0, 2.0, 3.0, 4.0],
            "flag": [True, False, True, False],
            "when": [datetime(2024, 1, d) for d in range(1, 5)],
            "y": [0, 1, 0, 1],
        }
    )
    schema, _ = infer_schema(frame, target="y", task=Task.AUTO)
    assert [f.kind for f in schema.features] == [
        FeatureKind.NUMERIC,
        FeatureKind.BOOLEAN,
        FeatureKind.DATETIME,
    ]


def test_an_unnamed_column_of_row_numbers_is_dropped_but_a_rank_is_kept() -> None:
    # R's write.csv: an unnamed first column (the reader names it column_1) of row numbers,
    # here with gaps as in a file of which a fifth was held out; "rank" rises too but is data.
    kept = [i for i in range(1, 151) if i % 5]
    frame = pl.DataFrame(
        {
            "column_1": kept,
            "rank": kept,
            "x": [float(i % 7) for i in kept],
            "y": [float(i % 11) for i in kept],
        }
    )
    schema, _ = infer_schema(frame, target="y", task=Task.AUTO)
    assert schema.feature_names == ["rank", "x"]
    assert "row numbers" in schema.dropped[0].reason
    shuffled = frame.with_columns(pl.col("column_1").reverse())
    schema, _ = infer_schema(shuffled, target="y", task=Task.AUTO)
    assert "column_1" in schema.feature_names  # not rising down the file: not row numbers
