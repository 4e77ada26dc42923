"""Structured logs as a user reads them: a run's own log file, `conveyor logs --run` with the
training log, and `conveyor logs --request` finding a failed request and its record."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import time
from pathlib import Path
from typing import Any

from tests.e2e.conftest import CONVEYOR, ROW, Cli, free_port, json_of, post


def json_lines(text: str) -> list[dict[str, Any]]:
    return [json.loads(line) for line in text.splitlines() if line.strip()]


def test_each_run_keeps_its_own_log_and_logs_run_adds_the_training_log(
    deployed_cli: Cli, first_run: dict[str, Any], churn_csv: Path, tmp_path: Path
) -> None:
    cli = deployed_cli
    home: Path = cli.home  # type: ignore[attr-defined]
    good = first_run
    header_only = tmp_path / "header-only.csv"
    header_only.write_text(churn_csv.read_text().splitlines()[0] + "\n")
    bad = cli("upload", str(header_only), "-p", "churn", "--wait", "--json")
    assert bad.returncode != 0
    bad_run = json_of(cli("runs", "list", "--json"))[0]
    assert bad_run["state"] == "FAILED" and bad_run["run_id"] != good["run_id"]

    run_file = home / "logs" / "runs" / f"{good['run_id']}.jsonl"
    lines = json_lines(run_file.read_text())
    assert lines and all(line["run_id"] == good["run_id"] for line in lines)
    assert all({"ts", "level", "logger", "message"} <= set(line) for line in lines)
    assert any(line.get("state") == "DEPLOYED" and line.get("version") == 1 for line in lines)

    shown = cli("logs", "--run", good["run_id"])
    assert shown.returncode == 0, shown.stderr
    entries = json_lines(shown.stdout)
    assert {e["run_id"] for e in entries} == {good["run_id"]}
    training = [e["message"] for e in entries if e["logger"] == "training"]
    assert any("validation:roc_auc=" in message for message in training)
    assert [e["ts"] for e in entries] == sorted(e["ts"] for e in entries)

    failed = json_lines(cli("logs", "--run", bad_run["run_id"]).stdout)
    assert failed and {e["run_id"] for e in failed} == {bad_run["run_id"]}
    assert any(e["level"] == "warning" and e.get("state") == "FAILED" for e in failed)
    warnings = json_lines(cli("logs", "--level", "warning", "--project", "churn").stdout)
    assert {e["run_id"] for e in warnings} == {bad_run["run_id"]}

    unknown = cli("logs", "--run", "r-nope")
    assert unknown.returncode == 4 and "r-nope" in unknown.stderr


def test_logs_request_finds_a_failed_request_and_its_record(
    deployed_cli: Cli, churn_csv: Path
) -> None:
    cli = deployed_cli
    home: Path = cli.home  # type: ignore[attr-defined]
    port = free_port()
    server = subprocess.Popen(
        [str(CONVEYOR), "serve", "--port", str(port)],
        env={**os.environ, "CONVEYOR_HOME": str(home)},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        _wait_until_serving(port)
        status, _ = _post_with_id(port, {"instances": [{**ROW, "age": "old"}]}, "bad-req-1")
        assert status == 400
        assert _post_with_id(port, {"instances": [ROW]}, "good-req-1")[0] == 200
    finally:
        server.send_signal(signal.SIGINT)
        _, console = server.communicate(timeout=60)
    assert server.returncode == 0, console
    assert "bad-req-1" not in console  # a client's bad rows do not flood the server's console

    found = json_lines(cli("logs", "--request", "bad-req-1").stdout)
    (line,) = [e for e in found if e.get("event") != "inference"]
    assert line["level"] == "warning" and line["status"] == 400
    assert (line["request_id"], line["project"], line["version"]) == ("bad-req-1", "churn", 1)
    assert "age" in line["error"]
    (record,) = [e for e in found if e.get("event") == "inference"]
    assert record["request_id"] == "bad-req-1" and record["status"] == 400
    assert record["inputs"] == [{**ROW, "age": "old"}]

    # A 2xx is not logged (the hot path), but its record is found, in the named project.
    (only_record,) = json_lines(cli("logs", "--request", "good-req-1", "-p", "churn").stdout)
    assert only_record["event"] == "inference" and only_record["status"] == 200


def _post_with_id(port: int, payload: object, request_id: str) -> tuple[int, dict[str, Any]]:
    import urllib.error
    import urllib.request

    request = urllib.request.Request(
        f"http://127.0.0.1:{port}/predict/churn",
        data=json.dumps(payload).encode(),
        headers={"content-type": "application/json", "x-request-id": request_id},
    )
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            assert response.headers["x-request-id"] == request_id
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as exc:
        assert exc.headers["x-request-id"] == request_id
        return exc.code, json.loads(exc.read())


def _wait_until_serving(port: int) -> None:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            if post(port, "/predict/churn", {"instances": [ROW]})[0] == 200:
                return
        except OSError:
            time.sleep(0.2)
    raise AssertionError("conveyor serve did not answer within 60 s")
