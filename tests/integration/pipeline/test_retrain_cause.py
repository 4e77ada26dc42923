"""A retrain asked by an alarm keeps what the alarm saw (its metric, threshold and last value),
so that its run can say why it exists after the alarm has moved on."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

from conveyor.metrics.alarm_store import put_alarm
from conveyor.pipeline.alarms import evaluate_alarms
from conveyor.pipeline.cause import run_cause
from conveyor.pipeline.retrain import retrain_on_alarm
from conveyor.ports import Ports
from conveyor.projects import create_project
from conveyor.samples.generate import write_churn_csv
from conveyor.storage import RAW
from conveyor.types import utcnow
from tests.integration.monitoring.conftest import (
    WriteRecords,
    deploy,
    errors_fast,
    register_version,
)


def test_an_error_rate_retrain_says_how_high_the_errors_were(
    ports: Ports, write_records: WriteRecords, tmp_path: Path
) -> None:
    now = utcnow().replace(microsecond=0)
    create_project(ports.table, "churn", target="churned")
    ports.store.put_file(RAW, "churn/churn.csv", write_churn_csv(tmp_path / "c.csv", rows=50))
    deploy(ports, register_version(ports, 1))
    put_alarm(ports.table, errors_fast({"type": "retrain"}))
    write_records(now - timedelta(seconds=10), 10, 8, status=500)
    write_records(now - timedelta(seconds=10), 10, 2, status=200)

    evaluate_alarms(ports, "churn", now=now, on_retrain=retrain_on_alarm(ports))

    [item] = ports.table.query("trigger#churn")
    trigger = item["trigger"]
    assert trigger["metric"] == "error_rate" and trigger["value"] == 0.8
    cause = run_cause(trigger, "churn/churn.csv")
    assert cause.kind == "alarm" and cause.short == "retrain: error_rate above 0.1"
    assert cause.sentence.startswith(
        "retrained because error_rate rose above 0.1 (it was 0.8) at "
        f"{now:%Y-%m-%d %H:%M} UTC (alarm errors-fast); trained on the latest upload again"
    )
