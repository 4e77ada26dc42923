"""Drift checks on a real SQLite home: the deployed version's records, its profiles, the
saved result; and ``conveyor drift`` as a user types it."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import numpy as np
import orjson
import polars as pl
import pytest

from conveyor.errors import InvalidInput, NotFound
from conveyor.inference.records import InferenceRecord
from conveyor.monitoring.drift.check import (
    DriftReport,
    run_drift_check,
    save_drift_check,
)
from conveyor.monitoring.drift.store import latest_drift_check
from conveyor.monitoring.profile import build_profile, prediction_profile, prediction_profile_key
from conveyor.ports import Ports
from conveyor.storage import PROCESSED, REPORTS
from conveyor.tabular.schema import DatasetSchema, FeatureKind, FeatureSpec
from conveyor.types import Algorithm, ModelVersion, ObjectRef, Task

PROJECT = "churn"
START = datetime(2026, 3, 1, 9, 0, tzinfo=UTC)
SCHEMA = DatasetSchema(
    target="churned",
    task=Task.BINARY,
    classes=("no", "yes"),
    features=(
        FeatureSpec("age", FeatureKind.NUMERIC, nullable=True),
        FeatureSpec("monthly fee", FeatureKind.NUMERIC),
        FeatureSpec("plan", FeatureKind.CATEGORICAL),
        FeatureSpec("autopay", FeatureKind.BOOLEAN, true_values=("yes",), false_values=("no",)),
        FeatureSpec("signup", FeatureKind.DATETIME, date_format="%Y-%m-%d"),
    ),
)
PLANS = ("basic", "pro", "team")


def _rows(rng: np.random.Generator, n: int, *, fee_scale: float = 1.0) -> list[dict[str, Any]]:
    return [
        {
            "age": None if rng.random() < 0.05 else int(rng.integers(18, 80)),
            "monthly fee": round(float(rng.gamma(4, 10)) * fee_scale, 2),
            "plan": PLANS[int(rng.choice(3, p=[0.6, 0.3, 0.1]))],
            "autopay": "yes" if rng.random() < 0.7 else "no",
            "signup": f"2024-{int(rng.integers(1, 13)):02d}-{int(rng.integers(1, 28)):02d}",
        }
        for _ in range(n)
    ]


def _deploy(ports: Ports, *, with_prediction_profile: bool = True) -> ModelVersion:
    rng = np.random.default_rng(0)
    training = pl.DataFrame(_rows(rng, 3000)).with_columns(churned=pl.lit("no"))
    from conveyor.tabular.coerce import coerce_frame

    typed = coerce_frame(training, SCHEMA, with_target=True)
    version = ports.registry.create_version(
        ModelVersion(
            project=PROJECT,
            version=0,
            run_id="run-1",
            artifact=ObjectRef("models", f"{PROJECT}/run-1/model.tar.gz"),
            sha256="0" * 64,
            dataset_id="ds1",
            raw=ObjectRef("raw", f"{PROJECT}/data.csv"),
            task=Task.BINARY,
            algorithm=Algorithm.LIGHTGBM,
            primary_metric="roc_auc",
            metrics={},
            hyperparameters={},
            input_schema=SCHEMA.to_dict(),
            package_version="0",
            git_commit=None,
        )
    )
    ports.store.put(
        PROCESSED, f"{PROJECT}/ds1/profile.json", orjson.dumps(build_profile(typed, SCHEMA))
    )
    if with_prediction_profile:
        p = rng.beta(2, 5, 600)
        profile = prediction_profile(np.column_stack([1 - p, p]), Task.BINARY)
        ports.store.put(REPORTS, prediction_profile_key(PROJECT, "run-1"), orjson.dumps(profile))
    ports.endpoint.update_endpoint(PROJECT, version.version, version.artifact, version.sha256)
    return version


def _record(i: int, rows: list[dict[str, Any]] | None, **changes: Any) -> dict[str, Any]:
    p = [float(x) for x in np.random.default_rng(i).beta(2, 5, len(rows or [None]))]
    fields: dict[str, Any] = {
        "project": PROJECT,
        "timestamp": START + timedelta(seconds=i),
        "request_id": f"r{i:06d}",
        "model_version": 1,
        "latency_ms": 1.0,
        "inputs": rows,
        "outputs": {
            "predictions": ["yes" if v > 0.5 else "no" for v in p],
            "probabilities": [[1 - v, v] for v in p],
        },
        "status": 200,
    }
    fields.update(changes)
    return InferenceRecord(**fields).to_item()


def _write_traffic(ports: Ports, *, count: int = 600, fee_scale: float = 1.0) -> None:
    rng = np.random.default_rng(42)
    items = [_record(i, _rows(rng, 1, fee_scale=fee_scale)) for i in range(count)]
    # A request of 3 rows, a number sent as text, and records that must not count: a 4xx,
    # one of another version, one whose inputs were not captured, one after the window.
    items.append(_record(count, _rows(rng, 3, fee_scale=fee_scale)))
    text_row = _rows(rng, 1, fee_scale=fee_scale)[0] | {"age": "41"}
    items.append(_record(count + 1, [text_row]))
    items.append(_record(count + 2, _rows(rng, 1), status=422, outputs=None, error="bad"))
    items.append(_record(count + 3, _rows(rng, 1), model_version=7))
    items.append(_record(count + 4, None))
    items.append(_record(7200, _rows(rng, 1)))
    ports.table.put_many(items)


def test_the_deployed_versions_traffic_is_compared_with_its_training(ports: Ports) -> None:
    _deploy(ports)
    _write_traffic(ports)

    report = run_drift_check(ports, PROJECT, since=START, until=START + timedelta(hours=1))

    assert report.status == "OK", report.drifted
    assert report.records == 605 and report.rows == 600 + 3 + 1
    assert set(report.features) == {"age", "monthly fee", "plan", "autopay", "signup"}
    assert report.features["autopay"]["kind"] == "boolean"
    assert report.features["signup"]["psi"] is not None
    assert report.prediction["available"] and report.prediction["verdict"] == "ok"


def test_a_scaled_feature_drifts_and_the_check_is_saved(ports: Ports) -> None:
    _deploy(ports)
    _write_traffic(ports, fee_scale=3.0)

    report = run_drift_check(ports, PROJECT, since=START, until=START + timedelta(hours=1))
    save_drift_check(ports.table, report)

    assert report.status == "DRIFT" and report.drifted == ["monthly fee"]
    saved = latest_drift_check(ports.table, PROJECT)
    assert saved is not None
    assert saved["pk"] == f"drift#{PROJECT}" and saved["status"] == "DRIFT"
    assert saved["features"]["monthly fee"]["verdict"] == "drift"
    assert saved["features"]["monthly fee"]["score"] == report.features["monthly fee"]["psi"]
    assert DriftReport.from_item(saved).drifted == ["monthly fee"]
    assert latest_drift_check(ports.table, "other") is None


def test_an_empty_window_is_insufficient_data(ports: Ports) -> None:
    _deploy(ports, with_prediction_profile=False)

    report = run_drift_check(ports, PROJECT, since=START, until=START + timedelta(hours=1))

    assert report.status == "INSUFFICIENT_DATA" and report.rows == 0
    assert report.prediction["available"] is False


def test_no_deployed_version_or_a_backwards_window_is_a_clear_error(ports: Ports) -> None:
    with pytest.raises(NotFound, match="no deployed version"):
        run_drift_check(ports, PROJECT, since=START, until=START + timedelta(hours=1))
    with pytest.raises(InvalidInput, match="start before it ends"):
        run_drift_check(ports, PROJECT, since=START, until=START)


def _cli(home: Path, *args: str) -> subprocess.CompletedProcess[str]:
    conveyor = Path(sys.executable).parent / "conveyor"
    env = {**os.environ, "CONVEYOR_HOME": str(home), "COLUMNS": "200"}
    return subprocess.run(
        [str(conveyor), *args], env=env, capture_output=True, text=True, timeout=120, check=False
    )


def test_conveyor_drift_prints_json_writes_html_and_saves(ports: Ports, tmp_path: Path) -> None:
    _deploy(ports)
    _write_traffic(ports, fee_scale=3.0)
    home = tmp_path / "home"
    window = ["--since", "2026-03-01T09:00:00Z", "--until", "2026-03-01T10:00"]

    as_json = _cli(home, "drift", PROJECT, *window, "--json", "--no-save")
    table = _cli(home, "drift", PROJECT, *window, "--html", str(tmp_path / "out" / "drift.html"))

    assert as_json.returncode == 3, as_json.stderr  # drift found
    report = json.loads(as_json.stdout)
    assert report["status"] == "DRIFT" and report["drifted"] == ["monthly fee"]
    assert report["window_start"] == "2026-03-01T09:00:00.000000+00:00"
    assert table.returncode == 3, table.stderr
    assert "DRIFT" in table.stdout and "monthly fee" in table.stdout
    page = (tmp_path / "out" / "drift.html").read_text()
    assert page.startswith("<!doctype html>") and "<svg" in page and "http" not in page
    saved = latest_drift_check(ports.table, PROJECT)
    assert saved is not None and saved["status"] == "DRIFT"


def test_conveyor_drift_explains_what_is_missing(tmp_path: Path) -> None:
    home = tmp_path / "home"

    nothing = _cli(home, "drift", "ghost")
    bad_time = _cli(home, "drift", "ghost", "--since", "yesterday")

    assert nothing.returncode == 4 and "no deployed version" in nothing.stderr
    assert bad_time.returncode == 2 and "--since 'yesterday'" in bad_time.stderr
