"""A real home whose project 'churn' serves version 1 (trained by the real pipeline), the
app built as the server builds it, and a second version registered from the same artifact
(without details, as a version registered before details were recorded)."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from conveyor.config import Settings
from conveyor.ports import Ports
from conveyor.serving.app import create_app
from conveyor.types import ApprovalStatus, ModelVersion
from conveyor.wiring import build_ports


@pytest.fixture
def home(trained_home: Path, tmp_path: Path) -> Path:
    import shutil

    copy = tmp_path / "home"
    shutil.copytree(trained_home, copy)
    return copy


@pytest.fixture
def ports(home: Path) -> Ports:
    return build_ports(Settings(home=home))


@pytest.fixture
def client(home: Path, ports: Ports) -> Iterator[TestClient]:
    app = create_app(ports, Settings(home=home), poll_seconds=0.05, record=False)
    with TestClient(app) as test_client:
        yield test_client


@pytest.fixture
def second_version(ports: Ports) -> ModelVersion:
    """Version 2: version 1's artifact under another run, pending approval."""
    first = ports.registry.get_version("churn", 1)
    draft = replace(
        first,
        version=0,
        run_id="r-second",
        approval_status=ApprovalStatus.PENDING,
        status_reason=None,
        gate=None,
    )
    return ports.registry.create_version(draft)
