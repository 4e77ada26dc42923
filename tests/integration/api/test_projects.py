"""/api/v1/projects: the list at a glance, create, show."""

from __future__ import annotations

from datetime import timedelta

from fastapi.testclient import TestClient

from conveyor.serving.records import InferenceRecord
from conveyor.types import utcnow
from conveyor.wiring import Ports


def _records(ports: Ports, ages_seconds: list[float]) -> None:
    now = utcnow()
    ports.table.put_many(
        InferenceRecord(
            "churn", now - timedelta(seconds=age), f"req-{i}", 1, 5.0, None, None, 200
        ).to_item()
        for i, age in enumerate(ages_seconds)
    )


def test_projects_list_shows_each_projects_state(client: TestClient, ports: Ports) -> None:
    _records(ports, [10, 20, 30, 4000])  # three in the last hour, one before
    response = client.get("/api/v1/projects")
    assert response.status_code == 200
    (churn,) = response.json()
    version = ports.registry.get_version("churn", 1)
    assert churn["name"] == "churn" and churn["target"] == "churned"
    assert churn["task"] == "binary"
    assert churn["deployed_version"] == 1
    assert churn["primary_metric"] == version.primary_metric == "roc_auc"
    assert churn["metric_value"] == version.metrics["test"]["roc_auc"]
    assert churn["requests_last_hour"] == 3
    assert churn["drift_status"] is None


def test_projects_list_shows_the_worst_alarm(client: TestClient) -> None:
    alarms = client.get("/api/v1/projects/churn/alarms").json()  # creates the defaults
    assert alarms and {a["state"] for a in alarms} == {"INSUFFICIENT_DATA"}
    (churn,) = client.get("/api/v1/projects").json()
    assert churn["alarm_state"] == "INSUFFICIENT_DATA"


def test_create_then_show_a_project(client: TestClient) -> None:
    body = {"name": "house", "target": "price", "task": "regression", "metric": "mae"}
    created = client.post("/api/v1/projects", json=body)
    assert created.status_code == 201, created.text
    assert created.json()["name"] == "house" and created.json()["metric"] == "mae"
    shown = client.get("/api/v1/projects/house").json()
    assert shown["project"]["target"] == "price"
    assert shown["deployment"] is None and shown["aliases"] == {}
    names = [p["name"] for p in client.get("/api/v1/projects").json()]
    assert sorted(names) == ["churn", "house"]


def test_show_a_deployed_project(client: TestClient) -> None:
    shown = client.get("/api/v1/projects/churn").json()
    assert shown["deployment"]["version"] == 1
    assert shown["aliases"] == {"champion": 1}


def test_create_refuses_bad_input_naming_the_field(client: TestClient) -> None:
    cases = [
        ({"name": "churn", "target": "x"}, 409, "already_exists", "project"),
        ({"name": "Bad Name", "target": "x"}, 400, "invalid_input", "project"),
        ({"name": "ok", "target": " "}, 400, "invalid_input", "target"),
        ({"name": "ok", "target": "x", "metric": "nope"}, 400, "invalid_input", "metric"),
        ({"name": "ok"}, 422, "invalid_request", "target"),
        ({"name": "ok", "target": "x", "task": "poetry"}, 422, "invalid_request", "task"),
        ({"name": "ok", "target": "x", "colour": "red"}, 422, "invalid_request", "colour"),
    ]
    for body, status, code, field in cases:
        response = client.post("/api/v1/projects", json=body)
        assert response.status_code == status, (body, response.text)
        assert response.json()["error"] == code, body
        assert response.json()["field"] == field, (body, response.json())
    bad_json = client.post(
        "/api/v1/projects", content=b"{", headers={"content-type": "application/json"}
    )
    assert bad_json.status_code == 400


def test_unknown_project_is_a_404_naming_it(client: TestClient) -> None:
    response = client.get("/api/v1/projects/nosuch")
    assert response.status_code == 404
    assert "'nosuch'" in response.json()["message"] and response.json()["field"] == "project"


def test_what_the_framework_refuses_has_the_error_shape_too(client: TestClient) -> None:
    # Once {"detail": ...}, outside the documented error body (found by fuzzing).
    not_utf8 = client.post(
        "/api/v1/projects",
        content=b'{"name": "\xff"}',
        headers={"content-type": "application/json"},
    )
    assert not_utf8.status_code == 400
    assert not_utf8.json()["error"] == "invalid_body" and not_utf8.json()["field"] == "body"
    no_route = client.get("/api/v1/nosuch")
    assert no_route.status_code == 404 and no_route.json()["error"] == "not_found"
    wrong_method = client.delete("/api/v1/projects")
    assert wrong_method.status_code == 405 and wrong_method.json()["error"] == "method_not_allowed"
    assert "GET" in wrong_method.headers["allow"]


def test_column_kinds_are_patched_cleared_and_replaced(client: TestClient) -> None:
    path = "/api/v1/projects/churn/column-kinds"
    patched = client.patch(path, json={"kinds": {"plan": "text", "age": "categorical"}})
    assert patched.status_code == 200, patched.text
    assert patched.json()["column_kinds"] == {"plan": "text", "age": "categorical"}
    cleared = client.patch(path, json={"kinds": {"age": None}}).json()
    assert cleared["column_kinds"] == {"plan": "text"}
    replaced = client.put(path, json={"kinds": {"region": "ignore"}}).json()
    assert replaced["column_kinds"] == {"region": "ignore"}
    assert client.get("/api/v1/projects/churn").json()["project"]["column_kinds"] == {
        "region": "ignore"
    }
    bad = client.patch(path, json={"kinds": {"plan": "integer"}})
    assert bad.status_code == 422 and bad.json()["field"] == "kinds.plan"
    target = client.patch(path, json={"kinds": {"churned": "ignore"}})
    assert target.status_code == 400 and "target" in target.json()["message"]
    assert client.patch("/api/v1/projects/nope/column-kinds", json={"kinds": {}}).status_code == 404
