from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from conveyor.config import Settings
from conveyor.ports import Ports
from conveyor.samples.generate import write_churn_csv
from conveyor.serving.app import create_app
from conveyor.wiring import build_ports

CONVEYOR = Path(sys.executable).parent / "conveyor"


def conveyor(home: Path, *args: str) -> dict[str, object]:
    result = subprocess.run(
        [str(CONVEYOR), *args, "--json"],
        capture_output=True,
        text=True,
        env={**os.environ, "CONVEYOR_HOME": str(home)},
        timeout=180,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    data: dict[str, object] = json.loads(result.stdout)
    return data


@pytest.fixture(scope="session")
def trained_home(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A home whose project 'churn' serves version 1 (trained by the real pipeline)."""
    home = tmp_path_factory.mktemp("serving-home")
    data = write_churn_csv(home / "churn.csv", rows=800, seed=11)
    run = conveyor(home, "upload", str(data), "-p", "churn", "--target", "churned", "--wait")
    assert run["state"] == "DEPLOYED", run
    return home


@pytest.fixture
def home(trained_home: Path, tmp_path: Path) -> Path:
    """A private copy, so a test may deploy, tamper or record without touching the others."""
    import shutil

    copy = tmp_path / "home"
    shutil.copytree(trained_home, copy)
    return copy


@pytest.fixture
def ports(home: Path) -> Ports:
    return build_ports(Settings(home=home))


@pytest.fixture
def client(home: Path, ports: Ports) -> Iterator[TestClient]:
    app = create_app(ports, Settings(home=home), poll_seconds=0.05)
    with TestClient(app) as test_client:
        yield test_client
