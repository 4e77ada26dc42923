"""`kill -9` of `conveyor up` (the server and its record writer at once) under a request loop:
after a restart every acknowledged request has its inference record, the registry and runs
are as they were, a run caught training is finished or failed with a reason, and the same
versions are served again."""

from __future__ import annotations

import http.client
import json
import os
import random
import signal
import subprocess
import threading
import time
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from pathlib import Path

import pytest

from conveyor.config import Settings
from conveyor.inference.records import list_inferences
from conveyor.samples.generate import write_churn_csv
from conveyor.wiring import build_table
from tests.e2e.conftest import CONVEYOR, ROW, Cli, free_port, json_of
from tests.e2e.test_worker import wait_for_run

KILLS = 3
OUTCOMES = ("DEPLOYED", "REGISTERED", "REJECTED", "FAILED")


def start_up(home: Path, port: int) -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        [str(CONVEYOR), "up", "--port", str(port)],
        env={**os.environ, "CONVEYOR_HOME": str(home)},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )


def descendants(pid: int) -> list[int]:
    """Every process below ``pid`` (the record writer runs in a session of its own)."""
    children: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        parent = int(stat.rsplit(")", 1)[1].split()[1])
        children.setdefault(parent, []).append(int(entry.name))
    found, frontier = [], [pid]
    while frontier:
        below = children.get(frontier.pop(), [])
        found += below
        frontier += below
    return found


def kill_9(up: subprocess.Popen[bytes]) -> None:
    """SIGKILL to the server's process group and every process it started, all at once."""
    below = descendants(up.pid)
    os.killpg(up.pid, signal.SIGKILL)
    for pid in below:
        with suppress(ProcessLookupError):
            os.kill(pid, signal.SIGKILL)
    up.wait(timeout=30)


def predict(port: int) -> tuple[int, dict[str, object]]:
    request = urllib.request.Request(
        f"http://127.0.0.1:{port}/predict/churn",
        data=json.dumps({"instances": [ROW]}).encode(),
        headers={"content-type": "application/json"},
    )
    with urllib.request.urlopen(request, timeout=5) as response:
        return response.status, json.loads(response.read())


def wait_served(port: int, timeout: float = 60.0) -> int:
    """The version the server answers with, once it answers."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            status, body = predict(port)
            if status == 200:
                return int(body["model_version"])  # type: ignore[call-overload]
        except (OSError, http.client.HTTPException):
            if time.monotonic() > deadline:
                raise
        time.sleep(0.2)


@contextmanager
def request_loop(port: int) -> Iterator[list[str]]:
    """Requests as fast as one client sends them; yields the ids of those that got a 2xx."""
    acked: list[str] = []
    stop = threading.Event()

    def loop() -> None:
        while not stop.is_set():
            try:
                status, body = predict(port)
            # The server died mid-request (or mid-answer): not acknowledged.
            except (OSError, http.client.HTTPException):
                continue
            if 200 <= status < 300:
                acked.append(str(body["request_id"]))

    thread = threading.Thread(target=loop)
    thread.start()
    try:
        yield acked
    finally:
        stop.set()
        thread.join(timeout=30)


def recorded_ids(home: Path, expected: set[str], timeout: float = 20.0) -> set[str]:
    """The request ids with a record, waiting for the restarted writer to replay them."""
    table = build_table(Settings(home=home))
    deadline = time.monotonic() + timeout
    while True:
        found = {r.request_id for r in list_inferences(table, "churn")}
        if expected <= found or time.monotonic() > deadline:
            return found
        time.sleep(0.3)


def snapshot(cli: Cli) -> tuple[object, object]:
    models = json_of(cli("models", "list", "churn", "--json"))
    runs = json_of(cli("runs", "list", "--json"))
    return (
        [(m["version"], m["run_id"]) for m in models],
        {r["run_id"]: r["state"] for r in runs},
    )


@pytest.mark.slow  # three kills under load, ~40 s: run by make bench (pytest -m slow)
def test_kill_9_under_load_loses_no_acknowledged_record(
    cli: Cli, churn_csv: Path, tmp_path: Path
) -> None:
    home: Path = cli.home  # type: ignore[attr-defined]
    json_of(cli("upload", str(churn_csv), "-p", "churn", "--target", "churned", "--wait", "--json"))
    port = free_port()
    up = start_up(home, port)
    served = wait_served(port)
    before = snapshot(cli)
    all_acked: set[str] = set()
    losses = []
    training_run = None
    try:
        for kill in range(1, KILLS + 1):
            if kill == KILLS:  # the last kill catches a run mid-training
                csv = write_churn_csv(tmp_path / "second.csv", rows=3000, seed=5)
                assert cli("upload", str(csv), "-p", "churn").returncode == 0
                training_run = wait_for_run(cli, lambda r: r["state"] == "TRAINING", 60)
            with request_loop(port) as acked:
                time.sleep(random.uniform(0.5, 1.5))
                kill_9(up)
            assert len(acked) > 20, "the request loop barely ran"
            all_acked |= set(acked)
            up = start_up(home, port)
            now_served = wait_served(port)
            # The same deployed version, served again (the run resumed after the last kill
            # may already have deployed its own).
            assert now_served == served or (kill == KILLS and now_served > served), now_served
            found = recorded_ids(home, set(acked))
            missing = set(acked) - found
            losses.append((len(acked), len(acked) - len(missing)))
            print(f"kill {kill}: acknowledged {len(acked)}, recorded {len(acked) - len(missing)}")
            assert not missing, f"kill {kill}: {len(missing)} of {len(acked)} acked records lost"
        assert training_run is not None
        resumed = wait_for_run(
            cli, lambda r: r["run_id"] == training_run["run_id"] and r["state"] in OUTCOMES, 120
        )
        assert resumed["state"] != "FAILED" or resumed["failure_reason"], resumed
    finally:
        up.send_signal(signal.SIGINT)
        try:
            up.wait(timeout=60)
        except subprocess.TimeoutExpired:
            kill_9(up)

    models, runs = snapshot(cli)
    old_models, old_runs = before
    assert models[-len(old_models) :] == old_models  # type: ignore[index,arg-type]
    assert all(runs[run_id] == state for run_id, state in old_runs.items())  # type: ignore[index,attr-defined]
    assert all_acked <= recorded_ids(home, all_acked)
