"""`conveyor up` as a user runs it: a file copied into raw/ ends up served over real HTTP, and
a deploy under a concurrent request loop drops nothing and records everything."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import threading
import time
from pathlib import Path

from conveyor.samples.generate import write_churn_csv
from tests.e2e.conftest import CONVEYOR, ROW, Cli, free_port, json_of, post


def wait_for_version(port: int, version: int, timeout: float = 120.0) -> None:
    deadline = time.monotonic() + timeout
    last: object = None
    while time.monotonic() < deadline:
        try:
            status, body = post(port, "/predict/churn", {"instances": [ROW]})
            last = body
            if status == 200 and body["model_version"] == version:
                return
        except OSError as exc:
            last = exc
        time.sleep(0.3)
    raise AssertionError(f"version {version} was not served in {timeout}s: {last}")


def test_up_serves_a_dropped_file_and_swaps_deploys_without_dropping_a_request(
    cli: Cli, tmp_path: Path
) -> None:
    home: Path = cli.home  # type: ignore[attr-defined]
    json_of(cli("project", "create", "churn", "--target", "churned", "--json"))
    port = free_port()
    up = subprocess.Popen(
        [str(CONVEYOR), "up", "--port", str(port)],
        env={**os.environ, "CONVEYOR_HOME": str(home)},
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        raw = home / "buckets" / "raw" / "churn"
        raw.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(
            write_churn_csv(tmp_path / "first.csv", rows=900, seed=21), raw / "first.csv"
        )
        wait_for_version(port, 1)  # no command in between: copy → train → gate → serve

        second = cli(
            "upload",
            str(write_churn_csv(tmp_path / "second.csv", rows=900, seed=22)),
            "-p",
            "churn",
            "--wait",
        )
        assert second.returncode == 0, second.stderr
        if json_of(cli("runs", "list", "--json"))[0]["state"] == "DEPLOYED":
            json_of(cli("models", "rollback", "churn", "--json"))
            wait_for_version(port, 1)

        ok_ids: list[str] = []
        failures: list[object] = []
        stop = threading.Event()

        def loop() -> None:
            while not stop.is_set():
                status, body = post(port, "/predict/churn", {"instances": [ROW]})
                if status == 200:
                    ok_ids.append(str(body["request_id"]))
                else:
                    failures.append(body)

        threads = [threading.Thread(target=loop) for _ in range(4)]
        for thread in threads:
            thread.start()
        time.sleep(0.5)
        json_of(cli("models", "deploy", "churn", "2", "--approve", "--json"))
        wait_for_version(port, 2)
        time.sleep(0.5)
        stop.set()
        for thread in threads:
            thread.join()
        assert failures == []
        assert len(ok_ids) > 20
    finally:
        up.send_signal(signal.SIGINT)
        output, _ = up.communicate(timeout=60)
    assert up.returncode == 0, output
    records = json_of(cli("inferences", "churn", "--limit", "100000", "--json"))
    recorded = {r["request_id"] for r in records}
    assert set(ok_ids) <= recorded  # every 2xx has its record after a graceful stop
