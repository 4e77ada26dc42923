"""Data capture through the real server: after a graceful stop the capture holds every
request's rows, and a drift window read from it is the window read from the Table."""

from __future__ import annotations

import dataclasses
import io
from datetime import timedelta
from pathlib import Path
from typing import Any

import numpy as np
import polars as pl
from fastapi.testclient import TestClient

from conveyor.config import Settings
from conveyor.inference.records import list_inferences
from conveyor.model.artifact import Predictor
from conveyor.model.encode import FeatureEncoder
from conveyor.model.estimators import fit_model
from conveyor.monitoring.drift.window import _load_capture, load_window
from conveyor.ports import Ports
from conveyor.serving.app import create_app
from conveyor.storage import CAPTURE
from conveyor.tabular.schema import DatasetSchema, FeatureKind
from conveyor.types import Algorithm, utcnow
from tests.integration.serving.test_predict import ROW


def test_a_graceful_stop_leaves_a_capture_that_reads_as_the_table(home: Path, ports: Ports) -> None:
    since = utcnow()
    app = create_app(ports, Settings(home=home))
    with TestClient(app) as client:
        for i in range(120):
            rows = [{**ROW, "age": 20 + i % 50}] * (3 if i % 10 == 0 else 1)
            assert client.post("/predict/churn", json={"instances": rows}).status_code == 200
        bad = client.post("/predict/churn", json={"instances": [{**ROW, "age": "old"}]})
        assert bad.status_code == 400
        # Batch requests: every row captured, and their Table items hold them as sent.
        batch = [{**ROW, "age": 70 + i % 20} for i in range(100)]
        for _ in range(2):
            assert client.post("/predict/churn", json={"instances": batch}).status_code == 200
    until = utcnow() + timedelta(seconds=1)

    keys = [info.key for info in ports.store.list(CAPTURE, "churn/")]
    assert keys, "no capture object after a graceful stop"
    assert all(key.endswith(".parquet") for key in keys)
    lines = [
        line
        for key in keys
        for line in pl.read_parquet(io.BytesIO(ports.store.get(CAPTURE, key))).to_dicts()
    ]
    assert sum(line["__k"] for line in lines) == 123  # every record, the failed one too
    assert sum(line["__r"] for line in lines) == 108 + 12 * 3 + 200
    assert {line["age"] for line in lines if line["__r"]} == set(range(20, 90))
    records = list_inferences(ports.table, "churn")
    assert [r.inputs for r in records if r.inputs is not None and len(r.inputs) == 100] == [
        batch,
        batch,
    ]

    version = ports.registry.get_version("churn", 1)
    schema = DatasetSchema.from_dict(version.input_schema)
    window: dict[str, Any] = {"since": since, "until": until, "schema": schema, "version": 1}
    from_table = load_window(ports.table, "churn", **window)
    from_capture = load_window(ports.table, "churn", store=ports.store, **window)

    assert _load_capture(ports.store, ports.table, "churn", **window) is not None
    assert (from_capture.records, from_capture.used) == (from_table.records, from_table.used)
    assert from_capture.used == 122
    order = schema.feature_names
    assert from_capture.frame.sort(order).equals(from_table.frame.sort(order))
    assert from_capture.predictions is not None and from_table.predictions is not None
    assert len(from_capture.predictions) == 144 + 200
    np.testing.assert_array_equal(
        np.sort(from_capture.predictions), np.sort(from_table.predictions)
    )


def _numeric_churn(served: Predictor) -> Predictor:
    """A linear model of churn's numeric columns alone, fitted here on a few rows: a model whose
    requests carry numeric features only, which the server records with their matrix."""
    numeric = [spec for spec in served.schema.features if spec.kind is FeatureKind.NUMERIC]
    schema = dataclasses.replace(served.schema, features=tuple(numeric))
    rng = np.random.default_rng(5)
    frame = pl.DataFrame({spec.name: rng.normal(40, 10, 200) for spec in numeric})
    encoder = FeatureEncoder().fit(frame, schema)
    x = encoder.transform(frame)
    y = (x[:, 0] > 40).astype(np.float64)
    model = fit_model(
        Algorithm.LINEAR, schema.task, x, y, x, y,
        categorical_indices=[], n_classes=2, hyperparameters={}, seed=1,
    )  # fmt: skip
    return Predictor(schema, encoder, model, {"algorithm": "linear"})


def test_numeric_batches_are_captured_from_their_matrix(home: Path, ports: Ports) -> None:
    since = utcnow()
    app = create_app(ports, Settings(home=home))
    with TestClient(app) as client:
        holder = app.state.holder
        served = holder.get("churn")
        assert served is not None
        numeric = _numeric_churn(served.predictor)
        holder._models["churn"] = dataclasses.replace(served, predictor=numeric)
        names = numeric.schema.feature_names
        batches = [
            [{name: 20 + (i + j) % 50 + k for k, name in enumerate(names)} for j in range(100)]
            for i in range(3)
        ]
        batches.append([{**batches[0][0], names[0]: None}] * 20)  # a null: sent as JSON
        for batch in batches:
            assert client.post("/predict/churn", json={"instances": batch}).status_code == 200
    until = utcnow() + timedelta(seconds=1)

    [key] = [info.key for info in ports.store.list(CAPTURE, "churn/")]
    frame = pl.read_parquet(io.BytesIO(ports.store.get(CAPTURE, key)))
    assert frame.height == 320 and frame.get_column("__k").sum() == 4
    assert frame.schema[names[0]] == pl.Float64
    sent = sorted(tuple(float(row[n]) for n in names) for batch in batches[:3] for row in batch)
    typed = frame.filter(pl.col(names[0]).is_not_null()).select(names).rows()
    assert sorted(typed) == sent
    window: dict[str, Any] = {"since": since, "until": until, "schema": numeric.schema}
    from_table = load_window(ports.table, "churn", version=1, **window)
    from_capture = load_window(ports.table, "churn", version=1, store=ports.store, **window)
    assert from_capture.used == from_table.used == 4
    assert from_capture.frame.sort(names).equals(from_table.frame.sort(names))
    assert from_capture.predictions is not None and from_table.predictions is not None
    np.testing.assert_array_equal(
        np.sort(from_capture.predictions), np.sort(from_table.predictions)
    )
