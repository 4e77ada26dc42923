from __future__ import annotations

from datetime import datetime

import polars as pl
import pytest

from conveyor.errors import InvalidInput
from conveyor.tabular.coerce import coerce_frame
from conveyor.tabular.numbers import NumberFormat
from conveyor.tabular.schema import DatasetSchema, FeatureKind, FeatureSpec
from conveyor.types import Task

SCHEMA = DatasetSchema(
    target="churned",
    task=Task.BINARY,
    classes=("no", "yes"),
    features=(
        FeatureSpec("age", FeatureKind.NUMERIC),
        FeatureSpec("plan", FeatureKind.CATEGORICAL),
        FeatureSpec("has partner", FeatureKind.BOOLEAN, true_values=("yes",), false_values=("no",)),
        FeatureSpec("signup date", FeatureKind.DATETIME, date_format="%Y-%m-%d"),
    ),
)


def records_frame(rows: list[dict[str, object]]) -> pl.DataFrame:
    names = sorted({k for r in rows for k in r})
    return pl.DataFrame({n: pl.Series(n, [r.get(n) for r in rows], strict=False) for n in names})


def test_csv_strings_and_json_values_coerce_to_the_same_typed_row() -> None:
    from_csv = pl.DataFrame(
        {"age": ["42"], "plan": ["pro"], "has partner": ["Yes"], "signup date": ["2024-03-01"]}
    )
    from_json = records_frame(
        [{"age": 42, "plan": "pro", "has partner": True, "signup date": "2024-03-01"}]
    )
    expected = {
        "age": 42.0,
        "plan": "pro",
        "has partner": True,
        "signup date": datetime(2024, 3, 1),
    }
    for frame in (from_csv, from_json):
        typed = coerce_frame(frame, SCHEMA)
        assert typed.row(0, named=True) == expected
        assert typed.schema["signup date"] == pl.Datetime("us")


def test_missing_values_stay_missing() -> None:
    typed = coerce_frame(
        records_frame([{"age": None, "plan": None, "has partner": None, "signup date": None}]),
        SCHEMA,
    )
    assert typed.row(0) == (None, None, None, None)


@pytest.mark.parametrize(
    ("row", "field", "message"),
    [
        ({"age": "old"}, "age", "column 'age' expects a number, got 'old' (row 1)"),
        ({"has partner": "maybe"}, "has partner", "expects true/false"),
        ({"signup date": "yesterday"}, "signup date", "expects a date like '%Y-%m-%d'"),
    ],
    ids=["number", "boolean", "date"],
)
def test_a_bad_value_names_the_field_value_and_row(
    row: dict[str, object], field: str, message: str
) -> None:
    base = {"age": 1, "plan": "pro", "has partner": "no", "signup date": "2024-01-01"}
    with pytest.raises(InvalidInput) as info:
        coerce_frame(records_frame([{**base, **row}]), SCHEMA)
    assert info.value.field == field
    assert message in info.value.message


def test_a_left_out_feature_is_missing_and_an_unknown_column_is_named() -> None:
    left_out = coerce_frame(
        records_frame([{"age": 1, "has partner": "no", "signup date": None}]), SCHEMA
    )
    assert left_out.get_column("plan").to_list() == [None]
    full = {"age": 1, "plan": "pro", "has partner": "no", "signup date": None, "color": "red"}
    with pytest.raises(InvalidInput, match="unknown column\\(s\\): 'color'"):
        coerce_frame(records_frame([full]), SCHEMA, allow_extra=False)
    assert coerce_frame(records_frame([full]), SCHEMA).columns == list(SCHEMA.feature_names)


def test_integer_classes_come_back_as_integers() -> None:
    schema = DatasetSchema(
        target="y",
        task=Task.BINARY,
        classes=(0, 1),
        features=(FeatureSpec("x", FeatureKind.NUMERIC),),
    )
    typed = coerce_frame(pl.DataFrame({"x": ["1"], "y": ["1"]}), schema, with_target=True)
    assert typed.schema["y"] == pl.Int64


def test_numbers_as_text_parse_alike_whether_clean_or_padded_or_spelled_missing() -> None:
    age_only = DatasetSchema(
        target="churned", task=Task.BINARY, classes=("no", "yes"), features=SCHEMA.features[:1]
    )
    clean = coerce_frame(pl.DataFrame({"age": ["42", "-1.5", "1e3"]}), age_only)
    messy = coerce_frame(pl.DataFrame({"age": [" 42 ", "nan", "NA"]}), age_only)
    assert clean.get_column("age").to_list() == [42.0, -1.5, 1000.0]
    assert messy.get_column("age").to_list() == [42.0, None, None]  # "nan" is missing, not NaN


def test_written_numbers_read_alike_as_they_stand_and_once_cleaned() -> None:
    """Most cells are read as they stand; the few that need stripping, a spelling of missing
    or the column's own tokens (one of which reads as a number) are cleaned first."""
    euros = NumberFormat(",", ".", "", "€")
    schema = DatasetSchema(
        target="y",
        task=Task.REGRESSION,
        features=(
            FeatureSpec("money", FeatureKind.NUMERIC, number_format=euros),
            FeatureSpec("score", FeatureKind.NUMERIC, missing_tokens=("-999", "unknown")),
        ),
    )
    frame = pl.DataFrame(
        {
            "money": ["1.234,50 €", " 3,5 € ", "-2 €", "N/A", "- 7 €", "(1,5 €)", None],
            "score": ["1.5", " 2 ", "-999", "UNKNOWN", "NaN", " nan ", "1e3"],
        }
    )
    typed = coerce_frame(frame, schema, lenient=True)
    assert typed.get_column("money").to_list() == [1234.5, 3.5, -2.0, None, -7.0, None, None]
    assert typed.get_column("score").to_list() == [1.5, 2.0, None, None, None, None, 1000.0]
    with pytest.raises(InvalidInput, match=r"'money' expects .*got '\(1,5 €\)' \(row 6\)"):
        coerce_frame(frame.select("money"), schema)
