"""Ten uploads at once across three projects while `conveyor up` serves traffic: every run
ends with an outcome (a failure with its reason), version numbers stay unique and gapless per
project, and no user ever sees a locked database or a 5xx."""

from __future__ import annotations

import os
import signal
import subprocess
import threading
import time
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import pytest

from conveyor.samples.generate import write_churn_csv
from tests.e2e.conftest import CONVEYOR, ROW, Cli, free_port, json_of, post

PROJECTS = ("alpha", "beta", "gamma")
UPLOADS = 10
ROWS = 1500
WAIT = ("--wait", "--json")
OUTCOMES = {"DEPLOYED", "REJECTED", "REGISTERED", "FAILED"}


def wait_served(port: int, project: str, version: int, timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    last: object = None
    while time.monotonic() < deadline:
        try:
            status, body = post(port, f"/predict/{project}", {"instances": [ROW]})
            if status == 200 and body["model_version"] == version:
                return
            last = body
        except OSError as exc:
            last = exc
        time.sleep(0.3)
    raise AssertionError(f"{project} v{version} was not served in {timeout}s: {last}")


@pytest.fixture
def server(cli: Cli) -> Iterator[int]:
    """`conveyor up` on a free port (worker, raw/ watch and model server in one process)."""
    port = free_port()
    log = cli.home.parent / "up.log"  # type: ignore[attr-defined]
    with log.open("w") as output:  # the child keeps its own copy of the descriptor
        up = subprocess.Popen(
            [str(CONVEYOR), "up", "--port", str(port)],
            env={**os.environ, "CONVEYOR_HOME": str(cli.home)},  # type: ignore[attr-defined]
            stdout=output,
            stderr=subprocess.STDOUT,
        )
    try:
        yield port
        assert up.poll() is None, "conveyor up exited while it was taking uploads and traffic"
    finally:
        up.send_signal(signal.SIGINT)
        up.wait(timeout=60)
    output = log.read_text()
    assert up.returncode == 0, output
    assert "locked" not in output.lower(), output


@pytest.mark.slow  # about a minute: run by make bench (pytest -m slow)
def test_ten_concurrent_uploads_while_serving(cli: Cli, server: int, tmp_path: Path) -> None:
    port = server
    first = cli(
        "upload",
        str(write_churn_csv(tmp_path / "seed.csv", rows=ROWS, seed=100)),
        "-p",
        PROJECTS[0],
        "--target",
        "churned",
        "--wait",
        "--json",
    )
    assert json_of(first)["state"] == "DEPLOYED"
    wait_served(port, PROJECTS[0], 1)

    statuses: Counter[int] = Counter()
    server_errors: list[object] = []
    stop = threading.Event()

    def traffic() -> None:
        while not stop.is_set():
            try:
                status, body = post(port, f"/predict/{PROJECTS[0]}", {"instances": [ROW]})
            except OSError as exc:  # the server went away: a failure the user would see
                server_errors.append(repr(exc))
                time.sleep(0.1)
                continue
            statuses[status] += 1
            if status >= 500:
                server_errors.append(body)

    client = threading.Thread(target=traffic)
    client.start()
    try:
        files = [
            (PROJECTS[i % len(PROJECTS)], write_churn_csv(tmp_path / f"up{i}.csv", ROWS, seed=i))
            for i in range(UPLOADS)
        ]
        started = time.monotonic()
        uploads = [
            subprocess.Popen(
                [
                    str(CONVEYOR),
                    "upload",
                    str(csv),
                    "-p",
                    project,
                    "--target",
                    "churned",
                    "--wait",
                    "--json",
                ],
                env={**os.environ, "CONVEYOR_HOME": str(cli.home), "COLUMNS": "200"},  # type: ignore[attr-defined]
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                text=True,
            )
            for project, csv in files
        ]
        outputs = [upload.communicate(timeout=300) for upload in uploads]
        elapsed = time.monotonic() - started
    finally:
        stop.set()
        client.join()

    for upload, (out, err) in zip(uploads, outputs, strict=True):
        assert "locked" not in (out + err).lower(), out + err
        assert upload.returncode == 0 or "failed" in err.lower(), (upload.returncode, out, err)

    runs = json_of(cli("runs", "list", "--json"))
    summary = "\n".join(
        str((r["raw"]["key"], r["state"], r["report"].get("trigger"), r.get("failure_reason")))
        for r in runs
    )
    # One run per upload; the monitor may add retrains (the client's one repeated row is
    # drift), which race with the uploads like any other run.
    uploaded = Counter(r["raw"]["key"] for r in runs if r["report"]["trigger"]["type"] == "upload")
    expected = [f"{PROJECTS[0]}/seed.csv"] + [f"{project}/{csv.name}" for project, csv in files]
    assert uploaded == Counter(expected), summary
    outcomes = Counter(run["state"] for run in runs)
    for run in runs:
        assert run["state"] in OUTCOMES, f"run {run['run_id']} is stuck in {run['state']}"
        if run["state"] == "FAILED":
            assert run.get("failure_reason"), summary
        assert "locked" not in str(run.get("failure_reason") or "").lower(), run

    versions_by_project = {}
    for project in PROJECTS:
        versions = sorted(v["version"] for v in json_of(cli("models", "list", project, "--json")))
        assert versions == list(range(1, len(versions) + 1)), (project, versions)
        versions_by_project[project] = versions
    # Every run that got past training holds a version of its own, and every version has its run.
    run_versions = sorted(
        (r["project"], r["model_version"]) for r in runs if r["state"] != "FAILED"
    )
    assert run_versions == sorted(
        (project, v) for project, versions in versions_by_project.items() for v in versions
    )

    assert server_errors == []
    assert set(statuses) <= {200}, statuses
    assert statuses[200] > 10
    print(
        f"\nconcurrency: {UPLOADS} uploads in {elapsed:.1f}s; outcomes {dict(outcomes)}; "
        f"versions {versions_by_project}; predict statuses {dict(statuses)}"
    )
