"""Two versions side by side, through the CLI and the API: metrics on every split, how each
was trained, the inputs each leaned on, and what differs between them named."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from fastapi.testclient import TestClient

from conveyor.config import Settings
from conveyor.serving.app import create_app
from conveyor.wiring import build_ports
from tests.e2e.conftest import cli_on_a_copy, json_of


def test_two_versions_side_by_side(
    updated_home: tuple[Path, dict[str, Any], dict[str, Any]], tmp_path: Path
) -> None:
    cli = cli_on_a_copy(updated_home[0], tmp_path)  # v1 LightGBM, v2 sklearn with max_iter 60
    assert updated_home[2]["model_version"] == 2

    compared = json_of(cli("models", "compare", "churn", "1", "2", "--json"))
    first, other = compared["versions"]
    assert (first["version"], other["version"]) == (1, 2)
    assert first["metrics"]["test"] and other["metrics"]["test"]
    assert (first["algorithm"], other["algorithm"]) == ("lightgbm", "sklearn")
    assert other["hyperparameters"]["max_iter"] == 60
    differences = compared["differences"]
    assert "algorithm: lightgbm / sklearn" in differences, differences
    assert any(d.startswith("max_iter: ") for d in differences), differences
    assert first["top_inputs"] and abs(sum(i["share"] for i in first["top_inputs"]) - 1) < 0.5

    shown = cli("models", "compare", "churn", "1", "2")
    assert shown.returncode == 0, shown.stderr
    assert "test roc_auc ★" in shown.stdout and "differs   max_iter" in shown.stdout

    refused = cli("models", "compare", "churn", "1")
    assert refused.returncode == 2 and "two to 10 different versions" in refused.stderr
    missing = cli("models", "compare", "churn", "1", "9")
    assert missing.returncode == 4

    home: Path = cli.home  # type: ignore[attr-defined]
    settings = Settings(home=home)
    with TestClient(create_app(build_ports(settings), settings, record=False)) as client:
        api = client.get("/api/v1/projects/churn/compare", params={"versions": "1,2"})
        assert api.status_code == 200 and api.json() == compared
        bad = client.get("/api/v1/projects/churn/compare", params={"versions": "1,x"})
        assert bad.status_code == 400 and bad.json()["field"] == "versions"
