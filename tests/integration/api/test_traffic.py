"""/api/v1/projects/{project}/traffic: per-step numbers from records written here with known
latencies and statuses."""

from __future__ import annotations

import math
import time
from datetime import UTC, datetime, timedelta

from fastapi.testclient import TestClient

from conveyor.inference.records import InferenceRecord
from conveyor.ports import Ports
from conveyor.types import from_iso, utcnow

T = "/api/v1/projects/churn/traffic"


def _write(ports: Ports, rows: list[tuple[datetime, float, int]]) -> None:
    ports.table.put_many(
        InferenceRecord("churn", moment, f"req-{i}", 1, latency, None, None, status).to_item()
        for i, (moment, latency, status) in enumerate(rows)
    )


def _step_start(step: float) -> datetime:
    """The start of the last point the API will return (the step that holds now)."""
    now = utcnow().timestamp()
    return datetime.fromtimestamp(math.floor(now / step) * step, UTC)


def test_traffic_per_step_from_known_records(client: TestClient, ports: Ports) -> None:
    step = 60.0
    current = _step_start(step)
    earlier = current - timedelta(seconds=2 * step)
    # The step before last: latencies 1..100 ms, 10 of them answered 500 and 5 answered 400.
    rows = [
        (
            earlier + timedelta(seconds=i * 0.5),
            float(i + 1),
            500 if i < 10 else 400 if i < 15 else 200,
        )
        for i in range(100)
    ]
    rows.append((current - timedelta(hours=2), 9999.0, 500))  # outside the window
    _write(ports, rows)
    response = client.get(T, params={"window": 600, "step": step})
    assert response.status_code == 200, response.text
    body = response.json()
    assert len(body["t"]) == 10 and body["step"] == 60
    assert from_iso(body["start"]) == current + timedelta(seconds=step) - timedelta(seconds=600)
    index = body["t"].index(next(t for t in body["t"] if from_iso(t) == earlier))
    assert body["requests_per_second"][index] == 100 / step
    assert body["latency_p50_ms"][index] == 50.5  # numpy's linear interpolation of 1..100
    assert body["latency_p99_ms"][index] == 99.01
    assert body["error_rate"][index] == 0.10  # 5xx only; the 400s are the caller's
    assert body["client_error_rate"][index] == 0.05  # ...and shown beside them
    others = [i for i in range(10) if i != index]
    assert all(body["requests_per_second"][i] == 0 for i in others)
    assert all(body["latency_p99_ms"][i] is None for i in others)
    assert all(body["error_rate"][i] is None for i in others)


def test_traffic_of_10k_records_is_fast(client: TestClient, ports: Ports) -> None:
    now = utcnow()
    _write(
        ports,
        [(now - timedelta(seconds=i * 0.35), float(i % 50), 200) for i in range(10_000)],
    )
    client.get(T)  # warm
    started = time.perf_counter()
    body = client.get(T, params={"window": 3600, "step": 60}).json()
    seconds = time.perf_counter() - started
    assert sum(r * 60 for r in body["requests_per_second"]) == 10_000
    print(f"traffic over 10,000 records: {seconds * 1000:.0f} ms")
    assert seconds < 1.0


def test_traffic_refuses_bad_windows(client: TestClient) -> None:
    for params, field in (
        ({"window": 0}, "query.window"),
        ({"step": -1}, "query.step"),
        ({"window": "long"}, "query.window"),
        ({"window": 86400, "step": 1}, "step"),
        ({"window": 30, "step": 8e307}, "query.step"),  # once a 500: past the end of time
        ({"window": 860898, "step": 5e-324}, "query.step"),  # once a 500: infinite points
        ({"window": 5e-324, "step": 5e-324}, "query.step"),  # once a 500: now / step infinite
        ({"step": 0.5}, "query.step"),
    ):
        response = client.get(T, params=params)
        assert response.status_code in (400, 422), response.text
        assert response.json()["field"] == field
    assert client.get("/api/v1/projects/nosuch/traffic").status_code == 404
