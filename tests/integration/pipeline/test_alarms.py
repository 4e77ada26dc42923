"""Alarms on a real SQLite Table: datapoints from inference records and drift checks, state
changes with their history, and the actions (log, webhook over real HTTP, retrain)."""

from __future__ import annotations

import json
import logging
import threading
from collections.abc import Iterator
from datetime import timedelta
from http.server import BaseHTTPRequestHandler, HTTPServer
from typing import Any

import pytest

from conveyor.config import Settings
from conveyor.metrics.alarm_rules import AlarmMetric, AlarmState
from conveyor.metrics.alarm_store import (
    alarm_history,
    delete_alarm,
    get_alarm,
    list_alarms,
    put_alarm,
)
from conveyor.monitoring.alarms import windows
from conveyor.monitoring.alarms.defaults import ensure_default_alarms
from conveyor.pipeline.alarms import evaluate_alarms
from conveyor.pipeline.monitor import Monitor
from conveyor.ports import Ports
from conveyor.types import to_iso, utcnow
from tests.integration.monitoring.conftest import (
    WriteRecords,
    deploy,
    errors_fast,
    register_version,
)

NOW = utcnow().replace(microsecond=0)


def no_retrain(project: str, trigger: dict[str, Any]) -> None:
    raise AssertionError(f"nothing should retrain {project}: {trigger}")


def test_windows_compute_count_error_rate_and_p99_per_period(
    ports: Ports, write_records: WriteRecords
) -> None:
    start = NOW - timedelta(seconds=120)
    write_records(start, 60, 90, latency_ms=10.0)
    write_records(start, 60, 10, status=500, latency_ms=900.0)
    write_records(start, 60, 20, status=422)
    periods = windows.periods_ending(NOW, 60, 3)
    requests = windows.load_requests(ports.table, "churn", periods[0][0], NOW)
    assert windows.request_datapoints(requests, AlarmMetric.REQUEST_COUNT, periods) == [
        0.0,
        120.0,
        0.0,
    ]
    error_rate = windows.request_datapoints(requests, AlarmMetric.ERROR_RATE, periods)
    assert error_rate[0] is None and error_rate[2] is None
    assert error_rate[1] == pytest.approx(10 / 120)  # 4xx are not the server's errors
    client = windows.request_datapoints(requests, AlarmMetric.CLIENT_ERROR_RATE, periods)
    assert client[1] == pytest.approx(20 / 120)
    p99 = windows.request_datapoints(requests, AlarmMetric.LATENCY_P99_MS, periods)
    assert p99[1] == pytest.approx(900.0)
    only_v2 = windows.load_requests(ports.table, "churn", periods[0][0], NOW, model_version=2)
    assert len(only_v2) == 0


def test_defaults_are_created_once_and_a_deleted_one_stays_deleted(ports: Ports) -> None:
    created = ensure_default_alarms(ports, "churn")
    assert sorted(created) == ["drift", "error-rate", "latency-p99", "no-traffic"]
    delete_alarm(ports.table, "churn", "latency-p99")
    deploy(ports, register_version(ports, 1))
    assert ensure_default_alarms(ports, "churn") == ["live-quality"]  # now a metric is known
    names = {s.rule.name for s in list_alarms(ports.table, "churn")}
    assert "latency-p99" not in names
    quality = get_alarm(ports.table, "churn", "live-quality").rule
    assert (quality.comparison, quality.threshold, quality.quality_metric) == ("<", 0.72, "roc_auc")


def test_slow_requests_put_the_latency_alarm_in_alarm_with_history_and_back_to_ok(
    ports: Ports, write_records: WriteRecords, caplog: pytest.LogCaptureFixture
) -> None:
    write_records(NOW - timedelta(seconds=180), 180, 300, latency_ms=750.0)
    with caplog.at_level(logging.WARNING, logger="conveyor.alarms"):
        changes = evaluate_alarms(ports, "churn", now=NOW, on_retrain=no_retrain)
    by_name = {c.alarm: c for c in changes}
    latency = by_name["latency-p99"]
    assert (latency.old_state, latency.new_state) == ("INSUFFICIENT_DATA", "ALARM")
    assert latency.reason.startswith(
        "Threshold Crossed: 3 out of the last 3 datapoints [750, 750, 750] were greater than "
        "the threshold (500)"
    )
    assert latency.actions == ({"type": "log", "ok": True},)
    assert by_name["error-rate"].new_state == "OK"
    assert "latency-p99: INSUFFICIENT_DATA -> ALARM" in caplog.text
    stored = get_alarm(ports.table, "churn", "latency-p99")
    assert stored.state is AlarmState.ALARM and stored.state_updated_at == NOW

    # no change, no new history; then fast traffic brings it back
    assert evaluate_alarms(ports, "churn", now=NOW, on_retrain=no_retrain) == []
    later = NOW + timedelta(seconds=180)
    write_records(NOW, 180, 300, latency_ms=20.0)
    back = evaluate_alarms(ports, "churn", now=later, on_retrain=no_retrain)
    assert [(c.alarm, c.new_state) for c in back] == [("latency-p99", "OK")]
    history = alarm_history(ports.table, "churn", alarm="latency-p99")
    assert [h.new_state for h in history] == ["OK", "ALARM"]  # newest first


class _Hooks(BaseHTTPRequestHandler):
    received: list[dict[str, Any]] = []

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers["content-length"]))
        self.received.append(json.loads(body))
        self.send_response(204)
        self.end_headers()

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def hook_server() -> Iterator[tuple[str, list[dict[str, Any]]]]:
    received: list[dict[str, Any]] = []
    handler = type("Hooks", (_Hooks,), {"received": received})
    server = HTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/hook", received
    finally:
        server.shutdown()
        server.server_close()


def test_a_webhook_gets_the_change_and_a_dead_one_is_reported_not_raised(
    ports: Ports,
    write_records: WriteRecords,
    hook_server: tuple[str, list[dict[str, Any]]],
) -> None:
    url, received = hook_server
    ensure_default_alarms(ports, "churn")
    rule = errors_fast(
        {"type": "webhook", "url": url}, {"type": "webhook", "url": "http://127.0.0.1:9/closed"}
    )
    put_alarm(ports.table, rule)
    write_records(NOW - timedelta(seconds=10), 10, 10, status=500)
    changes = evaluate_alarms(ports, "churn", now=NOW, on_retrain=no_retrain)
    fired = next(c for c in changes if c.alarm == "errors-fast")
    assert fired.new_state == "ALARM"
    assert [a["ok"] for a in fired.actions] == [True, False]
    assert "refused" in fired.actions[1]["error"].lower()
    assert len(received) == 1
    assert received[0]["alarm"] == "errors-fast" and received[0]["new_state"] == "ALARM"
    assert received[0]["datapoints"] == [1.0]


def test_a_drift_check_that_found_drift_asks_to_retrain_once(ports: Ports) -> None:
    calls: list[tuple[str, dict[str, Any]]] = []
    ensure_default_alarms(ports, "churn")

    def drift_check(at: object, status: str) -> None:
        stamp = to_iso(at)  # type: ignore[arg-type]
        ports.table.put(
            {"pk": "drift#churn", "sk": stamp, "project": "churn", "checked_at": stamp,
             "status": status, "rows": 500}
        )  # fmt: skip

    drift_check(NOW - timedelta(seconds=60), "OK")
    first = evaluate_alarms(ports, "churn", now=NOW, on_retrain=lambda p, t: calls.append((p, t)))
    assert [(c.alarm, c.new_state) for c in first if c.alarm == "drift"] == [("drift", "OK")]
    drift_check(NOW - timedelta(seconds=30), "DRIFT")
    fired = evaluate_alarms(ports, "churn", now=NOW, on_retrain=lambda p, t: calls.append((p, t)))
    assert [(c.alarm, c.new_state) for c in fired] == [("drift", "ALARM")]
    assert [c[0] for c in calls] == ["churn"]
    assert calls[0][1]["alarm"] == "drift" and "Threshold Crossed" in calls[0][1]["reason"]
    assert calls[0][1]["time"] == to_iso(NOW)
    # still drifting: still ALARM, no second retrain
    drift_check(NOW - timedelta(seconds=10), "DRIFT")
    assert evaluate_alarms(ports, "churn", now=NOW, on_retrain=no_retrain) == []
    assert len(calls) == 1


def test_live_quality_without_feedback_is_insufficient_data_never_alarm(ports: Ports) -> None:
    deploy(ports, register_version(ports, 1))
    evaluate_alarms(ports, "churn", now=NOW, on_retrain=no_retrain)
    quality = get_alarm(ports.table, "churn", "live-quality")
    assert quality.state is AlarmState.INSUFFICIENT_DATA
    assert quality.reason == "Insufficient Data: 1 datapoint was unknown"


def test_a_drift_check_run_by_the_monitor_starts_a_retrain_in_the_same_round(
    ports: Ports, tmp_path: Any
) -> None:
    deploy(ports, register_version(ports, 1))
    calls: list[tuple[str, dict[str, Any]]] = []

    def drift_check(ports: Ports, project: str, now: Any) -> None:
        stamp = to_iso(now + timedelta(milliseconds=5))  # the check's own clock, a bit later
        ports.table.put(
            {"pk": f"drift#{project}", "sk": stamp, "project": project, "checked_at": stamp,
             "status": "DRIFT", "rows": 800}
        )  # fmt: skip

    settings = Settings(home=tmp_path / "home")
    monitor = Monitor(
        ports, settings, on_retrain=lambda p, t: calls.append((p, t)), extra_tasks=[drift_check]
    )
    changes = monitor.step(NOW)
    assert ("drift", "ALARM") in {(c.alarm, c.new_state) for c in changes}
    assert [(project, trigger["alarm"]) for project, trigger in calls] == [("churn", "drift")]
