"""Bodies other servers' clients send to /predict get the answer conveyor's own body gets,
and their rows are recorded as conveyor's: MLflow's dataframe_split, dataframe_records and
inputs (rows or columns)."""

from __future__ import annotations

from pathlib import Path

from fastapi.testclient import TestClient

from conveyor.config import Settings
from conveyor.inference.records import list_inferences
from conveyor.ports import Ports
from conveyor.serving.app import create_app
from tests.integration.serving.test_predict import ROW

ROWS = [ROW, {**ROW, "age": 61}]
COLUMNS = list(ROW)


def test_mlflow_bodies_answer_as_instances_do_and_are_recorded_as_rows(
    home: Path, ports: Ports
) -> None:
    bodies = {
        "dataframe_records": {"dataframe_records": ROWS},
        "dataframe_split": {
            "dataframe_split": {"columns": COLUMNS, "data": [[r[c] for c in COLUMNS] for r in ROWS]}
        },
        "inputs rows": {"inputs": ROWS},
        "inputs columns": {"inputs": {c: [r[c] for r in ROWS] for c in COLUMNS}},
    }
    with TestClient(create_app(ports, Settings(home=home))) as client:
        expected = client.post("/predict/churn", json={"instances": ROWS}).json()
        for name, body in bodies.items():
            answer = client.post("/predict/churn", json=body, headers={"x-request-id": name})
            assert answer.status_code == 200, (name, answer.text)
            assert answer.json()["predictions"] == expected["predictions"], name
            assert answer.json()["probabilities"] == expected["probabilities"], name
    recorded = {r.request_id: r for r in list_inferences(ports.table, "churn")}
    for name in bodies:
        assert recorded[name].inputs == ROWS, name


def test_a_body_in_no_known_shape_is_a_400_naming_the_shapes(home: Path, ports: Ports) -> None:
    cases = [
        ({"rows": ROWS}, '"dataframe_split", "dataframe_records" and "inputs" are read too'),
        ({"dataframe_split": {"columns": ["age"], "data": [[1, 2]]}}, "has 2 values for 1"),
        ({"inputs": {"age": [1, 2], "plan": ["pro"]}}, "all as long"),
        ({"dataframe_records": []}, '"dataframe_records" is empty'),
    ]
    with TestClient(create_app(ports, Settings(home=home), record=False)) as client:
        for body, message in cases:
            answer = client.post("/predict/churn", json=body)
            assert answer.status_code == 400, (body, answer.text)
            assert message in answer.json()["message"], (body, answer.json())
