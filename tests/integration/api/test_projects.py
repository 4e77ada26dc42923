"""/api/v1/projects: the list at a glance, create, show."""

from __future__ import annotations

import time
from datetime import timedelta

from fastapi.testclient import TestClient

from conveyor.inference.records import InferenceRecord
from conveyor.pipeline.runs import RunStore
from conveyor.ports import Ports
from conveyor.storage import BUCKETS
from conveyor.types import ObjectRef, utcnow
from tests.rows import CHURN_ROW


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
    body = {
        "name": "house",
        "target": "price",
        "task": "regression",
        "metric": "mae",
        "metric_floor": 90.0,
        "manual_deploy": True,
    }
    created = client.post("/api/v1/projects", json=body)
    assert created.status_code == 201, created.text
    assert created.json()["name"] == "house" and created.json()["metric"] == "mae"
    assert created.json()["metric_floor"] == 90.0 and created.json()["manual_deploy"] is True
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


def test_patch_changes_a_projects_settings_for_its_next_run(client: TestClient) -> None:
    path = "/api/v1/projects/churn"
    changed = client.patch(
        path,
        json={
            "algorithm": "sklearn",
            "hyperparameters": {"max_iter": 50},
            "metric_floor": 0.6,
            "min_absolute_change": 0.01,
            "manual_deploy": True,
        },
    )
    assert changed.status_code == 200, changed.text
    body = changed.json()
    assert (body["algorithm"], body["hyperparameters"]) == ("sklearn", {"max_iter": 50})
    assert (body["metric_floor"], body["min_absolute_change"], body["manual_deploy"]) == (
        0.6,
        0.01,
        True,
    )
    assert client.get(path).json()["project"]["manual_deploy"] is True
    cleared = client.patch(path, json={"metric_floor": None}).json()
    assert cleared["metric_floor"] is None and cleared["algorithm"] == "sklearn"

    typo = client.patch(path, json={"algorithm": "lightgbm", "hyperparameters": {"num_leavs": 3}})
    assert typo.status_code == 400 and typo.json()["field"] == "params"
    assert "did you mean 'num_leaves'?" in typo.json()["message"]
    target = client.patch(path, json={"target": "plan"})  # version 1 predicts 'churned'
    assert target.status_code == 400 and target.json()["field"] == "target"
    assert client.patch(path, json={"colour": "red"}).status_code == 422
    assert client.patch("/api/v1/projects/nope", json={"manual_deploy": True}).status_code == 404
    assert client.get(path).json()["project"]["algorithm"] == "sklearn"  # refusals changed nothing


def test_delete_is_refused_while_serving_unless_forced(client: TestClient, ports: Ports) -> None:
    _records(ports, [10, 20])
    assert client.post("/predict/churn", json={"instances": [CHURN_ROW]}).status_code == 200
    assert client.post("/api/v1/projects", json={"name": "house", "target": "y"}).status_code == 201

    refused = client.delete("/api/v1/projects/churn")
    assert refused.status_code == 409, refused.text
    assert "serves version 1" in refused.json()["message"] and "force" in refused.json()["message"]
    assert client.get("/api/v1/projects/churn").status_code == 200

    deleted = client.delete("/api/v1/projects/churn", params={"force": "true"})
    assert deleted.status_code == 200, deleted.text
    body = deleted.json()
    assert (body["served_version"], body["versions"], body["runs"]) == (1, 1, 1)
    assert body["records"]["inference records"] == 2
    assert body["objects"]["models"] >= 1 and body["objects"]["raw"] == 1
    assert client.get("/api/v1/projects/churn").status_code == 404
    assert [p["name"] for p in client.get("/api/v1/projects").json()] == ["house"]
    assert ports.registry.list_versions("churn") == []
    assert ports.table.query("inference#churn") == []
    assert all(ports.store.list(bucket, "churn/") == [] for bucket in BUCKETS)
    assert client.delete("/api/v1/projects/churn").status_code == 404
    # The running server lets the model go: /predict of a deleted project is a 404.
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        answer = client.post("/predict/churn", json={"instances": [CHURN_ROW]})
        if answer.status_code != 200:
            break
        time.sleep(0.05)
    assert answer.status_code == 404, answer.text


def test_delete_waits_for_a_run_in_progress_unless_forced(client: TestClient, ports: Ports) -> None:
    assert client.post("/api/v1/projects", json={"name": "house", "target": "y"}).status_code == 201
    run, _ = RunStore(ports.table).create("house", ObjectRef("raw", "house/a.csv"), "d" * 64)
    refused = client.delete("/api/v1/projects/house")
    assert refused.status_code == 409 and run.run_id in refused.json()["message"]
    deleted = client.delete("/api/v1/projects/house", params={"force": "true"})
    assert deleted.status_code == 200 and deleted.json()["runs"] == 1
    assert RunStore(ports.table).list_runs("house") == []


def test_a_project_s_search_preset_and_budget_are_set_and_cleared(client: TestClient) -> None:
    body = {"name": "house", "target": "price", "preset": "balanced", "time_budget": 90}
    created = client.post("/api/v1/projects", json=body)
    assert created.status_code == 201, created.text
    assert created.json()["preset"] == "balanced" and created.json()["time_budget"] == 90
    patched = client.patch("/api/v1/projects/house", json={"preset": "best", "time_budget": None})
    assert patched.status_code == 200, patched.text
    assert patched.json()["preset"] == "best" and patched.json()["time_budget"] is None
    refused = client.patch("/api/v1/projects/house", json={"preset": "fastest"})
    assert refused.status_code == 422
    assert client.get("/api/v1/projects/house").json()["project"]["preset"] == "best"
