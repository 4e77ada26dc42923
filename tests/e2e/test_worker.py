"""The worker as a daemon: a file copied into raw/ by any tool starts a run, and a worker
killed mid-run leaves nothing running forever: its successor finishes the run."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import time
from pathlib import Path

from tests.e2e.conftest import CONVEYOR, Cli, json_of


def start_worker(home: Path) -> subprocess.Popen[str]:
    env = {**os.environ, "CONVEYOR_HOME": str(home)}
    return subprocess.Popen(
        [str(CONVEYOR), "worker"],
        env=env,
        text=True,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
    )


def wait_for_run(cli: Cli, predicate, timeout: float = 120.0):  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout
    runs: list[dict[str, object]] = []
    while time.monotonic() < deadline:
        runs = json_of(cli("runs", "list", "--json"))
        if runs and predicate(runs[0]):
            return runs[0]
        time.sleep(0.3)
    raise AssertionError(f"no run reached the expected state in {timeout}s: {runs}")


def finished(run: dict[str, object]) -> bool:
    return run["state"] in ("DEPLOYED", "REGISTERED", "REJECTED", "FAILED")


def stop(worker: subprocess.Popen[str]) -> str:
    worker.send_signal(signal.SIGTERM)
    output, _ = worker.communicate(timeout=30)
    return output


def test_a_file_copied_into_raw_starts_a_run(cli: Cli, churn_csv: Path) -> None:
    json_of(cli("project", "create", "churn", "--target", "churned", "--json"))
    worker = start_worker(cli.home)  # type: ignore[attr-defined]
    try:
        dest = cli.home / "buckets" / "raw" / "churn"  # type: ignore[attr-defined]
        dest.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(churn_csv, dest / "dropped-in.csv")
        run = wait_for_run(cli, finished)
        assert run["state"] == "DEPLOYED", run.get("failure_reason")
        assert run["raw"]["key"] == "churn/dropped-in.csv"
    finally:
        output = stop(worker)
    assert worker.returncode == 0, output


def test_a_killed_worker_s_run_is_finished_by_the_next_worker(cli: Cli, churn_csv: Path):
    json_of(cli("project", "create", "churn", "--target", "churned", "--json"))
    worker = start_worker(cli.home)  # type: ignore[attr-defined]
    try:
        uploaded = cli("upload", str(churn_csv), "-p", "churn")
        assert uploaded.returncode == 0, uploaded.stderr
        wait_for_run(cli, lambda r: r["state"] in ("PREPROCESSING", "TRAINING"), timeout=60)
    finally:
        worker.kill()  # no goodbye: the heartbeat and leases stay behind
        worker.communicate(timeout=30)
    successor = start_worker(cli.home)  # type: ignore[attr-defined]
    try:
        run = wait_for_run(cli, finished)
        assert run["state"] == "DEPLOYED", run.get("failure_reason")
        assert json_of(cli("models", "list", "churn", "--json"))[0]["run_id"] == run["run_id"]
    finally:
        stop(successor)
