from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from conveyor.samples.generate import write_churn_csv

CONVEYOR = Path(sys.executable).parent / "conveyor"

Cli = Callable[..., subprocess.CompletedProcess[str]]


def run_cli(home: Path, *args: str, timeout: float = 180) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "CONVEYOR_HOME": str(home), "COLUMNS": "200"}
    return subprocess.run(
        [str(CONVEYOR), *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )


@pytest.fixture
def cli(tmp_path: Path) -> Cli:
    home = tmp_path / "home"

    def call(*args: str, timeout: float = 180) -> subprocess.CompletedProcess[str]:
        return run_cli(home, *args, timeout=timeout)

    call.home = home  # type: ignore[attr-defined]
    return call


def json_of(result: subprocess.CompletedProcess[str]) -> Any:
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)


@pytest.fixture(scope="session")
def churn_csv(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_churn_csv(tmp_path_factory.mktemp("data") / "churn.csv", rows=1500, seed=3)
