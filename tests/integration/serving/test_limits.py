"""Request limits on the real app: body size (413), rows per request (413), JSON nesting and
nested values (400), time per prediction (504); each message names its limit or field."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from conveyor.config import Settings, load_settings
from conveyor.errors import ConfigError
from conveyor.ports import Ports
from conveyor.serving.app import create_app
from tests.rows import CHURN_ROW

ONE_ROW = {"instances": [CHURN_ROW]}


def _client(home: Path, ports: Ports, **settings: object) -> TestClient:
    app = create_app(ports, Settings(home=home, **settings), poll_seconds=0.05, record=False)  # type: ignore[arg-type]
    return TestClient(app)


@pytest.fixture
def small(home: Path, ports: Ports) -> Iterator[TestClient]:
    """A server taking at most 4 KiB bodies and 5 rows a request."""
    with _client(home, ports, max_body_bytes=4096, max_rows_per_request=5) as client:
        yield client


def _assert_error(response: object, status: int, code: str, field: str | None) -> str:
    assert response.status_code == status, response.text  # type: ignore[attr-defined]
    body = response.json()  # type: ignore[attr-defined]
    assert (body["error"], body["field"]) == (code, field), body
    message: str = body["message"]
    return message


@pytest.mark.parametrize("path", ["/predict/churn", "/feedback/churn", "/invocations"])
def test_a_body_declared_over_the_limit_is_413_naming_the_setting(
    small: TestClient, path: str
) -> None:
    body = json.dumps({"instances": [CHURN_ROW] * 40}).encode()
    assert len(body) > 4096
    answer = small.post(path, content=body, headers={"content-type": "application/json"})
    message = _assert_error(answer, 413, "payload_too_large", "body")
    assert f"declares {len(body)} bytes" in message
    assert "at most 4096 (CONVEYOR_MAX_BODY_BYTES)" in message


@pytest.mark.parametrize("path", ["/predict/churn", "/feedback/churn"])
def test_a_streamed_body_without_a_length_is_cut_off_at_the_limit(
    small: TestClient, path: str
) -> None:
    def chunks() -> Iterator[bytes]:
        yield b'{"instances": ['
        for _ in range(100):
            yield json.dumps(CHURN_ROW).encode() + b","
        yield b"{}]}"

    answer = small.post(path, content=chunks())
    message = _assert_error(answer, 413, "payload_too_large", "body")
    assert "CONVEYOR_MAX_BODY_BYTES" in message and "at most 4096" in message


def test_uploads_keep_their_own_limit_not_the_request_body_limit(
    small: TestClient, tmp_path: Path
) -> None:
    csv = tmp_path / "more.csv"
    csv.write_text("a,b\n" + "1,2\n" * 5000)  # 20 KB, over the 4 KiB body limit
    with csv.open("rb") as handle:
        answer = small.post(
            "/api/v1/projects/churn/uploads", files={"file": ("more.csv", handle, "text/csv")}
        )
    assert answer.status_code == 202, answer.text


def test_more_rows_than_the_limit_is_413_naming_instances(small: TestClient) -> None:
    assert small.post("/predict/churn", json={"instances": [CHURN_ROW] * 5}).status_code == 200
    answer = small.post("/predict/churn", json={"instances": [CHURN_ROW] * 6})
    message = _assert_error(answer, 413, "payload_too_large", "instances")
    assert "has 6 rows" in message and "at most 5 per request" in message
    assert "CONVEYOR_MAX_ROWS_PER_REQUEST" in message


def _deep(levels: int) -> bytes:
    return b'{"instances": [{"age": ' + b"[" * levels + b"]" * levels + b"}]}"


@pytest.mark.parametrize("path", ["/predict/churn", "/feedback/churn", "/invocations"])
def test_json_nested_past_the_parser_limit_is_400_naming_the_body(
    client: TestClient, path: str
) -> None:
    answer = client.post(path, content=_deep(5000), headers={"content-type": "application/json"})
    message = _assert_error(answer, 400, "invalid_input", "body")
    assert "not valid JSON" in message


@pytest.mark.parametrize(("column", "value"), [("plan", {"a": 1}), ("region", ["north"])])
def test_a_row_value_that_is_an_object_or_a_list_is_400_naming_its_column(
    client: TestClient, column: str, value: object
) -> None:
    # Text columns would otherwise take the value's string form and answer 200.
    answer = client.post("/predict/churn", json={"instances": [{**CHURN_ROW, column: value}]})
    message = _assert_error(answer, 400, "invalid_input", column)
    kind = "object" if isinstance(value, dict) else "array"
    assert message.startswith(f"instances[0].{column} is a JSON {kind}")


def test_a_prediction_over_the_timeout_is_504_and_the_server_goes_on(
    home: Path, ports: Ports
) -> None:
    with _client(home, ports, request_timeout_seconds=0.001) as client:
        answer = client.post("/predict/churn", json={"instances": [CHURN_ROW] * 5000})
        message = _assert_error(answer, 504, "request_timeout", None)
        assert "longer than 0.001 s (CONVEYOR_REQUEST_TIMEOUT_SECONDS)" in message
        assert answer.headers["x-request-id"]
        # A few rows are scored on the event loop, within any timeout.
        assert client.post("/predict/churn", json=ONE_ROW).status_code == 200


def test_the_default_limits_take_a_full_batch(client: TestClient) -> None:
    answer = client.post("/predict/churn", json={"instances": [CHURN_ROW] * 2000})
    assert answer.status_code == 200, answer.text
    assert len(answer.json()["predictions"]) == 2000


@pytest.mark.parametrize(
    "setting", ["max_body_bytes", "max_rows_per_request", "request_timeout_seconds"]
)
def test_a_limit_of_zero_is_refused_naming_its_variable(tmp_path: Path, setting: str) -> None:
    with pytest.raises(ConfigError, match=f"CONVEYOR_{setting.upper()}"):
        load_settings(home=tmp_path, **{setting: 0})
