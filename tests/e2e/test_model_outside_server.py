"""A model outside the server: `conveyor models download` writes the registered bytes, and
`conveyor.load_model` answers in Python what /predict answers for the same rows."""

from __future__ import annotations

import hashlib
import importlib.util
import json
import tarfile
from pathlib import Path

import pytest
import yaml
from fastapi.testclient import TestClient

import conveyor
from conveyor.config import Settings
from conveyor.errors import IntegrityError, InvalidInput, NotDeployed
from conveyor.serving.app import create_app
from conveyor.serving.mlflow_export import write_mlflow_model
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


def test_mlflow_export_is_complete_and_its_loader_answers_what_predict_answers(
    deployed_cli: Cli, tmp_path: Path
) -> None:
    out = tmp_path / "churn-mlflow"
    json_of(
        deployed_cli(
            "models", "export", "churn", "1", "--format", "mlflow", "-o", str(out), "--json"
        )
    )
    flavor = yaml.safe_load((out / "MLmodel").read_text())["flavors"]["python_function"]
    loader = out / flavor["code"] / f"{flavor['loader_module']}.py"
    assert loader.is_file() and (out / flavor["data"] / "training.json").is_file()
    assert (out / flavor["env"]["virtualenv"]).is_file()
    assert "conveyor==" in (out / "requirements.txt").read_text()
    spec = importlib.util.spec_from_file_location("exported_loader", loader)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    model = module._load_pyfunc(str(out / flavor["data"]))  # what MLflow calls
    rows = [CHURN_ROW, {**CHURN_ROW, "age": None, "plan": "an unseen plan"}]
    answered = model.predict(rows)
    as_columns = model.predict({name: [row[name] for row in rows] for name in CHURN_ROW})
    settings = Settings(home=deployed_cli.home)  # type: ignore[attr-defined]
    ports = build_ports(settings)
    with TestClient(create_app(ports, settings, record=False)) as client:
        served = client.post("/predict/churn", json={"instances": rows}).json()
    assert [a["prediction"] for a in answered] == served["predictions"]
    probabilities = [[a[f"proba_{c}"] for c in served["classes"]] for a in answered]
    assert probabilities == served["probabilities"] and as_columns == answered
    with pytest.raises(InvalidInput, match="age"):
        model.predict([{**CHURN_ROW, "age": "old"}])
    with pytest.raises(InvalidInput, match="already exists"):  # refused before the artifact is read
        write_mlflow_model(tmp_path / "unread.tar.gz", out, ports.registry.get_version("churn", 1))
    (out / flavor["data"] / "model.txt").write_text("changed")
    with pytest.raises(IntegrityError, match="content digest"):
        module._load_pyfunc(str(out / flavor["data"]))
    assert json.loads((out / "conveyor.json").read_text())["version"] == 1
