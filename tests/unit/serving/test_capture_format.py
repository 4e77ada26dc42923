"""Capture objects: the lines' values survive the trip to Parquet and back, typed from their
JSON; a column without a common type is kept as text rather than lost."""

from __future__ import annotations

from typing import Any

import orjson
import polars as pl

from conveyor.inference.capture_format import META_SCHEMA, decode, encode

META = {"__t": 1, "__v": 2, "__s": 200, "__k": 1, "__r": 1, "__p": 0.5, "__y": None}
FEATURES = ["age", "plan"]


def _lines(rows: list[dict[str, Any]]) -> bytes:
    return b"".join(orjson.dumps(row) + b"\n" for row in rows)


def _meta(count: int, values: dict[str, Any] = META) -> dict[str, list[Any]]:
    return {name: [value] * count for name, value in values.items()}


def _keys(rows: list[dict[str, Any]]) -> set[str]:
    return {key for row in rows for key in row}


def _round_trip(rows: list[dict[str, Any]]) -> pl.DataFrame:
    return decode(encode(_lines(rows), _meta(len(rows)), _keys(rows)), FEATURES)


def test_numbers_and_text_keep_their_types_and_the_meta_columns_theirs() -> None:
    rows = [{"age": 42, "plan": "pro"}, {"age": 37.5, "plan": None}]

    frame = _round_trip(rows)

    assert frame.schema == pl.Schema(META_SCHEMA | {"age": pl.Float64(), "plan": pl.String()})
    assert frame.get_column("age").to_list() == [42.0, 37.5]
    assert frame.get_column("plan").to_list() == ["pro", None]
    assert frame.get_column("__y").to_list() == [None, None]


def test_a_column_whose_rows_disagree_is_text_spelled_as_each_value_was_sent() -> None:
    # Past the lines types are first inferred from, so the second, full inference decides.
    rows = [{"age": 40 + i % 7} for i in range(1500)] + [{"age": "42"}]

    ages = _round_trip(rows).get_column("age")

    assert ages.dtype == pl.String
    assert ages.to_list() == [str(40 + i % 7) for i in range(1500)] + ["42"]


def test_a_key_first_seen_late_in_a_flush_is_kept() -> None:
    rows: list[dict[str, Any]] = [{"age": 30}] * 1500 + [{"age": 31, "plan": "team"}]

    frame = _round_trip(rows)

    assert frame.get_column("plan").to_list() == [None] * 1500 + ["team"]


def test_a_feature_no_line_has_is_a_null_column() -> None:
    frame = _round_trip([{"age": 30}, {"age": 31}])

    assert frame.get_column("plan").null_count() == 2


def test_a_record_without_rows_reads_with_null_scores() -> None:
    meta = {"__t": 5, "__v": None, "__s": 400, "__k": 1, "__r": 0, "__p": None, "__y": None}

    frame = decode(encode(b"{}\n", _meta(1, meta), set()), FEATURES)

    assert frame.row(0, named=True) == {
        "__t": 5,
        "__v": None,
        "__s": 400,
        "__k": 1,
        "__r": 0,
        "__p": None,
        "__y": None,
        "age": None,
        "plan": None,
    }


def test_a_column_without_a_common_type_is_kept_as_text() -> None:
    # A list beside a number has no supertype (serving refuses nested values; the writer must
    # still lose nothing if one came through).
    rows: list[dict[str, Any]] = [{"age": 30, "plan": [1, 2]}, {"age": 31, "plan": 1}]

    frame = _round_trip(rows)

    assert frame.get_column("plan").to_list() == ["[1, 2]", "1"]
    assert frame.get_column("age").to_list() == ["30", "31"]  # every row column, as text
    assert frame.get_column("__s").to_list() == [200, 200]


def test_a_rows_own_meta_key_does_not_pass_for_the_records() -> None:
    frame = decode(encode(b'{"__s":500,"age":3}\n', _meta(1), {"__s", "age"}), FEATURES)

    assert frame.row(0, named=True)["__s"] == 200
