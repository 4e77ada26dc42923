"""A model outside the server: `conveyor models download` writes the registered bytes, and
`conveyor.load_model` answers in Python what /predict answers for the same rows."""

from __future__ import annotations

import hashlib
import tarfile
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

import conveyor
from conveyor.config import Settings
from conveyor.errors import InvalidInput, NotDeployed
from conveyor.serving.app import create_app
from conveyor.wiring import build_ports
from tests.e2e.conftest import Cli, json_of
from tests.rows import CHURN_ROW


def test_download_writes_the_registered_bytes(deployed_cli: Cli, tmp_path: Path) -> None:
    out = tmp_path / "models" / "churn-1.tar.gz"
    shown = json_of(deployed_cli("models", "download", "churn", "1", "-o", str(out), "--json"))
    assert hashlib.sha256(out.read_bytes()).hexdigest() == shown["sha256"]
    with tarfile.open(out) as archive:
        assert "training.json" in {Path(name).name for name in archive.getnames()}
    missing = deployed_cli("models", "download", "churn", "9", "-o", str(tmp_path / "x"))
    assert missing.returncode == 4 and "9" in missing.stderr


def test_load_model_answers_what_predict_answers(deployed_cli: Cli) -> None:
    home: Path = deployed_cli.home  # type: ignore[attr-defined]
    model = conveyor.load_model("churn", home=str(home))
    assert (model.project, model.version) == ("churn", 1)
    rows = [CHURN_ROW, {**CHURN_ROW, "age": "61", "plan": "an unseen plan"}]
    local = model.predict(rows)
    settings = Settings(home=home)
    with TestClient(create_app(build_ports(settings), settings, record=False)) as client:
        served = client.post("/predict/churn", json={"instances": rows}).json()
    assert local.predictions == served["predictions"]
    assert local.probabilities == served["probabilities"]
    assert model.predict(CHURN_ROW).predictions == local.predictions[:1]  # one row as a dict
    with pytest.raises(InvalidInput, match="age"):
        model.predict({**CHURN_ROW, "age": "old"})


def test_load_model_of_a_project_serving_nothing_says_so(cli: Cli) -> None:
    json_of(cli("project", "create", "idle", "--target", "y", "--json"))
    with pytest.raises(NotDeployed, match="idle"):
        conveyor.load_model("idle", home=str(cli.home))  # type: ignore[attr-defined]
