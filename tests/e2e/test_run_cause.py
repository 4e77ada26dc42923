"""A retrain says why it happened wherever its run is shown: a drift alarm's retrain reads
"retrain: drift on monthly charges, plan" in `runs list`, "retrained because drift on …" in
`runs show`, the API's run JSON, the run page and the page of the version it trained; the
upload it followed reads "upload churn.csv". The closed loop with the project's holdout: the
retrain's model and the champion are scored on the holdout's rows, and a challenger that does
not beat the champion there waits for a person with both numbers shown."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from fastapi.testclient import TestClient

from conveyor.config import Settings
from conveyor.monitoring.drift.check import run_drift_check, save_drift_check
from conveyor.pipeline.alarms import evaluate_alarms
from conveyor.pipeline.retrain import retrain_on_alarm
from conveyor.serving.app import create_app
from conveyor.types import utcnow
from conveyor.wiring import build_ports
from tests.e2e.conftest import Cli, json_of
from tests.e2e.test_closed_loop import SHIFTED_CATEGORY, SHIFTED_NUMERIC, held_out_rows, shifted
from tests.e2e.test_worker import finished, start_worker, stop, wait_for_run

ROWS = 200  # twice the drift check's minimum
BATCH = 50


def _words(text: str) -> str:
    return " ".join(text.split())  # a terminal table or page may break a line anywhere


def test_a_drift_retrain_says_why_wherever_its_run_is_shown(
    deployed_cli: Cli, first_run: dict[str, Any], churn_csv: Path, tmp_path: Path
) -> None:
    cli = deployed_cli
    home: Path = cli.home  # type: ignore[attr-defined]
    first = first_run
    assert first["state"] == "DEPLOYED"
    settings = Settings(home=home)
    ports = build_ports(settings)

    # Traffic with two features shifted, a drift check that flags them, and the default drift
    # alarm's retrain action, as the monitor of `conveyor up` would run them.
    since = utcnow()
    rows = shifted(held_out_rows(tmp_path)[:ROWS])
    with TestClient(create_app(ports, settings)) as client:
        for start in range(0, ROWS, BATCH):
            batch = {"instances": rows[start : start + BATCH]}
            assert client.post("/predict/churn", json=batch).status_code == 200
    report = run_drift_check(ports, "churn", since=since, until=utcnow())
    assert set(report.drifted) == {SHIFTED_NUMERIC, SHIFTED_CATEGORY}
    save_drift_check(ports.table, report)
    changes = evaluate_alarms(
        ports, "churn", now=utcnow(), on_retrain=retrain_on_alarm(ports, cooldown_seconds=0)
    )
    assert [(c.alarm, c.new_state) for c in changes if c.new_state == "ALARM"] == [
        ("drift", "ALARM")
    ]

    worker = start_worker(home)
    try:
        run = wait_for_run(cli, lambda r: r["run_id"] != first["run_id"] and finished(r))
    finally:
        stop(worker)
    assert run["state"] != "FAILED", run["failure_reason"]
    because = f"drift on {', '.join(sorted(report.drifted, key=list(report.features).index))}"
    assert run["cause"]["kind"] == "drift" and because in run["cause"]["sentence"]

    listed = _words(cli("runs", "list").stdout)
    assert f"retrain: {because}" in listed
    assert "upload churn.csv" in listed  # the first run: an upload, by the CLI
    shown = _words(cli("runs", "show", run["run_id"]).stdout)
    assert f"cause retrained because {because} at " in shown
    assert "upload of churn.csv (by the CLI)" in _words(cli("runs", "show", first["run_id"]).stdout)

    with TestClient(create_app(build_ports(settings), settings)) as client:
        cause = client.get(f"/api/v1/runs/{run['run_id']}").json()["cause"]
        assert cause["kind"] == "drift" and cause["retrain"]
        assert cause["short"] == f"retrain: {because}"
        assert cause["sentence"].startswith(f"retrained because {because} at ")
        page = _words(client.get(f"/ui/runs/{run['run_id']}").text)
        assert f'id="run-cause">retrained because {because} at ' in page
        project = _words(client.get("/ui/projects/churn").text)
        assert f">retrain: {because}</span>" in project
        version = _words(client.get(f"/ui/projects/churn/versions/{run['model_version']}").text)
        assert f'id="version-cause">a retrain because {because} at ' in version

    # The loop's gate: challenger and champion on the same holdout rows, both numbers kept;
    # trained on the same upload again, it does not beat the champion and waits for a person.
    holdout_rows = first["report"]["holdout"]["rows"]
    version = json_of(cli("models", "show", "churn", str(run["model_version"]), "--json"))
    gate = version["gate"]
    assert gate["split"] == "holdout" and gate["rows"] == holdout_rows
    assert gate["champion_version"] == 1 and "on the same rows" in gate["reason"]
    same = gate["scores"]["holdout"]
    assert same["challenger"]["roc_auc"] == gate["candidate"]
    assert same["champion"]["roc_auc"] == gate["champion"]
    assert run["state"] == "REGISTERED"
    assert version["approval_status"] == "PendingManualApproval"
    models = _words(cli("models", "show", "churn", str(run["model_version"])).stdout)
    assert f"{gate['candidate']:.4f}" in models and f"{gate['champion']:.4f}" in models
    assert "holdout (the gate's)" in models
