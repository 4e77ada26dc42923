"""/api/v1 drift and alarms: the latest drift check, a check run now, alarms and history."""

from __future__ import annotations

from pathlib import Path

from fastapi.testclient import TestClient

from conveyor.metrics import alarm_store
from conveyor.metrics.alarm_store import AlarmTransition
from conveyor.types import utcnow
from tests.conftest import conveyor
from tests.integration.serving.test_predict import ROW

D = "/api/v1/projects/churn/drift"


def test_drift_404_until_checked_then_the_latest_check(home: Path, client: TestClient) -> None:
    missing = client.get(D)
    assert missing.status_code == 404 and "no drift check" in missing.json()["message"]
    checked = client.post(D, json={"window": 600})
    assert checked.status_code == 200, checked.text
    report = checked.json()
    assert report["status"] == "INSUFFICIENT_DATA" and report["rows"] == 0
    assert report["model_version"] == 1
    latest = client.get(D).json()
    assert latest["checked_at"] == report["checked_at"]
    assert set(latest["features"]) == set(report["features"])


def test_drift_over_recorded_requests(home: Path, ports: object) -> None:
    from conveyor.config import Settings
    from conveyor.serving.app import create_app
    from conveyor.wiring import build_ports

    app = create_app(build_ports(Settings(home=home)), Settings(home=home), poll_seconds=0.05)
    with TestClient(app) as client:
        for i in range(12):  # 120 rows: more than the 100 a verdict needs
            rows = [{**ROW, "age": 20 + (i * 10 + j) % 40} for j in range(10)]
            assert client.post("/predict/churn", json={"instances": rows}).status_code == 200
    with TestClient(app) as client:
        report = client.post(D).json()
        assert report["rows"] == 120
        assert report["features"]["age"]["kind"] == "numeric"
        assert report["status"] in ("OK", "DRIFT")
        # The CLI's latest check is the one the API saved.
        summary = client.get("/api/v1/projects").json()[0]
        assert summary["drift_status"] == report["status"]


def test_drift_errors(client: TestClient) -> None:
    bad = client.post(D, json={"window": -5})
    assert bad.status_code == 422 and bad.json()["field"] == "window"
    too_long = client.post(D, json={"window": 4.95e307})  # once a 500 (found by fuzzing)
    assert too_long.status_code == 422 and too_long.json()["field"] == "window"
    client.post("/api/v1/projects", json={"name": "fresh", "target": "y"})
    undeployed = client.post("/api/v1/projects/fresh/drift")
    assert undeployed.status_code == 404 and "no deployed version" in undeployed.json()["message"]
    assert client.get("/api/v1/projects/nosuch/drift").status_code == 404


def test_alarms_as_the_cli_lists_them(home: Path, client: TestClient) -> None:
    alarms = client.get("/api/v1/projects/churn/alarms")
    assert alarms.status_code == 200
    by_api = {a["name"]: a["state"] for a in alarms.json()}
    by_cli = {a["name"]: a["state"] for a in conveyor(home, "alarms", "list", "churn")}  # type: ignore[union-attr]
    assert by_api == by_cli and by_api


def test_alarm_history_newest_first(client: TestClient, ports: object) -> None:
    from conveyor.ports import Ports

    assert isinstance(ports, Ports)
    assert client.get("/api/v1/projects/churn/alarms/history").json() == []
    for i, (old, new) in enumerate((("OK", "ALARM"), ("ALARM", "OK"))):
        alarm_store.record_history(
            ports.table,
            AlarmTransition(
                project="churn",
                alarm="latency",
                metric="latency_p99_ms",
                old_state=old,
                new_state=new,
                reason=f"change {i}",
                timestamp=utcnow(),
            ),
        )
    history = client.get("/api/v1/projects/churn/alarms/history").json()
    assert [(h["old_state"], h["new_state"]) for h in history] == [("ALARM", "OK"), ("OK", "ALARM")]
    one = client.get("/api/v1/projects/churn/alarms/history", params={"limit": 1}).json()
    assert len(one) == 1
    assert client.get("/api/v1/projects/nosuch/alarms").status_code == 404
    assert client.get("/api/v1/projects/nosuch/alarms/history").status_code == 404
