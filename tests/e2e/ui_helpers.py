"""Helpers for the dashboard's browser test: `conveyor up` on a free port, traffic. Chromium and
the long project history are in bench/browser.py and bench/project_history.py, shared with the
page-load benchmark."""

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
from pathlib import Path
from typing import Any

import polars as pl

from tests.e2e.conftest import CONVEYOR, free_port, post

# Where screenshots are copied when CONVEYOR_SCREENSHOTS is set (build/ is not in git).
SCREENSHOTS = Path(__file__).parents[2] / "build" / "screenshots"


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


def screenshot(page: Any, folder: Path, name: str, selector: str | None = None) -> Path:
    """The page (or the element at ``selector``) as ``folder/name``; copied to
    build/screenshots/ too when CONVEYOR_SCREENSHOTS is set, to be looked at."""
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / name
    if selector is None:
        page.screenshot(path=str(path), full_page=True)
    else:
        page.locator(selector).screenshot(path=str(path))
    if os.environ.get("CONVEYOR_SCREENSHOTS"):
        SCREENSHOTS.mkdir(parents=True, exist_ok=True)
        shutil.copy(path, SCREENSHOTS / name)
    return path
