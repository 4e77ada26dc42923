"""A project can change: ``conveyor project update`` applies to the next run and is recorded
on it; a later upload's flags that the project would not follow fail before a run is made;
hyperparameter names and a wrong target are caught with the fix named."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from fastapi.testclient import TestClient

from conveyor.config import Settings
from conveyor.serving.app import create_app
from conveyor.wiring import build_ports
from tests.e2e.conftest import Cli, cli_on_a_copy, json_of, upload_churn


def test_an_update_applies_to_the_next_run_and_the_run_says_what_changed(
    updated_home: tuple[Path, dict[str, Any], dict[str, Any]],
    first_run: dict[str, Any],
    tmp_path: Path,
) -> None:
    home, updated, second = updated_home
    cli = cli_on_a_copy(home, tmp_path)
    first = first_run
    assert first["state"] == "DEPLOYED"
    assert first["report"]["settings"]["algorithm"] == "lightgbm"
    assert "settings_changed" not in first["report"]

    # `project update churn --algorithm sklearn --params '{"max_iter": 60}'
    # --min-improvement 0.5`, then the same file uploaded again with --force
    assert updated["algorithm"] == "sklearn" and updated["min_absolute_change"] == 0.5
    changes = second["report"]["settings_changed"]
    assert changes["since_run"] == first["run_id"]
    assert changes["changes"]["algorithm"] == {"from": "lightgbm", "to": "sklearn"}
    assert changes["changes"]["hyperparameters"] == {"from": {}, "to": {"max_iter": 60}}
    version = json_of(cli("models", "show", "churn", str(second["model_version"]), "--json"))
    assert version["algorithm"] == "sklearn"
    assert version["hyperparameters"]["max_iter"] == 60
    # A margin of 0.5 ROC-AUC cannot be beaten: the gate read it from the project.
    assert second["state"] == "REGISTERED"
    assert "by the margin" in second["report"]["gate"]["reason"]
    shown = cli("runs", "show", second["run_id"])
    assert "changed since run" in shown.stdout and "lightgbm → sklearn" in shown.stdout
    settings = Settings(home=cli.home)  # type: ignore[attr-defined]
    with TestClient(create_app(build_ports(settings), settings, record=False)) as client:
        page = client.get(f"/ui/runs/{second['run_id']}").text
    assert f'Changed since run <a href="/ui/runs/{first["run_id"]}">' in page
    assert "algorithm lightgbm → sklearn" in page


def test_a_manual_deploy_project_leaves_the_gates_pick_pending(cli: Cli, churn_csv: Path) -> None:
    cli("project", "create", "churn", "--target", "churned")
    json_of(cli("project", "update", "churn", "--manual-deploy", "--json"))
    run = upload_churn(cli, churn_csv)
    assert run["state"] == "REGISTERED", run.get("failure_reason")
    version = json_of(cli("models", "show", "churn", "1", "--json"))
    assert version["approval_status"] == "PendingManualApproval"
    assert "deploys by hand" in version["status_reason"]
    shown = json_of(cli("project", "show", "churn", "--json"))
    assert shown["manual_deploy"] is True
    assert json_of(cli("runs", "list", "--json"))[0]["model_version"] == 1


def test_an_upload_flag_the_project_would_ignore_fails_before_a_run(
    cli: Cli, churn_csv: Path
) -> None:
    json_of(cli("project", "create", "churn", "--target", "churned", "--json"))
    for flags in (
        ["--algorithm", "sklearn"],
        ["--params", '{"num_leaves": 7}'],
        ["--task", "multiclass"],
        ["--metric", "accuracy"],
    ):
        refused = cli("upload", str(churn_csv), "-p", "churn", *flags)
        assert refused.returncode == 2, (flags, refused.stdout)
        message = " ".join(refused.stderr.split())
        assert f"conveyor project update churn {flags[0]}" in message, message
    assert json_of(cli("runs", "list", "--json")) == []
    assert not (cli.home / "buckets" / "raw" / "churn").exists()  # type: ignore[attr-defined]


def test_unknown_hyperparameters_are_named_at_create_and_update(cli: Cli) -> None:
    created = cli(
        "project", "create", "churn", "--target", "churned", "--params", '{"num_leavs": 7}'
    )
    assert created.returncode == 2
    message = " ".join(created.stderr.split())
    assert "unknown LightGBM parameter 'num_leavs'; did you mean 'num_leaves'?" in message
    assert "num_leaves" in message.split("Valid parameters:")[1]

    json_of(cli("project", "create", "churn", "--target", "churned", "--json"))
    updated = cli(
        "project", "update", "churn", "--algorithm", "sklearn", "--params", '{"max_iters": 9}'
    )
    assert updated.returncode == 2
    assert "did you mean 'max_iter'?" in " ".join(updated.stderr.split())


def test_a_misspelt_target_can_be_fixed_with_project_update(cli: Cli, churn_csv: Path) -> None:
    failed = cli("upload", str(churn_csv), "-p", "churn", "--target", "churnd", "--wait", "--json")
    assert failed.returncode != 0
    reason = json_of(cli("runs", "list", "--json"))[0]["failure_reason"]
    assert "did you mean 'churned'?" in reason
    assert "conveyor project update churn --target" in reason

    json_of(cli("project", "update", "churn", "--target", "churned", "--json"))
    run = json_of(
        cli("upload", str(churn_csv), "-p", "churn", "--force", "--wait", "--json", timeout=300)
    )
    assert run["state"] == "DEPLOYED"
    # Once versions exist, they predict that column: the target is fixed.
    refused = cli("project", "update", "churn", "--target", "plan")
    assert refused.returncode == 2 and "cannot change" in refused.stderr
