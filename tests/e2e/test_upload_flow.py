"""The CLI as a user types it: upload → run → registered version → approve."""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

from tests.e2e.conftest import Cli, json_of


def test_upload_wait_registers_a_version_with_metrics_and_lineage(
    deployed_cli: Cli, first_run: dict[str, Any]
):
    cli = deployed_cli
    run = first_run  # `upload churn.csv -p churn --target churned --wait --json`'s answer
    assert run["state"] == "DEPLOYED", run.get("failure_reason")
    assert run["model_version"] == 1
    assert set(run["stages"]) == {"preprocess", "train", "evaluate"}

    versions = json_of(cli("models", "list", "churn", "--json"))
    assert [v["version"] for v in versions] == [1]
    version = json_of(cli("models", "show", "churn", "1", "--json"))
    # The first version beats the trivial baseline and there is no champion: the gate
    # approves it and it is deployed.
    assert version["approval_status"] == "Approved"
    assert version["gate"]["status"] == "Approved" and version["gate"]["champion"] is None
    assert versions[0]["aliases"] == ["champion"]
    assert version["primary_metric"] == "roc_auc"
    test, baseline = version["metrics"]["test"], version["metrics"]["baseline"]
    assert set(test) >= {"roc_auc", "accuracy", "f1", "log_loss"}
    assert test["roc_auc"] > baseline["roc_auc"] + 0.1  # the model is worth something
    assert len(version["sha256"]) == 64 and len(version["dataset_id"]) == 64
    assert version["raw"] == {"bucket": "raw", "key": "churn/churn.csv"}
    assert version["artifact"]["key"] == f"churn/{run['run_id']}/model.tar.gz"
    kinds = {f["name"]: f["kind"] for f in version["input_schema"]["features"]}
    assert kinds["signup date"] == "datetime"
    assert kinds["plan"] == "categorical"
    assert kinds["has partner"] == "boolean"
    assert "customer id" not in kinds  # an id column is dropped, with a note
    assert any(d["name"] == "customer id" for d in version["input_schema"]["dropped"])
    assert version["package_version"]
    artifact = cli.home / "buckets" / "models" / version["artifact"]["key"]  # type: ignore[attr-defined]
    assert artifact.is_file()

    shown = cli("runs", "show", run["run_id"], "--logs")
    assert shown.returncode == 0
    assert "DEPLOYED" in shown.stdout and "validation:" in shown.stdout
    # A small file: the model that serves learned from every row; the test metrics say whose.
    text = " ".join(shown.stdout.split())
    report = run["report"]
    rows = report["rows_train"] + report["rows_validation"] + report["rows_test"]
    assert f"fitted on all {rows} rows" in text
    assert "a model that never saw the test rows" in text


def test_same_bytes_uploaded_twice_make_one_run(
    deployed_cli: Cli, first_run: dict[str, Any], churn_csv: Path, tmp_path: Path
):
    cli = deployed_cli
    first = first_run
    copy = tmp_path / "again.csv"
    shutil.copyfile(churn_csv, copy)
    second = cli("upload", str(copy), "-p", "churn", "--wait")
    assert second.returncode == 0, second.stderr
    assert "uploaded before" in second.stdout and first["run_id"] in second.stdout
    runs = json_of(cli("runs", "list", "--project", "churn", "--json"))
    assert [r["run_id"] for r in runs] == [first["run_id"]]


def test_approve_and_reject_change_the_approval_status(deployed_cli: Cli, churn_csv: Path):
    cli = deployed_cli
    approved = json_of(cli("models", "approve", "churn", "1", "--reason", "looks good", "--json"))
    assert approved["approval_status"] == "Approved"  # by the gate: approving changes nothing
    assert "already Approved" in approved["message"] and approved["deployment"] is None
    # v1 serves and nothing could replace it: rejecting it is refused (test_lifecycle.py).
    assert cli("models", "reject", "churn", "1").returncode == 6
    assert json_of(cli("models", "show", "churn", "1", "--json"))["approval_status"] == "Approved"
    missing = cli("models", "approve", "churn", "9")
    assert missing.returncode == 4 and "no version 9" in missing.stderr


def test_upload_to_a_new_project_without_target_says_how_to_fix_it(cli: Cli, churn_csv: Path):
    result = cli("upload", str(churn_csv), "--project", "churn")
    assert result.returncode == 4
    assert "--target" in result.stderr


def test_project_create_then_upload_uses_its_settings(cli: Cli, churn_csv: Path):
    created = json_of(
        cli(
            "project",
            "create",
            "churn-sk",
            "--target",
            "churned",
            "--algorithm",
            "sklearn",
            "--metric",
            "accuracy",
            "--params",
            '{"max_iter": 60}',  # its default 1000 rounds cost this test a minute
            "--json",
        )
    )
    assert created["algorithm"] == "sklearn"
    run = json_of(cli("upload", str(churn_csv), "-p", "churn-sk", "--wait", "--json"))
    assert run["state"] == "DEPLOYED", run.get("failure_reason")
    version = json_of(cli("models", "show", "churn-sk", "1", "--json"))
    assert version["algorithm"] == "sklearn" and version["hyperparameters"]["max_iter"] == 60
    assert version["primary_metric"] == "accuracy"
    assert version["metrics"]["test"]["accuracy"] >= version["metrics"]["baseline"]["accuracy"]


def test_a_second_version_goes_through_the_gate_and_rollback_returns(
    deployed_cli: Cli, first_run: dict[str, Any], tmp_path: Path
):
    from conveyor.samples.generate import write_churn_csv

    cli, first = deployed_cli, first_run
    second = json_of(
        cli(
            "upload",
            str(write_churn_csv(tmp_path / "b.csv", rows=900, seed=2)),
            "-p",
            "churn",
            "--wait",
            "--json",
        )
    )
    gate = second["report"]["gate"]
    assert gate["champion_version"] == 1
    v2 = json_of(cli("models", "show", "churn", "2", "--json"))
    assert v2["gate"] == gate  # the decision and its numbers are kept on the version
    if second["state"] != "DEPLOYED":  # it did not beat the champion: deploy it by hand
        assert v2["approval_status"] == "PendingManualApproval"
        json_of(cli("models", "deploy", "churn", "2", "--approve", "--json"))
    listed = json_of(cli("models", "list", "churn", "--json"))
    assert [v["aliases"] for v in listed] == [["champion"], []]
    rolled = json_of(cli("models", "rollback", "churn", "--json"))
    assert rolled["version"] == first["model_version"] == 1
    assert json_of(cli("models", "list", "churn", "--json"))[1]["aliases"] == ["champion"]
    nothing = cli("models", "rollback", "churn")
    assert nothing.returncode == 6 and "no earlier deployment" in nothing.stderr
