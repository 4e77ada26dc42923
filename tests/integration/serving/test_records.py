"""Every request is recorded — after a graceful stop, none is missing."""

from __future__ import annotations

from pathlib import Path

from fastapi.testclient import TestClient

from conveyor.config import Settings
from conveyor.serving.app import create_app
from conveyor.serving.records import list_inferences
from conveyor.wiring import Ports
from tests.integration.serving.test_predict import ROW


def test_every_request_has_its_record_after_a_graceful_stop(home: Path, ports: Ports) -> None:
    app = create_app(ports, Settings(home=home))
    ids = []
    with TestClient(app) as client:
        for i in range(300):
            response = client.post("/predict/churn", json={"instances": [{**ROW, "age": i}]})
            ids.append(response.json()["request_id"])
        bad = client.post(
            "/predict/churn",
            json={"instances": [{**ROW, "age": "old"}]},
            headers={"x-request-id": "bad-1"},
        )
        assert bad.status_code == 400
    records = list_inferences(ports.table, "churn")
    assert {r.request_id for r in records} == {*ids, "bad-1"}
    good = next(r for r in records if r.request_id == ids[7])
    assert good.model_version == 1 and good.status == 200
    assert good.inputs == [{**ROW, "age": 7}]
    assert good.outputs is not None and len(good.outputs["predictions"]) == 1
    assert good.latency_ms > 0
    failed = next(r for r in records if r.request_id == "bad-1")
    assert failed.status == 400 and "expects a number" in (failed.error or "")


def test_capture_rate_zero_keeps_records_but_not_inputs(home: Path, ports: Ports) -> None:
    app = create_app(ports, Settings(home=home), capture_rate=0.0)
    with TestClient(app) as client:
        for _ in range(20):
            assert client.post("/predict/churn", json={"instances": [ROW]}).status_code == 200
    records = list_inferences(ports.table, "churn")
    assert len(records) == 20
    assert all(r.inputs is None and r.outputs is not None for r in records)
