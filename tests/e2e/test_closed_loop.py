"""The monitoring scenario end to end, under `conveyor up`: in-distribution traffic flags no
feature and the drift alarm is OK; traffic with one numeric feature scaled x3 and one
categorical given a new dominant value flags exactly those two (`conveyor drift` exits 0,
then 3, the exit code a script gates on), the drift alarm goes to ALARM, and its retrain
action starts a run that records what triggered it — no command."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import polars as pl

from conveyor.errors import EXIT_DRIFT
from conveyor.samples.generate import write_churn_csv
from conveyor.types import to_iso, utcnow
from tests.e2e.conftest import CONVEYOR, Cli, free_port, json_of, post
from tests.e2e.test_guardrail import wait_for

REQUESTS = 500
SHIFTED_NUMERIC = "monthly charges"
SHIFTED_CATEGORY = "plan"


def held_out_rows(tmp_path: Path) -> list[dict[str, Any]]:
    """Rows from the same process as the training data, never trained on."""
    frame = pl.read_csv(write_churn_csv(tmp_path / "held-out.csv", rows=REQUESTS * 2, seed=77))
    return frame.drop("customer id", "churned").to_dicts()


def shifted(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    out = []
    for i, row in enumerate(rows):
        row = dict(row)
        if row[SHIFTED_NUMERIC] is not None:
            row[SHIFTED_NUMERIC] = row[SHIFTED_NUMERIC] * 3
        if i % 5:  # four rows in five: a plan the model never saw, now the most common
            row[SHIFTED_CATEGORY] = "platinum"
        out.append(row)
    return out


def send(port: int, rows: list[dict[str, Any]]) -> None:
    def one(row: dict[str, Any]) -> int:
        return post(port, "/predict/churn", {"instances": [row]})[0]

    with ThreadPoolExecutor(4) as pool:
        statuses = list(pool.map(one, rows))
    assert statuses == [200] * len(rows)


def poll(what: str, check: Callable[[], Any], timeout: float = 60) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        found = check()
        if found:
            return found
        time.sleep(0.5)
    raise AssertionError(f"{what} did not happen within {timeout}s")


def drifted(report: dict[str, Any]) -> set[str]:
    return {name for name, f in report["features"].items() if f["verdict"] == "drift"}


def test_drift_is_noticed_and_the_model_retrained_without_a_person(
    deployed_cli: Cli, first_run: dict[str, Any], churn_csv: Path, tmp_path: Path
) -> None:
    cli = deployed_cli
    home: Path = cli.home  # type: ignore[attr-defined]
    first = first_run
    assert first["state"] == "DEPLOYED"
    rows = held_out_rows(tmp_path)
    port = free_port()
    env = {
        **os.environ,
        "CONVEYOR_HOME": str(home),
        "CONVEYOR_MONITOR_SECONDS": "0.5",
        # The checks below are run by hand over exact windows; the schedule stays out of it.
        "CONVEYOR_DRIFT_CHECK_SECONDS": "86400",
    }
    log_path = tmp_path / "up.log"
    with log_path.open("w") as log_file:
        up = subprocess.Popen(
            [str(CONVEYOR), "up", "--port", str(port)],
            env=env,
            stdout=log_file,
            stderr=subprocess.STDOUT,
        )
        try:
            wait_for(port, rows[0], 1, timeout=60)

            def drift_alarm(state: str) -> Callable[[], dict[str, Any] | None]:
                def check() -> dict[str, Any] | None:
                    alarms = json_of(cli("alarms", "list", "churn", "--json"))
                    alarm = next(a for a in alarms if a["metric"] == "drift_status")
                    return alarm if alarm["state"] == state else None

                return check

            calm_since = to_iso(utcnow())
            send(port, rows[:REQUESTS])
            calm = json_of(cli("drift", "churn", "--since", calm_since, "--json"))
            assert calm["status"] == "OK" and calm["rows"] == REQUESTS
            assert drifted(calm) == set()
            poll("the drift alarm going OK", drift_alarm("OK"))

            shifted_since = to_iso(utcnow())
            send(port, shifted(rows[REQUESTS:]))
            found = cli("drift", "churn", "--since", shifted_since, "--json")
            assert found.returncode == EXIT_DRIFT, found.stderr
            report = json.loads(found.stdout)
            assert report["status"] == "DRIFT" and report["rows"] == REQUESTS
            assert drifted(report) == {SHIFTED_NUMERIC, SHIFTED_CATEGORY}
            # The exit code a script gates on is the same as text, unsaved.
            text = cli("drift", "churn", "--since", shifted_since, "--no-save")
            assert text.returncode == EXIT_DRIFT == 3 and "DRIFT" in text.stdout, text.stderr
            alarm = poll("the drift alarm going to ALARM", drift_alarm("ALARM"))

            def retrain_run() -> dict[str, Any] | None:
                runs = json_of(cli("runs", "list", "--json"))
                return next((r for r in runs if r["run_id"] != first["run_id"]), None)

            run = poll("a retraining run", retrain_run)
            trigger = run["report"]["trigger"]
            assert trigger["type"] == "alarm" and trigger["alarm"] == alarm["name"]
            assert "DRIFT" in trigger["reason"] or "Threshold Crossed" in trigger["reason"]
            finished = poll(
                "the retraining run to end",
                lambda: (
                    (r := json_of(cli("runs", "show", run["run_id"], "--json")))["state"]
                    in ("DEPLOYED", "REGISTERED", "REJECTED", "FAILED")
                    and r
                ),
                timeout=120,
            )
            # The gate decides as for any upload: the same data rarely beats its champion,
            # which then keeps serving.
            assert finished["state"] != "FAILED", finished["failure_reason"]
            assert finished["report"]["gate"]["reason"]
        finally:
            up.send_signal(signal.SIGINT)
            up.wait(timeout=60)
    assert up.returncode == 0, log_path.read_text()[-5000:]
    assert "retrain churn" in log_path.read_text()
