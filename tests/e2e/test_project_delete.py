"""A project can go away: ``conveyor project delete`` removes its deployment, registry,
runs and their training jobs' folders, inference records, feedback, alarms, drift reports
and files; it is refused while the
project serves unless --force, and asks first unless --yes."""

from __future__ import annotations

import sqlite3
from pathlib import Path

from fastapi.testclient import TestClient

from conveyor.config import Settings
from conveyor.serving.app import create_app
from conveyor.wiring import build_ports
from tests.e2e.conftest import Cli, json_of, upload_churn
from tests.rows import CHURN_ROW


def _labelled_traffic(home: Path, requests: int) -> None:
    settings = Settings(home=home)
    with TestClient(create_app(build_ports(settings), settings)) as client:
        for _ in range(requests):
            answer = client.post("/predict/churn", json={"instances": [CHURN_ROW]}).json()
            feedback = {"request_id": answer["request_id"], "actual": "no"}
            assert client.post("/feedback/churn", json=feedback).status_code == 200


def _items_mentioning(home: Path, project: str) -> list[tuple[str, str]]:
    with sqlite3.connect(home / "conveyor.db") as db:
        rows = db.execute("SELECT pk, sk, body FROM items").fetchall()
    return [(pk, sk) for pk, sk, body in rows if project in pk or project in sk or project in body]


def test_delete_removes_everything_a_project_owns(
    deployed_cli: Cli, churn_csv: Path, tmp_path: Path
) -> None:
    cli = deployed_cli
    home: Path = cli.home  # type: ignore[attr-defined]
    json_of(cli("project", "create", "other", "--target", "label", "--json"))
    _labelled_traffic(home, 3)
    json_of(cli("alarms", "list", "churn", "--json"))  # makes the default alarms
    assert _items_mentioning(home, "churn")

    refused = cli("project", "delete", "churn", "--yes")
    assert refused.returncode == 6, refused.stderr
    assert "serves version 1" in refused.stderr and "--force" in refused.stderr
    kept = cli("project", "delete", "churn", "--force", input_text="n\n")
    assert kept.returncode != 0 and "Delete project 'churn'" in kept.stderr
    assert json_of(cli("project", "show", "churn", "--json"))["name"] == "churn"

    deleted = json_of(cli("project", "delete", "churn", "--force", "--yes", "--json"))
    assert (deleted["served_version"], deleted["versions"], deleted["runs"]) == (1, 1, 1)
    assert deleted["records"]["inference records"] == 3
    assert deleted["records"]["feedback"] == 3
    assert deleted["records"]["alarms"] >= 4
    assert deleted["job_folders"] == 1
    assert [job.name for job in (home / "jobs").iterdir() if job.name.startswith("churn")] == []

    assert _items_mentioning(home, "churn") == []
    buckets = home / "buckets"
    assert [p for p in buckets.rglob("*") if p.is_file() and "churn" in p.parts] == []
    assert cli("project", "show", "churn").returncode == 4
    assert cli("models", "list", "churn").returncode == 4
    assert [p["name"] for p in json_of(cli("project", "list", "--json"))] == ["other"]

    # The name is free again: a new project under it starts from version 1.
    again = upload_churn(cli, churn_csv)
    assert again["state"] == "DEPLOYED" and again["model_version"] == 1
