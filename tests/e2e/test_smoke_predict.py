"""scripts/smoke_predict.py, the release workflow's smoke test, run as the workflow runs it
against a real server: `conveyor serve` on 127.0.0.1 with churn v1 deployed (the same
/predict/<project> route API Gateway serves on AWS)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.e2e.conftest import CONVEYOR, ROW, Cli, free_port, post

SCRIPT = Path(__file__).resolve().parents[2] / "scripts" / "smoke_predict.py"


@pytest.fixture
def served(deployed_cli: Cli) -> Iterator[str]:
    """The base URL of `conveyor serve` on a copy of the churn home."""
    port = free_port()
    server = subprocess.Popen(
        [str(CONVEYOR), "serve", "--port", str(port)],
        env={**os.environ, "CONVEYOR_HOME": str(deployed_cli.home)},  # type: ignore[attr-defined]
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            try:
                if post(port, "/predict/churn", {"instances": [ROW]})[0] == 200:
                    break
            except OSError:
                time.sleep(0.2)
        yield f"http://127.0.0.1:{port}"
    finally:
        server.send_signal(signal.SIGINT)
        server.wait(timeout=60)


def smoke(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, str(SCRIPT), *args], capture_output=True, text=True, timeout=120
    )


def test_a_deployed_model_passes_the_smoke_test(served: str) -> None:
    result = smoke("--url", served, "--project", "churn")
    assert result.returncode == 0, result.stderr
    assert "churn version 1 answered /predict" in result.stdout


def test_a_project_without_a_model_fails_it_with_the_answer(served: str) -> None:
    result = smoke("--url", served, "--project", "fraud")
    assert result.returncode == 1
    assert "/predict answered 404" in result.stderr
