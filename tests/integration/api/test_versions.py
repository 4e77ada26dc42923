"""/api/v1 versions: list, details, approve / reject / deploy / rollback, and the CLI seeing
what the API did."""

from __future__ import annotations

from pathlib import Path

from fastapi.testclient import TestClient

from conveyor.pipeline.runs import RunStore
from conveyor.ports import Ports
from conveyor.types import ModelVersion
from tests.conftest import conveyor

V = "/api/v1/projects/churn/versions"


def test_versions_newest_first_with_aliases(
    client: TestClient, second_version: ModelVersion
) -> None:
    listed = client.get(V).json()
    assert [v["version"] for v in listed] == [2, 1]
    assert listed[1]["aliases"] == ["champion"] and listed[1]["deployed"] is True
    assert listed[0]["aliases"] == [] and listed[0]["deployed"] is False
    assert listed[0]["approval_status"] == "PendingManualApproval"


def test_version_details_from_the_test_split(client: TestClient, ports: Ports) -> None:
    response = client.get(f"{V}/1")
    assert response.status_code == 200
    version = response.json()
    assert version["deployed"] is True and version["aliases"] == ["champion"]
    details = version["details"]
    matrix = details["confusion_matrix"]
    assert len(matrix["labels"]) == 2
    (run,) = RunStore(ports.table).list_runs("churn")
    assert sum(map(sum, matrix["matrix"])) == run.report["rows_test"]
    assert details["residuals"] is None
    features = {f["name"] for f in version["input_schema"]["features"]}
    importance = details["feature_importance"]
    assert {f["feature"].split("__")[0] for f in importance} <= features
    gains = [f["importance"] for f in importance]
    assert gains == sorted(gains, reverse=True) and gains[0] > 0
    assert details["baseline"] == version["metrics"]["baseline"]
    curves = details["curves"]  # the test split's, a few hundred points at most
    assert curves["roc"]["auc"] == version["metrics"]["test"]["roc_auc"]
    assert curves["roc"]["threshold"]["value"] == 0.5 and len(curves["roc"]["fpr"]) <= 301
    assert sum(curves["calibration"]["rows"]) == run.report["rows_test"]
    assert curves["per_class"] is None and curves["residuals"] is None
    learning = curves["learning"]
    assert (
        learning["metric"] == "binary_logloss" and learning["rounds"] > learning["best_iteration"]
    )
    documented = client.get("/openapi.json").json()["components"]["schemas"]
    assert {"Curves", "RocCurve", "LearningCurve"} <= set(documented)


def test_a_version_registered_without_details_has_none(
    client: TestClient, second_version: ModelVersion
) -> None:
    assert client.get(f"{V}/2").json()["details"] is None


def test_approve_deploys_and_the_cli_sees_it(
    client: TestClient, home: Path, second_version: ModelVersion
) -> None:
    response = client.post(f"{V}/2/approve", json={"reason": "looks right"})
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["approval_status"] == "Approved" and body["status_reason"] == "looks right"
    assert body["deployment"]["version"] == 2 and body["deployed"] is True
    listed = conveyor(home, "models", "list", "churn")
    assert isinstance(listed, list)
    by_version = {v["version"]: v for v in listed}
    assert by_version[2]["approval_status"] == "Approved"
    assert by_version[2]["aliases"] == ["champion"]


def test_deploy_then_rollback_then_nothing_to_roll_back(
    client: TestClient, home: Path, second_version: ModelVersion
) -> None:
    # v2 is pending: deploying it approves it, which the request must say.
    refused = client.post(f"{V}/2/deploy")
    assert refused.status_code == 409 and refused.json()["field"] == "approve", refused.text
    assert client.get(f"{V}/2").json()["approval_status"] == "PendingManualApproval"
    deployed = client.post(f"{V}/2/deploy", json={"approve": True, "reason": "looked at it"})
    assert deployed.status_code == 200, deployed.text
    assert deployed.json()["version"] == 2
    approved = client.get(f"{V}/2").json()
    assert (approved["approval_status"], approved["status_reason"]) == ("Approved", "looked at it")
    rolled = client.post("/api/v1/projects/churn/rollback")
    assert rolled.status_code == 200 and rolled.json()["version"] == 1
    # The CLI reads the same deployment the API wrote.
    assert conveyor(home, "project", "show", "churn")["name"] == "churn"
    again = client.post("/api/v1/projects/churn/rollback")
    assert again.status_code == 409 and again.json()["error"] == "conflict"
    assert "roll back" in again.json()["message"]


def test_reject_then_deploy_is_a_conflict(client: TestClient, second_version: ModelVersion) -> None:
    rejected = client.post(f"{V}/2/reject", json={"reason": "too slow"})
    assert rejected.status_code == 200
    assert rejected.json()["approval_status"] == "Rejected"
    assert rejected.json()["status_reason"] == "too slow"
    refused = client.post(f"{V}/2/deploy")
    assert refused.status_code == 409, refused.text
    assert client.get("/api/v1/projects/churn").json()["deployment"]["version"] == 1
    no_reason = client.post(f"{V}/2/reject")  # v1, which serves, cannot be: it has no successor
    assert no_reason.status_code == 200
    assert no_reason.json()["status_reason"] == "rejected by hand"


def test_version_errors_name_what_is_wrong(client: TestClient) -> None:
    missing = client.get(f"{V}/99")
    assert missing.status_code == 404 and "version 99" in missing.json()["message"]
    for path in ("approve", "reject", "deploy"):
        assert client.post(f"{V}/99/{path}").status_code == 404
    unknown = client.get("/api/v1/projects/nosuch/versions/1")
    assert unknown.status_code == 404 and unknown.json()["field"] == "project"
    assert client.post("/api/v1/projects/nosuch/rollback").status_code == 404
    not_a_number = client.get(f"{V}/two")
    assert not_a_number.status_code == 422 and not_a_number.json()["field"] == "path.version"
    bad_reason = client.post(f"{V}/1/approve", json={"reason": 5})
    assert bad_reason.status_code == 422 and bad_reason.json()["field"] == "reason"


def test_a_versions_file_report(client: TestClient) -> None:
    shown = client.get("/api/v1/projects/churn/versions/1/file")
    assert shown.status_code == 200, shown.text
    kinds = {c["name"]: c["kind"] for c in shown.json()["columns"]}
    assert kinds["customer id"] == "dropped" and kinds["signup date"] == "datetime"
    assert client.get("/api/v1/projects/churn/versions/9/file").status_code == 404


def test_approving_an_approved_version_says_so_and_rejecting_the_only_one_serving_is_refused(
    client: TestClient,
) -> None:
    before = client.get("/api/v1/projects/churn").json()["deployment"]
    again = client.post(f"{V}/1/approve")
    assert again.status_code == 200, again.text
    assert again.json()["deployment"] is None
    assert "already Approved: nothing changed" in again.json()["message"]
    refused = client.post(f"{V}/1/reject")
    assert refused.status_code == 409, refused.text
    assert "conveyor project delete churn" in refused.json()["message"]
    assert client.get("/api/v1/projects/churn").json()["deployment"] == before
    assert client.get(f"{V}/1").json()["approval_status"] == "Approved"
