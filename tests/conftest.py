"""Fixtures shared across test folders. Defined once here, not imported into each folder's
conftest or module: pytest makes each import a fixture of its own, and a session-scoped
one that trains a model would train it once per import."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from conveyor.samples.generate import write_churn_csv

CONVEYOR = Path(sys.executable).parent / "conveyor"


def conveyor(home: Path, *args: str) -> dict[str, object]:
    """``conveyor ARGS --json`` against ``home``; its JSON answer (the call must succeed)."""
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
