"""The closed loop's run: the latest upload plus the recorded inferences that have their
actual outcomes, started with what triggered it and guarded against running back to back."""

from __future__ import annotations

import json
from datetime import timedelta
from pathlib import Path
from typing import Any

import polars as pl
from fastapi.testclient import TestClient

from conveyor.config import Settings
from conveyor.pipeline.retrain_schedule import ScheduledRetrain
from conveyor.samples.generate import write_churn_csv
from conveyor.serving.app import create_app
from conveyor.types import utcnow
from conveyor.wiring import build_ports
from tests.e2e.conftest import Cli, json_of
from tests.e2e.test_worker import finished, start_worker, stop, wait_for_run


def _send_with_feedback(home: Path, tmp_path: Path, rows: int) -> None:
    fresh = pl.read_csv(write_churn_csv(tmp_path / "fresh.csv", rows=rows, seed=5))
    fresh = fresh.drop("customer id")
    settings = Settings(home=home)
    with TestClient(create_app(build_ports(settings), settings)) as client:
        for row in fresh.iter_rows(named=True):
            outcome = row.pop("churned")
            answer = client.post("/predict/churn", json={"instances": [row]}).json()
            feedback = {"request_id": answer["request_id"], "actual": outcome}
            assert client.post("/feedback/churn", json=feedback).status_code == 200


def test_retrain_trains_on_the_upload_plus_labelled_inferences(
    deployed_cli: Cli, first_run: dict[str, Any], churn_csv: Path, tmp_path: Path
) -> None:
    cli = deployed_cli
    home: Path = cli.home  # type: ignore[attr-defined]
    first = first_run
    assert first["state"] == "DEPLOYED"
    assert first["report"]["trigger"] == {"type": "upload", "source": "cli"}
    _send_with_feedback(home, tmp_path, rows=300)

    started = json_of(cli("retrain", "churn", "--reason", "quarterly refresh", "--json"))
    assert started["started"] and started["feedback_rows"] == 300
    assert started["key"].startswith("churn/retrain-")
    retrain_file = home / "buckets" / "raw" / started["key"]
    upload_rows = pl.read_csv(churn_csv).height
    assert pl.read_csv(retrain_file).height == upload_rows + 300

    # A second request inside the cooldown (and while the run is queued) starts nothing.
    refused = cli("retrain", "churn", "--json")
    assert refused.returncode == 6, refused.stderr  # so that a script can tell
    again = json.loads(refused.stdout)
    assert not again["started"] and "cooldown" in again["reason"]

    worker = start_worker(home)
    try:
        run = wait_for_run(cli, lambda r: r["run_id"] != first["run_id"] and finished(r))
    finally:
        stop(worker)
    # Trained and gated: whether it beats the champion is the data's call, not this test's.
    assert run["state"] in ("DEPLOYED", "REGISTERED", "REJECTED"), run.get("failure_reason")
    assert run["raw"]["key"] == started["key"]
    trigger = run["report"]["trigger"]
    assert trigger["type"] == "manual" and trigger["reason"] == "quarterly refresh"
    assert trigger["feedback_rows"] == 300

    guarded = cli("retrain", "churn")
    assert guarded.returncode == 6 and "not retraining" in guarded.stdout
    assert "cooldown" in guarded.stdout

    # On a schedule: nothing while the newest run is fresh; a run once it is old.
    ports = build_ports(Settings(home=home))
    schedule = ScheduledRetrain(every_seconds=3600, cooldown_seconds=0)
    assert schedule(ports, "churn", utcnow()) is None
    later = schedule(ports, "churn", utcnow() + timedelta(hours=2))
    assert later is not None and later.started, later
    assert ports.table.get("trigger#churn", later.dataset_id)["trigger"]["type"] == "schedule"
