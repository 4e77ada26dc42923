"""Ground truth: outcomes posted to /feedback join their recorded inferences by request id
and give each version's live quality."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import polars as pl
from fastapi.testclient import TestClient
from sklearn.metrics import accuracy_score, roc_auc_score

from conveyor.config import Settings
from conveyor.inference.records import InferenceRecord
from conveyor.monitoring.feedback import feedback_partition
from conveyor.monitoring.quality import live_quality
from conveyor.ports import Ports
from conveyor.samples.generate import write_churn_csv
from conveyor.serving.app import create_app
from conveyor.types import utcnow


def _held_out(tmp_path: Path, rows: int) -> pl.DataFrame:
    frame = pl.read_csv(write_churn_csv(tmp_path / "fresh.csv", rows=rows, seed=99))
    return frame.drop("customer id")  # an id the model does not take


def test_feedback_gives_the_live_quality_of_the_served_version(
    home: Path, ports: Ports, tmp_path: Path
) -> None:
    started = utcnow() - timedelta(seconds=1)
    fresh = _held_out(tmp_path, 200)
    predicted, positive_scores, actual = [], [], []
    with TestClient(create_app(ports, Settings(home=home))) as client:
        for row in fresh.iter_rows(named=True):
            outcome = row.pop("churned")
            answer = client.post("/predict/churn", json={"instances": [row]}).json()
            response = client.post(
                "/feedback/churn", json={"request_id": answer["request_id"], "actual": outcome}
            )
            assert response.status_code == 200
            assert response.json() == {"stored": 1, "notes": []}
            predicted.append(answer["predictions"][0])
            positive_scores.append(answer["probabilities"][0][answer["classes"].index("yes")])
            actual.append(outcome)
        # A label the model has no class for is stored (a class may have appeared since
        # training) and the answer says how it counts.
        maybe = client.post(
            "/feedback/churn", json={"request_id": answer["request_id"], "actual": "maybe"}
        )
        assert maybe.status_code == 200 and maybe.json()["stored"] == 1
        assert maybe.json()["notes"] == [
            "'maybe' is not a class of churn v1 (no, yes): stored, and counted as a miss in "
            "live quality"
        ]
        # The last row's outcome again, so that the quality below holds every row's.
        again = {"request_id": answer["request_id"], "actual": actual[-1]}
        assert client.post("/feedback/churn", json=again).status_code == 200

    [quality] = live_quality(ports.table, "churn", since=started, registry=ports.registry)
    assert quality.version == 1 and quality.count == 200
    assert quality.metric == "roc_auc"
    truth = [a == "yes" for a in actual]
    assert quality.value == roc_auc_score(truth, positive_scores)
    assert quality.metrics["accuracy"] == accuracy_score(actual, predicted)
    # Without the registry the task is unknown: accuracy is what can be said.
    [plain] = live_quality(ports.table, "churn", since=started)
    assert plain.metric == "accuracy" and plain.value == quality.metrics["accuracy"]
    # A window that starts after the feedback holds none.
    assert live_quality(ports.table, "churn", since=utcnow()) == []


def test_too_few_outcomes_give_no_value(home: Path, ports: Ports, tmp_path: Path) -> None:
    started = utcnow() - timedelta(seconds=1)
    fresh = _held_out(tmp_path, 5)
    with TestClient(create_app(ports, Settings(home=home))) as client:
        rows = [r for r in fresh.drop("churned").iter_rows(named=True)]
        answer = client.post("/predict/churn", json={"instances": rows}).json()
        outcomes = fresh.get_column("churned").to_list()
        # Several rows in one request: one outcome per row, in order.
        feedback = {"request_id": answer["request_id"], "actual": outcomes}
        assert client.post("/feedback/churn", json=feedback).status_code == 200
    [quality] = live_quality(ports.table, "churn", since=started, registry=ports.registry)
    assert quality.count == 5 and quality.value is None


def test_malformed_feedback_is_a_4xx_naming_the_problem(home: Path, ports: Ports) -> None:
    with TestClient(create_app(ports, Settings(home=home))) as client:
        cases = [
            ("/feedback/churn", b"{not json", 400, "body"),
            ("/feedback/churn", b'{"actual": 1}', 400, "request_id"),
            ("/feedback/churn", b'{"request_id": "r1"}', 400, "actual"),
            ("/feedback/churn", b'{"request_id": "r1", "actual": {"a": 1}}', 400, "actual"),
            ("/feedback/churn", b"[]", 400, "body"),
            ("/feedback/churn", b'"text"', 400, "body"),
            ("/feedback/nope", b'{"request_id": "r1", "actual": 1}', 404, "project"),
        ]
        for path, body, status, field in cases:
            response = client.post(path, content=body)
            assert response.status_code == status, (body, response.text)
            assert response.json()["field"] == field, (body, response.json())


def test_feedback_for_a_request_id_never_issued_is_refused_naming_it(
    home: Path, ports: Ports, tmp_path: Path
) -> None:
    with TestClient(create_app(ports, Settings(home=home))) as client:
        row = _held_out(tmp_path, 1).drop("churned").row(0, named=True)
        issued = client.post("/predict/churn", json={"instances": [row]}).json()["request_id"]
        # An id issued for another project (here one that serves nothing: /predict still
        # answered it, with the id in its header).
        other = client.post("/predict/other", json={"instances": [row]})
        assert other.status_code == 404
        elsewhere = other.headers["x-request-id"]
        body = [
            {"request_id": issued, "actual": "no"},
            {"request_id": "0c9f-typo", "actual": "yes"},
            {"request_id": elsewhere, "actual": "no"},
        ]
        refused = client.post("/feedback/churn", json=body)
        assert refused.status_code == 422, refused.text
        error = refused.json()
        assert error["error"] == "unknown_request_id" and error["field"] == "request_id"
        assert "'0c9f-typo'" in error["message"] and repr(elsewhere) in error["message"]
        assert "items 1, 2" in error["message"] and repr(issued) not in error["message"]
        assert "the request_id /predict/churn answered with" in error["message"]
        # Refused whole: not even the good item was stored.
        assert ports.table.count(feedback_partition("churn")) == 0

        # The id just issued is accepted at once, its record written or not.
        accepted = client.post("/feedback/churn", json=body[0])
        assert accepted.status_code == 200 and accepted.json()["stored"] == 1
        # An id the server did not sign (stored before ids were, or chosen with
        # x-request-id) is accepted when the project's records hold it.
        old = InferenceRecord(
            "churn", utcnow(), "5a" * 16, 1, 1.0, [row], {"predictions": ["no"]}, 200
        )
        ports.table.put(old.to_item())
        assert (
            client.post(
                "/feedback/churn", json={"request_id": "5a" * 16, "actual": "no"}
            ).status_code
            == 200
        )
