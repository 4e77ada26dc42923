"""Capture objects: one row per request row, the record's meta columns first."""

from __future__ import annotations

import io
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
import orjson
import polars as pl

from conveyor.inference.capture import captured, meta_columns
from conveyor.inference.capture_format import META_SCHEMA, encode
from conveyor.inference.records import PendingRecord, from_values
from conveyor.serving.capture import CaptureWriter
from conveyor.storage import CAPTURE
from conveyor.storage.local import LocalObjectStore

AT = datetime(2026, 3, 1, 9, 30, 15, 250000, tzinfo=UTC)
AT_MICROS = 1772357415250000


def _values(
    rows: list[dict[str, Any]] | None,
    outputs: dict[str, Any] | None = None,
    *,
    status: int = 200,
    version: int | None = 3,
    at: datetime = AT,
    project: str = "churn",
) -> PendingRecord:
    request = {"instances": rows} if rows is not None else None
    values = [project, at.timestamp(), "req-1", version, 1.5, request, outputs, status, None]
    # As an older log held them, decoded: the record writer reads them as its own records.
    return from_values(orjson.loads(orjson.dumps(values)))


def _rows(record: PendingRecord) -> list[dict[str, Any]]:
    """The record's rows as its capture object holds them (what a drift check reads)."""
    capture = captured(record)
    data = encode(capture.rows, meta_columns([capture]), capture.keys)
    return pl.read_parquet(io.BytesIO(data)).to_dicts()


def test_a_row_gets_the_records_meta_keys_in_front() -> None:
    outputs = {"predictions": ["yes"], "probabilities": [[0.25, 0.75]]}
    record = _values([{"age": 42, "plan": "pro"}], outputs)
    [row] = _rows(record)

    assert list(row)[: len(META_SCHEMA)] == list(META_SCHEMA)
    assert row == {
        "__t": AT_MICROS,
        "__v": 3,
        "__s": 200,
        "__k": 1,
        "__r": 1,
        "__p": 0.75,
        "__y": None,
        "age": 42,
        "plan": "pro",
    }


def test_each_row_of_a_request_is_a_line_and_only_the_first_counts_the_record() -> None:
    outputs = {
        "predictions": [0, 2, 1],
        "probabilities": [[0.5, 0.3, 0.2], [0.1, 0.1, 0.8], [0.2, 0.7, 0.1]],
    }
    lines = _rows(_values([{"a": 1}, {"a": 2}, {"a": 3}], outputs))

    assert [line["a"] for line in lines] == [1, 2, 3]
    assert [line["__k"] for line in lines] == [1, 0, 0]
    assert [line["__p"] for line in lines] == [0.5, 0.8, 0.7]  # the top class's


def test_a_regression_row_carries_its_predicted_value() -> None:
    [row] = _rows(_values([{"a": 1}], {"predictions": [12.5]}))

    assert row["__y"] == 12.5 and row["__p"] is None


def test_numeric_labels_are_the_rows_predicted_values() -> None:
    outputs = {"predictions": [0, 1, 1], "probabilities": [[0.9, 0.1], [0.2, 0.8], [0.4, 0.6]]}
    lines = _rows(_values([{"a": 1}, {"a": 2}, {"a": 3}], outputs))

    assert [(line["__y"], line["__p"]) for line in lines] == [(0.0, 0.1), (1.0, 0.8), (1.0, 0.6)]


def test_an_empty_row_is_the_meta_keys_alone() -> None:
    [row] = _rows(_values([{}], {"predictions": [1.0]}))

    assert row == {
        "__t": AT_MICROS,
        "__v": 3,
        "__s": 200,
        "__k": 1,
        "__r": 1,
        "__p": None,
        "__y": 1.0,
    }


def test_a_failed_or_uncaptured_request_is_one_line_without_a_row() -> None:
    failed = _rows(_values([{"a": "old"}], None, status=400, version=None))
    uncaptured = _rows(_values(None, {"predictions": [1.0]}))

    nothing = {"__p": None, "__y": None}
    assert failed == [{"__t": AT_MICROS, "__v": None, "__s": 400, "__k": 1, "__r": 0} | nothing]
    assert uncaptured == [{"__t": AT_MICROS, "__v": 3, "__s": 200, "__k": 1, "__r": 0} | nothing]


def test_a_row_cannot_pass_its_own_meta_values_for_the_records() -> None:
    [row] = _rows(_values([{"__s": 500, "__v": 9, "a": 1}], {"predictions": [1.0]}))

    assert (row["__s"], row["__v"], row["a"]) == (200, 3, 1)


def test_predictions_that_do_not_answer_the_rows_one_for_one_are_left_out() -> None:
    lines = _rows(_values([{"a": 1}, {"a": 2}], {"predictions": [1.0]}))

    assert [line["__y"] for line in lines] == [None, None]


def test_the_writer_writes_one_object_per_project_named_by_its_first_and_last_times(
    tmp_path: Path,
) -> None:
    store = LocalObjectStore(tmp_path)
    writer = CaptureWriter(store, flush_rows=3)
    later = datetime(2026, 3, 1, 10, 5, 0, tzinfo=UTC)
    writer.add(_values([{"a": 1}], {"predictions": [1.0]}, at=later))
    writer.add(_values([{"a": 2}], {"predictions": [1.0]}))
    writer.add(_values([{"a": 3}], {"predictions": [1.0]}, project="other"))
    assert store.list(CAPTURE) == []  # buffered until a flush

    writer.add(_values([{"a": 4}], {"predictions": [1.0]}, at=later))  # the third line
    writer.close()

    keys = [info.key for info in store.list(CAPTURE)]
    assert len(keys) == 2
    churn = next(key for key in keys if key.startswith("churn/"))
    assert churn.startswith("churn/2026030109/20260301T093015.250000Z_20260301T100500.000000Z_")
    assert churn.endswith("-1.parquet") and ":" not in churn
    rows = pl.read_parquet(io.BytesIO(store.get(CAPTURE, churn)))
    assert rows.get_column("a").to_list() == [1, 2, 4]
    assert rows.get_column("__t").to_list()[1] == AT_MICROS
    assert next(key for key in keys if key.startswith("other/"))


def test_a_matrix_is_captured_typed_beside_the_json_lines_of_one_flush(tmp_path: Path) -> None:
    store = LocalObjectStore(tmp_path)
    writer = CaptureWriter(store)
    outputs = {"predictions": [1, 0], "probabilities": [[0.25, 0.75], [0.5, 0.5]]}
    rows = [{"x": 1, "z": 2.5}, {"x": -3.0, "z": 4}]
    matrix = np.array([[1.0, 2.5], [-3.0, 4.0]]).tobytes()
    typed = _values(rows, outputs)._replace(columns=("x", "z"), matrix=matrix)
    writer.add(typed)
    writer.add(_values([{"x": 7, "z": 8}], {"predictions": [0], "probabilities": [[0.9, 0.1]]}))
    writer.add(_values(None, status=400))
    writer.close()

    [key] = [info.key for info in store.list(CAPTURE)]
    frame = pl.read_parquet(io.BytesIO(store.get(CAPTURE, key)))
    assert frame.schema["x"] == pl.Float64 and frame.schema["z"] == pl.Float64
    lines = sorted(frame.to_dicts(), key=lambda line: (line["__r"], line["__p"] or 0))
    assert [(line["x"], line["z"], line["__p"], line["__k"]) for line in lines] == [
        (None, None, None, 1),  # the failed request
        (7.0, 8.0, 0.1, 1),
        (-3.0, 4.0, 0.5, 0),
        (1.0, 2.5, 0.75, 1),
    ]
    assert [line["__y"] for line in lines[1:]] == [0.0, 0.0, 1.0]


def test_a_matrix_of_another_size_than_the_rows_is_left_for_their_json() -> None:
    record = _values([{"x": 1, "z": 2}], {"predictions": [1.5]})
    [row] = _rows(record._replace(columns=("x", "z"), matrix=bytes(8)))

    assert (row["x"], row["z"], row["__y"]) == (1, 2, 1.5)
