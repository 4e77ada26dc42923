"""/predict and its errors, on the real app with a model the real pipeline trained."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient

from tests.rows import CHURN_ROW

ROW = CHURN_ROW


def test_predict_answers_with_labels_probabilities_and_the_version(client: TestClient) -> None:
    response = client.post(
        "/predict/churn",
        json={"instances": [ROW, {**ROW, "age": None}]},
        headers={"x-request-id": "req-1"},
    )
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["model_version"] == 1 and body["request_id"] == "req-1"
    assert body["classes"] == ["no", "yes"]
    assert set(body["predictions"]) <= {"no", "yes"} and len(body["predictions"]) == 2
    assert all(abs(sum(p) - 1) < 1e-9 for p in body["probabilities"])


def test_missing_values_are_accepted_where_the_model_handles_them(client: TestClient) -> None:
    row = {name: None for name in ROW}
    assert client.post("/predict/churn", json={"instances": [row]}).status_code == 200


@pytest.mark.parametrize("rows", [1, 40], ids=["row path", "columnar path"])
def test_a_row_as_uploaded_is_scored_and_its_unread_columns_named(
    client: TestClient, rows: int
) -> None:
    # The upload's own row shape: its id (dropped in training) and its target come back.
    uploaded = {"customer id": "C100007", **ROW, "churned": "yes"}
    body = client.post("/predict/churn", json={"instances": [uploaded] * rows}).json()
    plain = client.post("/predict/churn", json={"instances": [ROW] * rows}).json()
    assert body["ignored_columns"] == ["churned", "customer id"]
    assert body["probabilities"] == plain["probabilities"]
    assert "ignored_columns" not in plain


def test_a_left_out_column_is_a_missing_value(client: TestClient) -> None:
    without_plan = {k: v for k, v in ROW.items() if k != "plan"}
    body = client.post("/predict/churn", json={"instances": [without_plan]}).json()
    as_null = client.post("/predict/churn", json={"instances": [{**ROW, "plan": None}]}).json()
    assert body["probabilities"] == as_null["probabilities"]


@pytest.mark.parametrize(
    ("path", "payload", "status", "field", "message"),
    [
        ("/predict/nope", {"instances": [ROW]}, 404, "project", "no deployed model"),
        (
            "/predict/churn",
            {"instances": [{**ROW, "colour": "red"}]},
            400,
            "colour",
            "unknown column",
        ),
        ("/predict/churn", {"instances": [{**ROW, "age": "old"}]}, 400, "age", "expects a number"),
        (
            "/predict/churn",
            {"instances": [{**ROW, "signup date": "soon"}]},
            400,
            "signup date",
            "expects a date",
        ),
        ("/predict/churn", {"instances": []}, 400, "instances", "is empty"),
        ("/predict/churn", {"instances": [{"churned": "no"}]}, 400, "instances", "none of"),
        ("/predict/churn", {"instances": {"age": 3}}, 400, "instances", "must be a list"),
        ("/predict/churn", {"instances": [ROW, 7]}, 400, "instances", "instances[1]"),
        ("/predict/churn", {"rows": [ROW]}, 400, "instances", 'needs "instances"'),
    ],
    ids=[
        "unknown project",
        "unknown column",
        "wrong type",
        "bad date",
        "empty list",
        "no feature at all",
        "not a list",
        "row not an object",
        "no instances",
    ],
)
def test_bad_requests_get_a_4xx_naming_the_field(
    client: TestClient, path: str, payload: object, status: int, field: str, message: str
) -> None:
    response = client.post(path, json=payload)
    assert response.status_code == status, response.text
    body = response.json()
    assert body["field"] == field
    assert message in body["message"]


def test_a_body_that_is_not_json_is_a_400(client: TestClient) -> None:
    response = client.post(
        "/predict/churn", content=b"age=42", headers={"content-type": "application/json"}
    )
    assert response.status_code == 400
    assert response.json()["field"] == "body"
    assert "not valid JSON" in response.json()["message"]


def test_health_and_openapi(client: TestClient) -> None:
    assert client.get("/health").json()["models"] == {"churn": 1}
    assert "/predict/{project}" in client.get("/openapi.json").json()["paths"]


def test_a_large_request_answers_as_its_rows_would_one_by_one(client: TestClient) -> None:
    # Past ROW_PATH_MAX_ROWS the columnar path takes over: the answers must not change.
    from conveyor.model.artifact import ROW_PATH_MAX_ROWS

    rows = [
        {**ROW, "age": 20 + i % 50, "tenure months": i % 37} for i in range(ROW_PATH_MAX_ROWS + 5)
    ]
    large = client.post("/predict/churn", json={"instances": rows}).json()
    for i in (0, 7, ROW_PATH_MAX_ROWS + 4):
        one = client.post("/predict/churn", json={"instances": [rows[i]]}).json()
        assert one["predictions"][0] == large["predictions"][i]
        assert one["probabilities"][0] == pytest.approx(large["probabilities"][i], abs=1e-12)
    bad = [*rows[:-1], {**ROW, "age": "old"}]
    response = client.post("/predict/churn", json={"instances": bad})
    assert response.status_code == 400
    assert f"row {len(bad)}" in response.json()["message"]
