"""Helpers for the dashboard's browser test: `conveyor up` on a free port, Chromium, traffic."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import replace
from datetime import timedelta
from pathlib import Path
from typing import Any

import polars as pl

from conveyor.config import Settings
from conveyor.serving.records import InferenceRecord
from conveyor.types import ApprovalStatus, utcnow
from conveyor.wiring import build_ports
from tests.e2e.conftest import CONVEYOR, free_port, post

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


def chromium_path() -> str | None:
    return str(CHROMIUM) if CHROMIUM.exists() else shutil.which("chromium")


@contextmanager
def conveyor_up(home: Path, *, command: str = "up", timeout: float = 60.0) -> Iterator[str]:
    """`conveyor up` (worker, raw/ watch and server; or ``command`` "serve", the server alone)
    on a free port; yields its base URL."""
    port = free_port()
    process = subprocess.Popen(
        [str(CONVEYOR), command, "--port", str(port)],
        env={**os.environ, "CONVEYOR_HOME": str(home)},
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        _wait_until_serving(base, process, timeout)
        yield base
    finally:
        process.send_signal(signal.SIGINT)
        try:
            process.communicate(timeout=60)
        except subprocess.TimeoutExpired:
            process.kill()
            process.communicate()


def _wait_until_serving(base: str, process: subprocess.Popen[str], timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            output = process.stdout.read() if process.stdout else ""
            raise AssertionError(f"conveyor up exited with {process.returncode}: {output}")
        try:
            with urllib.request.urlopen(f"{base}/ui", timeout=2) as response:
                if response.status == 200:
                    return
        except (urllib.error.URLError, OSError):
            pass
        time.sleep(0.2)
    raise AssertionError(f"conveyor up did not serve /ui within {timeout}s")


def request_rows(csv: Path, target: str, count: int) -> list[dict[str, Any]]:
    """``count`` rows of the file as a client sends them (no target, no id column)."""
    frame = pl.read_csv(csv).drop(target, "customer id").head(count)
    return frame.to_dicts()


def send_traffic(base: str, project: str, rows: list[dict[str, Any]], *, batch: int = 5) -> int:
    """Predict ``rows`` in requests of ``batch`` rows; the number answered 200."""
    port = int(base.rsplit(":", 1)[1])
    answered = 0
    for start in range(0, len(rows), batch):
        status, _ = post(port, f"/predict/{project}", {"instances": rows[start : start + batch]})
        answered += status == 200
    return answered


def fill_history(home: Path, project: str, *, versions: int, inferences: int) -> None:
    """Grow ``project`` (deployed as v1) to ``versions`` registry versions (copies of v1 under
    other runs, pending) and ``inferences`` records spread over the last hour."""
    ports = build_ports(Settings(home=home))
    first = ports.registry.get_version(project, 1)
    for n in range(2, versions + 1):
        draft = replace(
            first,
            version=0,
            run_id=f"r-copy-{n}",
            approval_status=ApprovalStatus.PENDING,
            gate=None,
        )
        ports.registry.create_version(draft)
    now = utcnow()
    ports.table.put_many(
        InferenceRecord(
            project,
            now - timedelta(seconds=3500 * i / inferences),
            f"req-{i}",
            1,
            1.0 + (i % 50) / 10,
            None,
            None,
            500 if i % 100 == 0 else 200,
        ).to_item()
        for i in range(inferences)
    )
