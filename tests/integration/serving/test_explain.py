"""?explain=true on /predict and /invocations, and the request formats other servers' clients
send (TF-Serving's rows as lists, text/csv): on one copy of the trained churn home."""

from __future__ import annotations

import math
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import polars as pl
import pytest
from fastapi.testclient import TestClient

from conveyor.config import Settings
from conveyor.inference.records import InferenceRecord
from conveyor.serving.app import create_app
from conveyor.types import to_iso, utcnow
from conveyor.wiring import build_ports
from tests.rows import CHURN_ROW

ROWS = [CHURN_ROW, {**CHURN_ROW, "age": 61, "plan": None, "signup date": "2021-11-30"}]


@pytest.fixture(scope="module")
def home(trained_home: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    copy = tmp_path_factory.mktemp("explain") / "home"
    shutil.copytree(trained_home, copy)
    return copy


@pytest.fixture(scope="module")
def served(home: Path) -> Iterator[TestClient]:
    ports = build_ports(Settings(home=home))
    with TestClient(create_app(ports, Settings(home=home), poll_seconds=0.05)) as client:
        yield client


def _sigmoid(score: float) -> float:
    return 1.0 / (1.0 + math.exp(-score))


@pytest.mark.parametrize("count", [1, 2], ids=["one row", "two rows"])
def test_contributions_per_column_sum_to_the_log_odds_of_the_answer(
    served: TestClient, count: int
) -> None:
    rows = ROWS[:count]
    plain = served.post("/predict/churn", json={"instances": rows}).json()
    answer = served.post("/predict/churn?explain=true", json={"instances": rows})
    assert answer.status_code == 200, answer.text
    body = answer.json()
    assert body["probabilities"] == plain["probabilities"]
    explanation = body["explanation"]
    assert explanation["method"] == "tree_shap"
    assert explanation["score"].startswith("the log-odds of class 'yes'")
    assert len(explanation["rows"]) == count
    for row, probabilities in zip(explanation["rows"], body["probabilities"], strict=True):
        # Keyed by the user's columns: the date's several inputs are summed into one.
        assert set(row["contributions"]) == set(CHURN_ROW)
        total = row["base_value"] + sum(row["contributions"].values())
        assert total == pytest.approx(row["score"], abs=1e-9)
        assert _sigmoid(row["score"]) == pytest.approx(probabilities[1], abs=1e-9)


def test_the_python_api_explains_as_predict_does(served: TestClient, home: Path) -> None:
    from conveyor import load_model

    live = served.post("/predict/churn?explain=true", json={"instances": ROWS}).json()
    model = load_model("churn", home=str(home))
    assert model.explain(ROWS) == live["explanation"]


def test_explain_false_answers_as_no_parameter_and_a_bad_value_is_a_400(
    served: TestClient,
) -> None:
    plain = served.post("/predict/churn", json={"instances": ROWS}).json()
    for query in ("explain=false", "explain=0", "other=1"):
        body = served.post(f"/predict/churn?{query}", json={"instances": ROWS}).json()
        assert "explanation" not in body and body["probabilities"] == plain["probabilities"]
    for value in ("yes", ""):
        answer = served.post(f"/predict/churn?explain={value}", json={"instances": ROWS})
        assert answer.status_code == 400, answer.text
        assert answer.json()["field"] == "explain"
        assert "explain must be true or false" in answer.json()["message"]


def test_invocations_explain_through_sagemakers_custom_attributes(served: TestClient) -> None:
    answer = served.post(
        "/invocations",
        json={"instances": ROWS[:1]},
        headers={"x-amzn-sagemaker-custom-attributes": "explain=true"},
    )
    assert answer.status_code == 200, answer.text
    (row,) = answer.json()["explanation"]["rows"]
    assert row["base_value"] + sum(row["contributions"].values()) == pytest.approx(row["score"])


def test_rows_as_lists_and_a_csv_body_answer_as_the_json_body(served: TestClient) -> None:
    expected = served.post("/predict/churn", json={"instances": ROWS}).json()
    columns = list(CHURN_ROW)  # the schema's column order
    as_lists = {"instances": [[row[c] for c in columns] for row in ROWS]}
    cells = [[("" if row[c] is None else str(row[c])) for c in columns] for row in ROWS]
    as_csv = "\n".join(",".join(line) for line in [columns, *cells]) + "\n"
    for body in (
        served.post("/predict/churn", json=as_lists),
        served.post("/predict/churn", content=as_csv, headers={"content-type": "text/csv"}),
        served.post(
            "/predict/churn?explain=true", content=as_csv, headers={"content-type": "text/csv"}
        ),
    ):
        assert body.status_code == 200, body.text
        assert body.json()["probabilities"] == expected["probabilities"]


@pytest.mark.parametrize(
    ("content", "content_type", "message"),
    [
        (b'{"instances": [[42, "pro"]]}', "application/json", "must be a list of 8 values"),
        (b"age,plan\n42\n", "text/csv", "line 2 of the CSV body has 1 values for 2 columns"),
        (b"age,plan\n", "text/csv", "a header row of column names, then at least one row"),
        (b"age,plan\n42,pro\n", "application/json", "the body is not valid JSON"),
    ],
    ids=["short list", "ragged csv", "header only", "csv sent as json"],
)
def test_a_wrong_list_or_csv_body_is_a_400_naming_it(
    served: TestClient, content: bytes, content_type: str, message: str
) -> None:
    answer = served.post("/predict/churn", content=content, headers={"content-type": content_type})
    assert answer.status_code == 400, answer.text
    assert message in answer.json()["message"]


def _recorded(home: Path, request_id: str, inputs: list[dict[str, Any]] | None) -> str:
    """A recorded request (as the server's writer would have written it); its timestamp."""
    record = InferenceRecord(
        "churn", utcnow(), request_id, 1, 1.0, inputs, {"predictions": ["no"]}, 200
    )
    build_ports(Settings(home=home)).table.put(record.to_item())
    return to_iso(record.timestamp)


def test_a_recorded_row_is_explained_as_predict_explains_it(served: TestClient, home: Path) -> None:
    at = _recorded(home, "recorded-1", ROWS)
    listed = served.get("/api/v1/projects/churn/inferences?limit=5").json()
    assert listed[0]["request_id"] == "recorded-1" and listed[0]["timestamp"] == at
    path = "/api/v1/projects/churn/inferences/recorded-1/explanation"
    answer = served.get(path, params={"at": at, "row": 1})
    assert answer.status_code == 200, answer.text
    body = answer.json()
    assert body["inputs"] == ROWS[1] and body["answered_by"] == body["model_version"] == 1
    live = served.post("/predict/churn?explain=true", json={"instances": ROWS[1:]}).json()
    assert body["explanation"] == live["explanation"]
    beyond = served.get(path, params={"at": at, "row": 2})
    assert beyond.status_code == 400 and beyond.json()["field"] == "row"
    at = _recorded(home, "not-captured", None)
    uncaptured = served.get(
        "/api/v1/projects/churn/inferences/not-captured/explanation", params={"at": at}
    )
    assert uncaptured.status_code == 404 and "CONVEYOR_CAPTURE_RATE" in uncaptured.text


def test_a_blend_of_classifiers_is_explained_in_its_blended_probability(home: Path) -> None:
    # No cheap fixture deploys a search's blend of classifiers: the churn model served here
    # and a linear model fitted on its rows, blended as a search's ensemble serves them.
    from conveyor import load_model
    from conveyor.model.artifact import Predictor
    from conveyor.model.ensemble import EnsembleModel
    from conveyor.model.linear import LinearModel
    from conveyor.serving.schemas import Explanation
    from conveyor.types import Task

    served = load_model("churn", home=str(home)).predictor
    table = pl.read_csv(home / "churn.csv", n_rows=200)
    records = table.drop("churned").to_dicts()
    x = served._matrix(records)
    y = (table["churned"] == "yes").to_numpy().astype(int)
    linear = LinearModel.fit(
        Task.BINARY, x, y, categorical_indices=served.encoder.categorical_indices_,
        n_classes=2, params={}, seed=0,
    )  # fmt: skip
    blend = EnsembleModel([served.model, linear], ["lightgbm", "linear"], [0.6, 0.4])
    predictor = Predictor(served.schema, served.encoder, blend, {"algorithm": "ensemble"})
    rows = [*ROWS, *records[:20]]
    explanation = predictor.explain_records(rows)
    Explanation.model_validate(explanation)  # the answer's documented shape
    assert explanation["space"] == "probability"
    assert explanation["score"].startswith("the probability of class 'yes'")
    assert "not Shapley values of the blend" in explanation["score"]
    probabilities = predictor.predict_records(rows).probabilities
    assert probabilities is not None
    for row, probability in zip(explanation["rows"], probabilities, strict=True):
        total = row["base_value"] + sum(row["contributions"].values())
        assert total == pytest.approx(row["score"], abs=1e-12)
        assert row["score"] == pytest.approx(probability[1], abs=1e-9)
