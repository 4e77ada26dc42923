"""Loading a window of records: the fast cut of one-row records and the full parse of the rest
give exactly the rows and predictions a plain JSON reading gives."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import numpy as np
import orjson
import polars as pl
import pytest

from conveyor.inference.records import InferenceRecord
from conveyor.monitoring.drift.window import load_window
from conveyor.ports import Ports
from conveyor.tabular.coerce import coerce_frame
from conveyor.tabular.schema import DatasetSchema, FeatureKind, FeatureSpec
from conveyor.types import Task

START = datetime(2026, 3, 1, 9, 0, tzinfo=UTC)
FEATURES = (
    FeatureSpec("amount", FeatureKind.NUMERIC, nullable=True),
    FeatureSpec("city", FeatureKind.CATEGORICAL, nullable=True),
)


def _record(i: int, rows: list[dict[str, Any]], outputs: dict[str, Any], **changes: Any) -> Any:
    fields: dict[str, Any] = {
        "project": "p",
        "timestamp": START + timedelta(seconds=i),
        "request_id": f"r{i:04d}",
        "model_version": 2,
        "latency_ms": 1.0,
        "inputs": rows,
        "outputs": outputs,
        "status": 200,
    }
    return InferenceRecord(**(fields | changes)).to_item()


def _traffic(task: Task) -> tuple[list[dict[str, Any]], list[dict[str, Any]], list[float]]:
    """(items, the rows that count, their predictions)."""
    rng = np.random.default_rng(1)
    items, rows, scores = [], [], []
    cities = ["Zürich", "São Paulo", 'quote " and {brace}', "plain", None]
    for i in range(300):
        count = 3 if i % 50 == 0 else 1  # some requests of several rows
        batch = [
            {
                "amount": None if rng.random() < 0.1 else round(float(rng.normal(50, 10)), 3),
                "city": cities[int(rng.integers(0, len(cities)))],
            }
            for _ in range(count)
        ]
        if i % 37 == 0:
            batch[0]["amount"] = "42.5"  # a number sent as text
        p = [round(float(v), 6) for v in rng.random(count)]
        outputs: dict[str, Any]
        if task is Task.REGRESSION:
            outputs = {"predictions": p}
        else:
            outputs = {"predictions": ["a"] * count, "probabilities": [[1 - v, v] for v in p]}
        item = _record(i, batch, outputs)
        if i % 41 == 0:  # the same record with its keys in another order
            item = dict(reversed(list(item.items())))
        items.append(item)
        rows += batch
        scores += p
    items.append(_record(900, [{"amount": 1.0, "city": "x"}], {"predictions": [0.5]}, status=422))
    items.append(
        _record(901, [{"amount": 1.0, "city": "x"}], {"predictions": [0.5]}, model_version=1)
    )
    items.append(_record(902, None, {"predictions": [0.5]}))  # type: ignore[arg-type]
    return items, rows, scores


@pytest.mark.parametrize("task", [Task.BINARY, Task.REGRESSION], ids=["binary", "regression"])
def test_a_window_reads_as_a_plain_json_reading_would(ports: Ports, task: Task) -> None:
    schema = DatasetSchema(target="y", task=task, features=FEATURES)
    items, rows, scores = _traffic(task)
    ports.table.put_many(orjson.loads(orjson.dumps(items)))

    window = load_window(
        ports.table, "p", since=START, until=START + timedelta(hours=1), schema=schema, version=2
    )

    expected = coerce_frame(
        pl.DataFrame(rows, schema={"amount": pl.String, "city": pl.String}), schema
    )
    order = ["amount", "city"]
    assert window.records == len(items)
    assert window.used == len(items) - 3
    assert window.frame.sort(order, nulls_last=True).equals(expected.sort(order, nulls_last=True))
    assert sorted(window.predictions.tolist()) == pytest.approx(sorted(scores))
