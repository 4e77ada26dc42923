"""Every default alarm leaves INSUFFICIENT_DATA once a project has labelled traffic, for each
task: the live-quality alarm asks for the deployed version's primary metric (ROC-AUC,
macro F1, RMSE), and live quality computes it."""

from __future__ import annotations

from pathlib import Path

import polars as pl
import pytest
from fastapi.testclient import TestClient

from conveyor.config import Settings
from conveyor.monitoring.alarms.defaults import DEFAULT_NAMES
from conveyor.serving.app import create_app
from conveyor.wiring import build_ports
from tests.e2e.conftest import Cli, json_of

_QUICK = '{"num_boost_round": 40}'
# project -> (the churn sample's column it predicts, its task, the live-quality metric)
_TASKS = {
    "binary": ("churned", "roc_auc"),
    "multiclass": ("plan", "f1_macro"),
    "regression": ("monthly charges", "rmse"),
}


def _labelled_traffic(home: Path, project: str, target: str, rows: pl.DataFrame) -> None:
    """Requests of 10 rows each, every row's actual outcome sent back."""
    settings = Settings(home=home)
    rows = rows.drop("customer id")
    with TestClient(create_app(build_ports(settings), settings)) as client:
        for batch in rows.iter_slices(10):
            actual = batch.get_column(target).to_list()
            instances = batch.drop(target).to_dicts()
            answer = client.post(f"/predict/{project}", json={"instances": instances})
            assert answer.status_code == 200, answer.text
            feedback = {"request_id": answer.json()["request_id"], "actual": actual}
            assert client.post(f"/feedback/{project}", json=feedback).status_code == 200


# Binary runs in make test; the other tasks' live quality (macro-F1, RMSE) is the same path
# with another metric, 30 s each, so they run with the benchmarks' heavier cases.
@pytest.mark.parametrize(
    "task",
    [pytest.param(task, marks=() if task == "binary" else pytest.mark.slow) for task in _TASKS],
    ids=list(_TASKS),
)
def test_every_default_alarm_reaches_ok_or_alarm(
    task: str, cli: Cli, churn_csv: Path, tmp_path: Path
) -> None:
    home: Path = cli.home  # type: ignore[attr-defined]
    target, metric = _TASKS[task]
    upload = ["upload", str(churn_csv), "-p", task, "--target", target, "--task", task]
    run = json_of(cli(*upload, "--params", _QUICK, "--wait", "--json"))
    assert run["state"] == "DEPLOYED", run.get("failure_reason")
    alarms = {a["name"]: a for a in json_of(cli("alarms", "list", task, "--json"))}
    assert set(alarms) == set(DEFAULT_NAMES)
    assert alarms["live-quality"]["quality_metric"] == metric
    # Off by default; on, it must be able to decide too.
    json_of(cli("alarms", "put", task, "no-traffic", "--enable", "--json"))

    # Enough rows for the drift check (100) and for live quality (20).
    _labelled_traffic(home, task, target, pl.read_csv(churn_csv).head(150))
    cli("drift", task, "--window", "1h")  # its exit code says drift or not; either will do

    json_of(cli("alarms", "evaluate", task, "--json"))
    states = {a["name"]: a["state"] for a in json_of(cli("alarms", "list", task, "--json"))}
    assert set(states) == set(DEFAULT_NAMES)
    undecided = {name: state for name, state in states.items() if state == "INSUFFICIENT_DATA"}
    assert not undecided, (undecided, json_of(cli("alarms", "list", task, "--json")))
