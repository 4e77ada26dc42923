"""A bug answers 500 with a body that names the request, never the exception's text (which may
hold paths, data or secrets); the text goes to the server's log instead."""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator
from pathlib import Path
from typing import Any, NoReturn

import pytest
from fastapi.testclient import TestClient

from conveyor.config import Settings
from conveyor.ports import Ports
from conveyor.serving.app import create_app
from conveyor.serving.fastpath import PredictFastPath
from tests.integration.serving.test_predict import ROW

SECRET = "s3cr3t-token /home/alice/private.csv"


class _BrokenPredictor:
    """A predictor with a bug: every prediction raises."""

    def predict_records(self, instances: list[dict[str, Any]], **_: Any) -> NoReturn:
        raise RuntimeError(SECRET)


@pytest.fixture
def app(home: Path, ports: Ports) -> PredictFastPath:
    return create_app(ports, Settings(home=home), poll_seconds=0.05)


@pytest.fixture
def client(app: PredictFastPath) -> Iterator[TestClient]:
    """The server as a client sees it: a 500 is an answer, not an exception in the test."""
    with TestClient(app, raise_server_exceptions=False) as test_client:
        yield test_client


def _assert_hidden(response: Any, request_id: str) -> None:
    assert response.status_code == 500
    body = response.json()
    assert body["error"] == "internal_error"
    assert request_id in body["message"]
    assert "s3cr3t" not in response.text and "alice" not in response.text
    assert "RuntimeError" not in response.text


def test_a_bug_on_the_predict_fast_path_hides_its_text(
    app: PredictFastPath, client: TestClient, caplog: pytest.LogCaptureFixture
) -> None:
    holder = app.state.holder
    model = holder.get("churn")
    assert model is not None
    holder._models["churn"] = dataclasses.replace(model, predictor=_BrokenPredictor())

    response = client.post(
        "/predict/churn", json={"instances": [ROW]}, headers={"x-request-id": "req-fast-1"}
    )

    _assert_hidden(response, "req-fast-1")
    assert SECRET in caplog.text  # logged for the operator


def test_a_bug_behind_the_exception_handlers_hides_its_text(
    app: PredictFastPath, client: TestClient, caplog: pytest.LogCaptureFixture
) -> None:
    def broken() -> NoReturn:
        raise RuntimeError(SECRET)

    app.app.add_api_route("/broken", broken, response_model=None)

    response = client.get("/broken", headers={"x-request-id": "req-api-1"})

    _assert_hidden(response, "req-api-1")
    assert SECRET in caplog.text
