from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from conveyor.config import Settings
from conveyor.ports import Ports
from conveyor.serving.app import create_app
from conveyor.wiring import build_ports


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
