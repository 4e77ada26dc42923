"""A window read from the data capture is the window read from the Table: the same rows,
predictions and counts, whether the capture covers all of it, only its older part, or misses
a record (then the Table is read)."""

from __future__ import annotations

import io
from datetime import timedelta
from typing import Any

import numpy as np
import orjson
import polars as pl
import pytest

from conveyor.inference.records import PendingRecord, from_values
from conveyor.monitoring.drift.window import Window, _load_capture, load_window
from conveyor.ports import Ports
from conveyor.serving.capture import CaptureWriter
from conveyor.storage import CAPTURE
from conveyor.tabular.schema import DatasetSchema
from conveyor.types import Task, from_iso
from tests.integration.monitoring.drift.test_window import FEATURES, START, _traffic

UNTIL = START + timedelta(hours=1)


def _values(item: dict[str, Any]) -> PendingRecord:
    """The PendingRecord the record writer would have received for ``item``."""
    inputs = item["inputs"]
    values = [
        item["project"],
        from_iso(item["timestamp"]).timestamp(),
        item["request_id"],
        item["model_version"],
        item["latency_ms"],
        {"instances": inputs} if inputs is not None else None,
        item["outputs"],
        item["status"],
        item.get("error"),
    ]
    return from_values(orjson.loads(orjson.dumps(values)))


def _write(ports: Ports, items: list[dict[str, Any]], captured: list[dict[str, Any]]) -> None:
    ports.table.put_many(orjson.loads(orjson.dumps(items)))
    capture = CaptureWriter(ports.store, flush_rows=100)
    for item in captured:
        capture.add(_values(item))
    capture.close()


def _both(ports: Ports, schema: DatasetSchema) -> tuple[Window, Window]:
    kwargs: dict[str, Any] = {"since": START, "until": UNTIL, "schema": schema, "version": 2}
    from_table = load_window(ports.table, "p", **kwargs)
    from_capture = load_window(ports.table, "p", store=ports.store, **kwargs)
    return from_table, from_capture


def _assert_same(first: Window, second: Window) -> None:
    """Equal counts, and equal rows and predictions in any order (the Table's reader takes
    one-row records before the others of each chunk)."""
    assert (first.records, first.used) == (second.records, second.used)
    order = first.frame.columns
    assert first.frame.schema == second.frame.schema
    assert first.frame.sort(order, nulls_last=True).equals(
        second.frame.sort(order, nulls_last=True)
    )
    assert first.predictions is not None and second.predictions is not None
    np.testing.assert_array_equal(np.sort(first.predictions), np.sort(second.predictions))


@pytest.mark.parametrize("task", [Task.BINARY, Task.REGRESSION], ids=["binary", "regression"])
def test_the_capture_gives_the_window_the_table_gives(ports: Ports, task: Task) -> None:
    schema = DatasetSchema(target="y", task=task, features=FEATURES)
    items, rows, _ = _traffic(task)
    _write(ports, items, items)

    from_table, from_capture = _both(ports, schema)

    _assert_same(from_table, from_capture)
    assert from_capture.frame.height == len(rows)
    captured = _load_capture(
        ports.store, ports.table, "p", since=START, until=UNTIL, schema=schema, version=2
    )
    assert captured is not None and captured[0].records == len(items)  # read from the capture


def test_records_newer_than_the_capture_are_read_from_the_table(ports: Ports) -> None:
    schema = DatasetSchema(target="y", task=Task.BINARY, features=FEATURES)
    items, _, _ = _traffic(Task.BINARY)
    _write(ports, items, items[:200])  # a writer that has not flushed its last records yet

    from_table, from_capture = _both(ports, schema)

    _assert_same(from_table, from_capture)
    captured = _load_capture(
        ports.store, ports.table, "p", since=START, until=UNTIL, schema=schema, version=2
    )
    assert captured is not None and captured[0].records == 200


def test_a_capture_missing_a_record_of_the_table_is_not_used(ports: Ports) -> None:
    schema = DatasetSchema(target="y", task=Task.BINARY, features=FEATURES)
    items, _, _ = _traffic(Task.BINARY)
    _write(ports, items, items[:150] + items[151:])  # e.g. another writer's, still buffered

    from_table, from_capture = _both(ports, schema)

    _assert_same(from_table, from_capture)
    assert from_capture.records == len(items)
    captured = _load_capture(
        ports.store, ports.table, "p", since=START, until=UNTIL, schema=schema, version=2
    )
    assert captured is None


def test_json_lines_from_before_parquet_are_not_read_and_the_table_is(ports: Ports) -> None:
    schema = DatasetSchema(target="y", task=Task.BINARY, features=FEATURES)
    items, _, _ = _traffic(Task.BINARY)
    _write(ports, items, items)
    # An earlier release's object of the same records: same name, .jsonl, one line a row.
    for info in ports.store.list(CAPTURE, "p/"):
        frame = pl.read_parquet(io.BytesIO(ports.store.get(CAPTURE, info.key)))
        ports.store.delete(CAPTURE, info.key)
        ports.store.put(
            CAPTURE, info.key.replace(".parquet", ".jsonl"), frame.write_ndjson().encode()
        )

    from_table, from_capture = _both(ports, schema)

    _assert_same(from_table, from_capture)
    captured = _load_capture(
        ports.store, ports.table, "p", since=START, until=UNTIL, schema=schema, version=2
    )
    assert captured is None


def test_matrices_in_the_capture_give_the_window_the_table_gives(ports: Ports) -> None:
    # The numeric feature alone: the records whose every amount is a number come with their
    # matrix, as the server sends them; the others (a null, a number sent as text) as JSON.
    schema = DatasetSchema(target="y", task=Task.BINARY, features=FEATURES[:1])
    items, _, _ = _traffic(Task.BINARY)
    for item in items:
        if item["inputs"] is not None:
            item["inputs"] = [{"amount": row["amount"]} for row in item["inputs"]]
    ports.table.put_many(orjson.loads(orjson.dumps(items)))
    capture = CaptureWriter(ports.store, flush_rows=100)
    typed = 0
    for item in items:
        record = _values(item)
        amounts = [row["amount"] for row in item["inputs"] or []]
        if record.status == 200 and amounts and all(type(a) is float for a in amounts):
            matrix = np.array(amounts, dtype=np.float64).tobytes()
            record = record._replace(columns=("amount",), matrix=matrix)
            typed += 1
        capture.add(record)
    capture.close()

    from_table, from_capture = _both(ports, schema)

    assert typed > 200
    _assert_same(from_table, from_capture)
    captured = _load_capture(
        ports.store, ports.table, "p", since=START, until=UNTIL, schema=schema, version=2
    )
    assert captured is not None and captured[0].records == len(items)  # read from the capture
