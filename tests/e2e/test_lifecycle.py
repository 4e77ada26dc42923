"""A version's lifecycle as a person drives it from the CLI: approval and serving never
contradict each other (issue 20, point 3)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from conveyor.samples.generate import write_churn_csv
from tests.e2e.conftest import Cli, cli_on_a_copy, json_of


def _upload(cli: Cli, csv: Path, *extra: str) -> dict[str, Any]:
    run: dict[str, Any] = json_of(
        cli("upload", str(csv), "-p", "churn", *extra, "--wait", "--json")
    )
    assert run["state"] in {"DEPLOYED", "REGISTERED"}, run.get("failure_reason")
    return run


def _second(cli: Cli, tmp_path: Path) -> dict[str, Any]:
    run = _upload(cli, write_churn_csv(tmp_path / "b.csv", rows=900, seed=2))
    assert run["model_version"] == 2
    return run


def _serving(cli: Cli) -> tuple[int, int]:
    """(the version churn serves, its deployment record's revision), read from the home's
    deployment record as a model server would."""
    from conveyor.config import Settings
    from conveyor.wiring import build_ports

    home: Path = cli.home  # type: ignore[attr-defined]
    deployment = build_ports(Settings(home=home)).endpoint.describe_endpoint("churn")
    assert deployment is not None
    return deployment.version, deployment.revision


def _version(cli: Cli, number: int) -> dict[str, Any]:
    listed = {v["version"]: v for v in json_of(cli("models", "list", "churn", "--json"))}
    return listed[number]


# Each test starts from a copy of one of two homes: the session's churn home (v1) and one
# trained from it once per module (v2). The pipeline runs behind them are the same for every
# test, and training them again cost each test a minute of the suite.
@pytest.fixture(scope="module")
def v1_home(
    churn_home: tuple[Path, dict[str, Any]], tmp_path_factory: pytest.TempPathFactory
) -> Path:
    """churn v1, approved by the gate and serving."""
    folder = tmp_path_factory.mktemp("lifecycle-v1")
    return cli_on_a_copy(churn_home[0], folder).home  # type: ignore[attr-defined, no-any-return]


@pytest.fixture(scope="module")
def v2_home(v1_home: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """v1 and v2 both approved, v2 serving (approved by hand when the gate left it pending:
    the project deploys automatically, so approving deploys it)."""
    folder = tmp_path_factory.mktemp("lifecycle-v2")
    cli = cli_on_a_copy(v1_home, folder)
    if _second(cli, folder)["state"] != "DEPLOYED":
        json_of(cli("models", "approve", "churn", "2", "--json"))
    assert _serving(cli)[0] == 2
    assert _version(cli, 1)["approval_status"] == "Approved"
    return cli.home  # type: ignore[attr-defined, no-any-return]


def test_rejecting_the_serving_version_rolls_back_to_the_previous_approved(
    v2_home: Path, tmp_path: Path
) -> None:
    cli = cli_on_a_copy(v2_home, tmp_path)

    rejected = cli("models", "reject", "churn", "2", "--reason", "biased on age")

    assert rejected.returncode == 0, rejected.stderr
    assert "version 1 serves again" in rejected.stdout
    assert _serving(cli)[0] == 1
    v1, v2 = _version(cli, 1), _version(cli, 2)
    assert v2["approval_status"] == "Rejected" and v2["aliases"] == []
    assert v1["aliases"] == ["champion"]
    # The rejected version is never served again by a rollback.
    back = cli("models", "rollback", "churn")
    assert back.returncode == 6 and "no earlier deployment" in back.stderr


def test_rejecting_the_only_approved_serving_version_is_refused_and_says_what_to_do(
    v1_home: Path, tmp_path: Path
) -> None:
    cli = cli_on_a_copy(v1_home, tmp_path)

    refused = cli("models", "reject", "churn", "1")

    assert refused.returncode == 6, refused.stdout  # Conflict
    message = " ".join(refused.stderr.split())
    assert "no earlier approved version" in message
    assert "conveyor models deploy churn N --approve" in message
    assert "conveyor project delete churn" in message
    assert _version(cli, 1)["approval_status"] == "Approved"
    assert _serving(cli)[0] == 1


def test_deploying_a_pending_version_needs_approve(v1_home: Path, tmp_path: Path) -> None:
    cli = cli_on_a_copy(v1_home, tmp_path)
    json_of(cli("project", "update", "churn", "--manual-deploy", "--json"))
    assert _second(cli, tmp_path)["state"] == "REGISTERED"
    assert _version(cli, 2)["approval_status"] == "PendingManualApproval"

    refused = cli("models", "deploy", "churn", "2")

    assert refused.returncode == 6, refused.stdout  # Conflict
    assert "--approve" in " ".join(refused.stderr.split())
    assert _version(cli, 2)["approval_status"] == "PendingManualApproval"
    assert _serving(cli)[0] == 1

    deployed = json_of(
        cli("models", "deploy", "churn", "2", "--approve", "--reason", "reviewed", "--json")
    )

    assert deployed["version"] == 2 and _serving(cli)[0] == 2
    v2 = _version(cli, 2)
    assert v2["approval_status"] == "Approved" and v2["status_reason"] == "reviewed"


def test_approving_an_approved_version_changes_nothing_and_says_so(
    v2_home: Path, tmp_path: Path
) -> None:
    cli = cli_on_a_copy(v2_home, tmp_path)
    before = _serving(cli)
    reason = _version(cli, 1)["status_reason"]

    again = cli("models", "approve", "churn", "1")

    assert again.returncode == 0, again.stderr
    assert "already Approved: nothing changed" in again.stdout
    assert _serving(cli) == before  # v2 still serves: v1 was not redeployed
    assert _version(cli, 1)["status_reason"] == reason
