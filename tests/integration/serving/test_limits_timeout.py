"""A batch answered 504 claims no answer: once its thread has scored it anyway, no inference
record and no 200 in the metrics are left for it, and the next request is answered and
recorded as usual."""

from __future__ import annotations

import threading
import time
from pathlib import Path

from fastapi.testclient import TestClient
from prometheus_client.parser import text_string_to_metric_families

from conveyor.config import Settings
from conveyor.inference.records import list_inferences
from conveyor.ports import Ports
from conveyor.serving.app import create_app
from tests.rows import CHURN_ROW


def wait_for_thread_to_end(name: str, timeout: float = 60.0) -> None:
    """The timed-out batch's thread runs on; wait until it has scored and ended."""
    deadline = time.monotonic() + timeout
    while any(thread.name == name for thread in threading.enumerate()):
        assert time.monotonic() < deadline, f"thread {name!r} still runs"
        time.sleep(0.02)


def requests_by_status(client: TestClient) -> dict[str, float]:
    counts: dict[str, float] = {}
    for family in text_string_to_metric_families(client.get("/metrics").text):
        for sample in family.samples:
            if sample.name == "conveyor_requests_total" and sample.labels["project"] == "churn":
                status = sample.labels["status"]
                counts[status] = counts.get(status, 0.0) + sample.value
    return counts


def test_a_batch_answered_504_leaves_no_record_and_the_next_request_is_answered(
    home: Path, ports: Ports
) -> None:
    settings = Settings(home=home, request_timeout_seconds=0.001)
    app = create_app(ports, settings, poll_seconds=0.05)
    with TestClient(app) as client:
        late = client.post(
            "/predict/churn",
            json={"instances": [CHURN_ROW] * 10_000},
            headers={"x-request-id": "late-1"},
        )
        assert late.status_code == 504, late.text
        assert late.json()["error"] == "request_timeout"
        assert "CONVEYOR_REQUEST_TIMEOUT_SECONDS" in late.json()["message"]
        wait_for_thread_to_end("predict-batch late-1")  # it scored all 10,000 rows

        following = client.post(
            "/predict/churn", json={"instances": [CHURN_ROW]}, headers={"x-request-id": "next-1"}
        )
        assert following.status_code == 200, following.text
        assert len(following.json()["predictions"]) == 1
        assert requests_by_status(client) == {"504": 1.0, "200": 1.0}
    # The server stopped gracefully: every acknowledged record is written.
    records = {record.request_id: record for record in list_inferences(ports.table, "churn")}
    assert set(records) == {"next-1"}
    answered = records["next-1"]
    assert answered.status == 200 and answered.outputs is not None
    assert len(answered.outputs["predictions"]) == 1


def test_a_batch_within_the_timeout_is_recorded_once_with_its_answer(
    home: Path, ports: Ports
) -> None:
    # Over 16 KiB: scored on a thread of its own, its record handed on once it is answered.
    app = create_app(ports, Settings(home=home), poll_seconds=0.05)
    with TestClient(app) as client:
        answer = client.post(
            "/predict/churn",
            json={"instances": [CHURN_ROW] * 500},
            headers={"x-request-id": "batch-1"},
        )
        assert answer.status_code == 200, answer.text
        assert requests_by_status(client) == {"200": 1.0}
    (record,) = list_inferences(ports.table, "churn")
    assert record.request_id == "batch-1" and record.status == 200
    assert record.outputs is not None and len(record.outputs["predictions"]) == 500
    assert record.inputs is not None and len(record.inputs) == 500
