"""The Table-derived metrics, read from a real SQLite Table at scrape time."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest

from conveyor.events.sqlite import SqliteEventBus
from conveyor.inference.records import InferenceRecord
from conveyor.projects import create_project
from conveyor.serving.table_metrics import (
    TableCollector,
    drift_metrics,
    pipeline_metrics,
    quality_metrics,
)
from conveyor.tables.sqlite import SqliteTable
from conveyor.types import ObjectRef, Run, RunState, StageTiming, to_iso, utcnow
from tests.unit.metrics.test_prometheus import Families, samples_of, value


def _run(state: RunState, stages: dict[str, float | None], project: str = "churn") -> Run:
    start = utcnow() - timedelta(hours=1)
    timings = {}
    for name, seconds in stages.items():
        finished = start + timedelta(seconds=seconds) if seconds is not None else None
        timings[name] = StageTiming(start, finished)
        start += timedelta(seconds=(seconds or 0) + 1)
    return Run(
        run_id=f"r-{len(stages)}-{state.value}",
        project=project,
        raw=ObjectRef("raw", f"{project}/x.csv"),
        dataset_id="d",
        state=state,
        stages=timings,
    )


def test_stage_durations_say_which_stage_a_failed_run_failed_in() -> None:
    runs = [
        _run(RunState.DEPLOYED, {"preprocess": 0.4, "train": 3.0, "evaluate": 0.2}),
        _run(RunState.FAILED, {"preprocess": 0.7, "train": 40.0}),  # the job failed
        _run(RunState.TRAINING, {"preprocess": 0.6, "train": None}),  # still training
    ]
    samples = samples_of(Families(pipeline_metrics(runs)))

    stage = "conveyor_pipeline_stage_duration_seconds"
    ok = {"project": "churn", "outcome": "success"}
    assert value(samples, f"{stage}_count", stage="preprocess", **ok) == 3
    assert value(samples, f"{stage}_sum", stage="preprocess", **ok) == pytest.approx(1.7)
    assert value(samples, f"{stage}_count", stage="train", **ok) == 1
    failed = {"project": "churn", "stage": "train", "outcome": "failure"}
    assert value(samples, f"{stage}_count", **failed) == 1
    assert value(samples, f"{stage}_bucket", le="30.0", **failed) == 0
    assert value(samples, f"{stage}_bucket", le="60.0", **failed) == 1
    assert value(samples, "conveyor_pipeline_runs_total", project="churn", state="FAILED") == 1
    assert value(samples, "conveyor_pipeline_runs_total", project="churn", state="DEPLOYED") == 1
    assert value(samples, "conveyor_pipeline_runs_active", project="churn", state="TRAINING") == 1


def _drift_item(project: str, checked_at: str, status: str, psi: float) -> dict[str, object]:
    return {
        "pk": f"drift#{project}",
        "sk": checked_at,
        "project": project,
        "checked_at": checked_at,
        "status": status,
        "rows": 500,
        "features": {
            "age": {"kind": "numeric", "score": psi, "verdict": "drift" if psi > 0.2 else "ok"},
            "plan": {"kind": "categorical", "score": 0.01, "verdict": "ok"},
        },
        "prediction": {},
    }


def test_drift_metrics_come_from_the_latest_check(tmp_path: Path) -> None:
    table = SqliteTable(tmp_path / "t.db")
    earlier = to_iso(utcnow() - timedelta(hours=2))
    latest = utcnow() - timedelta(minutes=5)
    table.put(_drift_item("churn", earlier, "OK", 0.05))
    table.put(_drift_item("churn", to_iso(latest), "DRIFT", 0.31))

    samples = samples_of(Families(drift_metrics(table, ["churn", "no-checks-yet"])))

    assert value(samples, "conveyor_drift_score", project="churn", feature="age") == 0.31
    assert value(samples, "conveyor_drift_score", project="churn", feature="plan") == 0.01
    status = "conveyor_drift_status"
    assert value(samples, status, project="churn", status="DRIFT") == 1
    assert value(samples, status, project="churn", status="OK") == 0
    checked = value(samples, "conveyor_drift_check_timestamp_seconds", project="churn")
    assert checked == pytest.approx(latest.timestamp(), abs=1e-3)
    assert not any(labels and ("project", "no-checks-yet") in labels for _, labels in samples)


def test_model_quality_per_version_from_feedback(tmp_path: Path) -> None:
    table = SqliteTable(tmp_path / "t.db")
    now = utcnow()
    for index in range(30):
        predicted = "yes" if index % 2 else "no"
        record = InferenceRecord(
            project="churn",
            timestamp=now - timedelta(minutes=30, seconds=index),
            request_id=f"req-{index}",
            model_version=2,
            latency_ms=0.3,
            inputs=[{"age": index}],
            outputs={"predictions": [predicted], "probabilities": [[0.4, 0.6]]},
            status=200,
        )
        table.put(record.to_item())
        actual = predicted if index < 24 else ("no" if predicted == "yes" else "yes")
        stamp = to_iso(now - timedelta(minutes=10, seconds=index))
        table.put(
            {
                "pk": "feedback#churn",
                "sk": f"{stamp}#req-{index}",
                "project": "churn",
                "request_id": f"req-{index}",
                "actual": actual,
                "received_at": stamp,
            }
        )

    samples = samples_of(Families(quality_metrics(table, ["churn"])))

    labels = {"project": "churn", "version": "2"}
    quality = value(samples, "conveyor_model_quality", metric="accuracy", **labels)
    assert quality == pytest.approx(24 / 30)
    assert value(samples, "conveyor_model_quality_labelled_rows", **labels) == 30


def test_table_values_are_cached_between_scrapes(tmp_path: Path) -> None:
    table = SqliteTable(tmp_path / "t.db")
    events = SqliteEventBus(tmp_path / "t.db")
    table.put(_drift_item("churn", to_iso(utcnow()), "OK", 0.05))
    create_project(table, "churn", target="churned")
    cached = TableCollector(table, events, cache_seconds=3600)
    fresh = TableCollector(table, events, cache_seconds=0)
    samples_of(cached)
    table.put(_drift_item("churn", to_iso(utcnow() + timedelta(seconds=1)), "DRIFT", 0.5))

    assert value(samples_of(cached), "conveyor_drift_status", project="churn", status="OK") == 1
    assert value(samples_of(fresh), "conveyor_drift_status", project="churn", status="DRIFT") == 1
