"""One JSON cell read with its column's rule, as serving and the AWS request check read it."""

from __future__ import annotations

import math
from datetime import datetime

import pytest

from conveyor.aws.request_check import check_rows
from conveyor.errors import InvalidInput
from conveyor.tabular.cells import Refused, datetime_reader, number_reader, read_number
from conveyor.tabular.numbers import NumberFormat
from conveyor.tabular.schema import DatasetSchema, FeatureKind, FeatureSpec
from conveyor.types import Task

MONEY = FeatureSpec(
    "price",
    FeatureKind.NUMERIC,
    number_format=NumberFormat(".", ",", "$", "", True),
    missing_tokens=("unknown",),
)
SOLD = FeatureSpec(
    "sold",
    FeatureKind.DATETIME,
    date_format="%m/%d/%y %H:%M",
    date_formats=("%m/%d/%y %H:%M", "%Y-%m-%dT%H:%M:%S%.f%#z"),
)


@pytest.mark.parametrize(
    ("value", "expected"),
    [("$1,200", 1200.0), ("($12.50)", -12.5), (7, 7.0), (2.5, 2.5), ("Unknown", None), ("", None)],
)
def test_money_reads_as_training_read_it(value: object, expected: float | None) -> None:
    number = number_reader(MONEY)(value)
    assert math.isnan(number) if expected is None else number == expected


def test_a_plain_column_keeps_the_fast_reader_and_its_message() -> None:
    assert number_reader(FeatureSpec("x", FeatureKind.NUMERIC)) is read_number
    with pytest.raises(Refused) as info:
        number_reader(MONEY)("12 apples")
    assert (
        info.value.expected
        == "a number (currency `$`, thousands `,`, accounting negatives `(12.50)`)"
    )


def test_dates_read_with_the_first_format_that_fits_as_naive_utc() -> None:
    read = datetime_reader(SOLD)
    assert read("8/6/20 18:57") == datetime(2020, 8, 6, 18, 57)
    assert read("2016-01-01T03:00:00+02:00") == datetime(2016, 1, 1, 1, 0)
    with pytest.raises(Refused) as info:
        read("yesterday")
    assert info.value.expected == "a date like '%m/%d/%y %H:%M' or '%Y-%m-%dT%H:%M:%S%.f%#z'"


def test_the_request_check_takes_the_uploaded_rows_and_names_a_bad_cell() -> None:
    schema = DatasetSchema(target="y", task=Task.REGRESSION, features=(MONEY, SOLD))
    check_rows([{"price": "$1,200.50", "sold": "8/6/20 18:57"}, {"price": "unknown"}], schema)
    with pytest.raises(InvalidInput) as info:
        check_rows([{"price": "$1,200", "sold": "8/6/20 18:57"}, {"price": "lots"}], schema)
    assert info.value.field == "price" and "(row 2)" in info.value.message


def test_a_version_1_schema_loads_and_a_version_2_one_round_trips() -> None:
    old = {
        "schema_version": 1,
        "target": "y",
        "task": "binary",
        "features": [{"name": "d", "kind": "datetime", "nullable": False, "date_format": "%Y"}],
        "classes": [0, 1],
        "dropped": [{"name": "id", "reason": "an id"}],
    }
    schema = DatasetSchema.from_dict(old)
    assert schema.feature("d").formats == ("%Y",)
    assert schema.columns == () and schema.target_number_format is None
    new = DatasetSchema(
        target="y",
        task=Task.REGRESSION,
        features=(MONEY, SOLD, FeatureSpec("note", FeatureKind.TEXT)),
        target_number_format=NumberFormat(","),
    )
    assert DatasetSchema.from_dict(new.to_dict()) == new
