"""/ping and /invocations as SageMaker's container contract expects them."""

from __future__ import annotations

from fastapi.testclient import TestClient

from tests.integration.serving.test_predict import ROW


def test_ping_is_200_once_a_model_is_loaded(client: TestClient) -> None:
    assert client.get("/ping").status_code == 200


def test_invocations_takes_json_and_csv(client: TestClient) -> None:
    as_json = client.post("/invocations", json={"instances": [ROW]})
    assert as_json.status_code == 200, as_json.text
    assert as_json.json()["model_version"] == 1
    bare_list = client.post("/invocations", json=[ROW, ROW])
    assert len(bare_list.json()["predictions"]) == 2
    header = ",".join(ROW)
    values = ",".join("" if v is None else str(v) for v in ROW.values())
    as_csv = client.post(
        "/invocations",
        content=f"{header}\n{values}\n".encode(),
        headers={"content-type": "text/csv", "accept": "text/csv"},
    )
    assert as_csv.status_code == 200, as_csv.text
    assert as_csv.headers["content-type"].startswith("text/csv")
    lines = as_csv.text.strip().splitlines()
    assert lines[0] == "prediction" and lines[1] in ("no", "yes")
    assert as_csv.headers["x-model-version"] == "1"


def test_invocations_refuses_what_it_cannot_read(client: TestClient) -> None:
    wrong_type = client.post("/invocations", content=b"x", headers={"content-type": "image/png"})
    assert wrong_type.status_code == 400 and wrong_type.json()["field"] == "content-type"
    not_json = client.post(
        "/invocations", content=b"{nope", headers={"content-type": "application/json"}
    )
    assert not_json.status_code == 400
    bad_value = client.post("/invocations", json=[{**ROW, "age": "old"}])
    assert bad_value.status_code == 400 and bad_value.json()["field"] == "age"


def test_invocations_reads_an_integer_past_64_bits_as_a_number(client: TestClient) -> None:
    # Once a 500: the row was parsed whole, and its record could not be written (fuzzing).
    huge = client.post("/invocations", json=[{**ROW, "support calls": 10**30}])
    assert huge.status_code == 200, huge.text
    assert len(huge.json()["predictions"]) == 1
