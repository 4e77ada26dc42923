"""``/invocations`` (SageMaker's container contract) under the limits of ``/predict``: body
size and rows per request (413), time per prediction (504), and flat rows (400), for JSON and
CSV bodies, on the local server and on the inference container's app, each message naming its
setting."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from conveyor.config import Settings
from conveyor.ports import Ports
from conveyor.serving.app import create_app
from conveyor.serving.sagemaker.app import create_container_app
from conveyor.serving.sagemaker.model_dir import load_model_dir
from conveyor.serving.sagemaker.settings import ContainerSettings
from tests.integration.model_dirs import unpacked_deployed_model
from tests.rows import CHURN_ROW

CSV_HEADER = ",".join(CHURN_ROW)
CSV_LINE = ",".join(str(value) for value in CHURN_ROW.values())
ERROR_KEYS = {"error", "message", "field"}


def as_json(rows: int) -> bytes:
    return json.dumps({"instances": [CHURN_ROW] * rows}).encode()


def as_csv(rows: int) -> bytes:
    return "\n".join([CSV_HEADER, *[CSV_LINE] * rows, ""]).encode()


def invoke(client: TestClient, body: bytes, content_type: str) -> Any:
    return client.post("/invocations", content=body, headers={"content-type": content_type})


def error_of(response: Any, status: int) -> dict[str, Any]:
    assert response.status_code == status, response.text
    body: dict[str, Any] = response.json()
    assert set(body) == ERROR_KEYS
    return body


@pytest.fixture(scope="module")
def model_dir(trained_home: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The deployed version's model.tar.gz unpacked, as SageMaker unpacks it in /opt/ml/model."""
    return unpacked_deployed_model(trained_home, tmp_path_factory.mktemp("opt-ml"))


def container_app(model_dir: Path, monkeypatch: pytest.MonkeyPatch, **env: str) -> FastAPI:
    """The container's app as ``conveyor-sagemaker-serve`` builds it from its environment."""
    for name, value in {
        "CONVEYOR_MODEL_DIR": str(model_dir),
        "CONVEYOR_SERVE_PROJECT": "churn",
        "CONVEYOR_MODEL_VERSION": "1",
        **env,
    }.items():
        monkeypatch.setenv(name, value)
    settings = ContainerSettings()
    model = load_model_dir(settings.model_dir, project=settings.project, version=settings.version)
    return create_container_app(model, settings.limits())


@pytest.fixture(params=["local", "container"])
def small(
    request: pytest.FixtureRequest,
    home: Path,
    ports: Ports,
    model_dir: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> Iterator[TestClient]:
    """A server taking at most 4 KiB bodies and 5 rows a request: ``conveyor serve`` or the
    inference container, each given the limits by its settings."""
    if request.param == "local":
        settings = Settings(home=home, max_body_bytes=4096, max_rows_per_request=5)
        app: Any = create_app(ports, settings, poll_seconds=0.05, record=False)
    else:
        limits = {"CONVEYOR_MAX_BODY_BYTES": "4096", "CONVEYOR_MAX_ROWS_PER_REQUEST": "5"}
        app = container_app(model_dir, monkeypatch, **limits)
    with TestClient(app) as client:
        yield client


@pytest.fixture(params=["local", "container"])
def hasty(
    request: pytest.FixtureRequest,
    home: Path,
    ports: Ports,
    model_dir: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> Iterator[TestClient]:
    """A server whose predictions may take at most a millisecond."""
    if request.param == "local":
        settings = Settings(home=home, request_timeout_seconds=0.001)
        app: Any = create_app(ports, settings, poll_seconds=0.05, record=False)
    else:
        app = container_app(model_dir, monkeypatch, CONVEYOR_REQUEST_TIMEOUT_SECONDS="0.001")
    with TestClient(app) as client:
        yield client


def test_rows_up_to_the_limit_are_answered_in_json_and_csv(small: TestClient) -> None:
    for body, content_type in [(as_json(5), "application/json"), (as_csv(5), "text/csv")]:
        answer = invoke(small, body, content_type)
        assert answer.status_code == 200, answer.text
        assert len(answer.json()["predictions"]) == 5


def test_more_json_rows_than_the_limit_is_413_naming_the_setting(small: TestClient) -> None:
    for body in [as_json(6), json.dumps([CHURN_ROW] * 6).encode()]:  # both JSON shapes
        error = error_of(invoke(small, body, "application/json"), 413)
        assert (error["error"], error["field"]) == ("payload_too_large", "instances")
        assert error["message"].startswith("the request has 6 rows in instances; ")
        assert "at most 5 per request (CONVEYOR_MAX_ROWS_PER_REQUEST)" in error["message"]


def test_more_csv_rows_than_the_limit_is_413_naming_the_setting(small: TestClient) -> None:
    error = error_of(invoke(small, as_csv(6), "text/csv"), 413)
    assert (error["error"], error["field"]) == ("payload_too_large", "body")
    assert error["message"].startswith("the request has 6 rows in its CSV body; ")
    assert "at most 5 per request (CONVEYOR_MAX_ROWS_PER_REQUEST)" in error["message"]


@pytest.mark.parametrize("content_type", ["application/json", "text/csv"])
def test_a_body_over_the_limit_is_413_naming_the_setting(
    small: TestClient, content_type: str
) -> None:
    body = as_json(40) if content_type == "application/json" else as_csv(150)
    assert len(body) > 4096
    declared = error_of(invoke(small, body, content_type), 413)
    assert declared["field"] == "body"
    assert f"declares {len(body)} bytes" in declared["message"]
    assert "at most 4096 (CONVEYOR_MAX_BODY_BYTES)" in declared["message"]

    def chunks() -> Iterator[bytes]:  # no Content-Length: cut off as it streams in
        yield from (body[start : start + 1024] for start in range(0, len(body), 1024))

    streamed = small.post("/invocations", content=chunks(), headers={"content-type": content_type})
    error = error_of(streamed, 413)
    assert error["field"] == "body" and "CONVEYOR_MAX_BODY_BYTES" in error["message"]


@pytest.mark.parametrize(("column", "value"), [("plan", {"a": 1}), ("region", ["north"])])
def test_a_row_value_that_is_an_object_or_a_list_is_400_naming_its_column(
    small: TestClient, column: str, value: object
) -> None:
    body = json.dumps([{**CHURN_ROW, column: value}]).encode()
    error = error_of(invoke(small, body, "application/json"), 400)
    kind = "object" if isinstance(value, dict) else "array"
    assert error["field"] == column
    assert error["message"].startswith(f"instances[0].{column} is a JSON {kind}")


@pytest.mark.parametrize("content_type", ["application/json", "text/csv"])
def test_a_prediction_over_the_timeout_is_504_and_the_server_goes_on(
    hasty: TestClient, content_type: str
) -> None:
    big = as_json(10_000) if content_type == "application/json" else as_csv(10_000)
    error = error_of(invoke(hasty, big, content_type), 504)
    assert (error["error"], error["field"]) == ("request_timeout", None)
    assert "longer than 0.001 s (CONVEYOR_REQUEST_TIMEOUT_SECONDS)" in error["message"]
    # A few rows are scored on the event loop, within any timeout.
    small = as_json(1) if content_type == "application/json" else as_csv(1)
    answer = invoke(hasty, small, content_type)
    assert answer.status_code == 200, answer.text
    assert len(answer.json()["predictions"]) == 1
