"""API key authentication (CONVEYOR_API_KEY or `<home>/api_key`), no CORS, loopback binding:
on the real app with a model the real pipeline trained, and one real `conveyor serve`."""

from __future__ import annotations

import json
import os
import subprocess
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from conveyor.config import API_KEY_FILE, Settings, load_settings
from conveyor.ports import Ports
from conveyor.serving.app import create_app
from tests.e2e.conftest import CONVEYOR, free_port
from tests.rows import CHURN_ROW

KEY = "test-key-0123456789"
PREDICT = {"instances": [CHURN_ROW]}


@pytest.fixture
def guarded(home: Path, ports: Ports) -> Iterator[TestClient]:
    app = create_app(ports, Settings(home=home, api_key=KEY), poll_seconds=0.05, record=False)
    with TestClient(app) as client:
        yield client


GUARDED = [
    ("POST", "/predict/churn", PREDICT),
    ("POST", "/feedback/churn", {"request_id": "r", "actual": "no"}),
    ("POST", "/invocations", PREDICT),
    ("GET", "/api/v1/projects", None),
    ("POST", "/api/v1/projects/churn/versions/1/approve", None),
    ("GET", "/no-such-route", None),
]


@pytest.mark.parametrize(("method", "path", "payload"), GUARDED)
def test_a_guarded_route_answers_401_without_a_key_and_403_with_a_wrong_one(
    guarded: TestClient, method: str, path: str, payload: object
) -> None:
    missing = guarded.request(method, path, json=payload)
    assert missing.status_code == 401, missing.text
    assert missing.json()["error"] == "unauthorized"
    assert missing.json()["field"] == "x-api-key"
    assert "x-api-key" in missing.json()["message"]
    for headers in ({"x-api-key": "wrong"}, {"authorization": "Bearer wrong"}):
        wrong = guarded.request(method, path, json=payload, headers=headers)
        assert wrong.status_code == 403, wrong.text
        assert wrong.json() == {
            "error": "forbidden",
            "message": "the API key is not valid for this server",
            "field": "x-api-key",
        }


def test_the_right_key_in_either_header_is_served(guarded: TestClient) -> None:
    for headers in ({"x-api-key": KEY}, {"Authorization": f"Bearer {KEY}"}):
        answer = guarded.post("/predict/churn", json=PREDICT, headers=headers)
        assert answer.status_code == 200, answer.text
        assert answer.json()["model_version"] == 1
        assert guarded.get("/api/v1/projects", headers=headers).json()[0]["name"] == "churn"
        invoked = guarded.post("/invocations", json=PREDICT, headers=headers)
        assert invoked.status_code == 200, invoked.text


@pytest.mark.parametrize("path", ["/health", "/ping", "/metrics", "/docs", "/openapi.json"])
def test_probes_metrics_and_the_api_documents_stay_open(guarded: TestClient, path: str) -> None:
    deadline = time.monotonic() + 10
    while (response := guarded.get(path)).status_code != 200 and time.monotonic() < deadline:
        time.sleep(0.05)  # /ping is 404 until the model is loaded
    assert response.status_code == 200, response.text


@pytest.mark.parametrize(
    ("page", "script"),
    [
        ("/docs", "/docs/static/swagger-ui-bundle.js"),
    ],
)
def test_the_api_documents_draw_from_the_server_itself_without_a_key(
    guarded: TestClient, page: str, script: str
) -> None:
    html = guarded.get(page).text
    assert script in html
    assert "cdn." not in html  # nothing loaded from outside: /docs drew blank offline
    loaded = guarded.get(script)
    assert loaded.status_code == 200 and len(loaded.content) > 100_000


def test_without_a_key_the_server_stays_open(client: TestClient) -> None:
    assert client.post("/predict/churn", json=PREDICT).status_code == 200
    assert client.get("/api/v1/projects").status_code == 200
    assert client.get("/ui").status_code == 200


def test_the_key_comes_from_the_home_file_unless_the_environment_sets_one(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("CONVEYOR_API_KEY", raising=False)
    home = tmp_path / "home"
    assert load_settings(home=home).api_key is None
    home.mkdir()
    (home / API_KEY_FILE).write_text("from-file\n")
    settings = load_settings(home=home)
    assert settings.api_key is not None and settings.api_key.get_secret_value() == "from-file"
    assert "from-file" not in repr(settings)  # a secret, never printed with the settings
    monkeypatch.setenv("CONVEYOR_API_KEY", "from-env")
    key = load_settings(home=home).api_key
    assert key is not None and key.get_secret_value() == "from-env"


def test_a_dashboard_page_without_the_key_leads_to_the_login_page(guarded: TestClient) -> None:
    page = guarded.get("/ui/projects/churn?tab=x", follow_redirects=False)
    assert page.status_code == 303
    assert page.headers["location"] == "/ui/login?next=%2Fui%2Fprojects%2Fchurn%3Ftab%3Dx"
    login = guarded.get(page.headers["location"])
    assert login.status_code == 200 and 'name="key"' in login.text
    assert guarded.get("/ui/static/ui.css").status_code == 200  # the login page's style


def test_logging_in_sets_an_httponly_strict_cookie_the_dashboard_and_its_api_calls_use(
    guarded: TestClient,
) -> None:
    wrong = guarded.post("/ui/login", data={"key": "wrong", "next": "/ui"})
    assert wrong.status_code == 403 and "not valid" in wrong.text
    assert "set-cookie" not in wrong.headers
    answer = guarded.post(
        "/ui/login", data={"key": KEY, "next": "/ui/projects/churn"}, follow_redirects=False
    )
    assert answer.status_code == 303 and answer.headers["location"] == "/ui/projects/churn"
    cookie = answer.headers["set-cookie"]
    assert "HttpOnly" in cookie and "SameSite=strict" in cookie and "Path=/" in cookie
    assert guarded.get("/ui/projects/churn").status_code == 200
    assert guarded.get("/api/v1/projects").status_code == 200
    # The cookie is the dashboard's: it never authorises a prediction by itself.
    assert guarded.post("/predict/churn", json=PREDICT).status_code == 401
    guarded.post("/ui/logout")
    assert guarded.get("/api/v1/projects").status_code == 401


def test_login_sends_a_person_only_back_into_the_dashboard(guarded: TestClient) -> None:
    for target in ("https://elsewhere.example/", "//elsewhere.example/ui", "/api/v1/projects"):
        answer = guarded.post(
            "/ui/login", data={"key": KEY, "next": target}, follow_redirects=False
        )
        assert answer.headers["location"] == "/ui", target


def test_a_cross_origin_preflight_gets_no_cors_grant(
    guarded: TestClient, client: TestClient
) -> None:
    preflight = {
        "origin": "https://elsewhere.example",
        "access-control-request-method": "POST",
        "access-control-request-headers": "content-type,x-api-key",
    }
    for app in (guarded, client):
        for path in ("/predict/churn", "/api/v1/projects"):
            answer = app.options(path, headers=preflight)
            assert "access-control-allow-origin" not in answer.headers, (path, answer.headers)
        simple = app.get("/health", headers={"origin": "https://elsewhere.example"})
        assert "access-control-allow-origin" not in simple.headers


def _listening_addresses(port: int) -> set[str]:
    """Local addresses of the sockets listening on ``port``, from the kernel's own tables."""
    found = set()
    for table, width in (("/proc/net/tcp", 8), ("/proc/net/tcp6", 32)):
        if not os.path.exists(table):
            continue
        for line in Path(table).read_text().splitlines()[1:]:
            local, state = line.split()[1], line.split()[3]
            address, port_hex = local.split(":")
            if state == "0A" and int(port_hex, 16) == port and len(address) == width:
                found.add(address)
    return found


def _status(url: str, payload: object = None, headers: dict[str, str] | None = None) -> int:
    data = None if payload is None else json.dumps(payload).encode()
    request = urllib.request.Request(url, data=data, headers=headers or {})
    try:
        with urllib.request.urlopen(request, timeout=5) as response:
            return int(response.status)
    except urllib.error.HTTPError as exc:
        return exc.code
    except OSError:
        return 0  # not listening yet


def test_conveyor_serve_binds_loopback_by_default_and_checks_the_key_over_http(
    home: Path,
) -> None:
    port = free_port()
    process = subprocess.Popen(
        [str(CONVEYOR), "serve", "--port", str(port)],
        env={**os.environ, "CONVEYOR_HOME": str(home), "CONVEYOR_API_KEY": KEY},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while _status(f"{base}/ping") != 200 and time.monotonic() < deadline:
            time.sleep(0.2)
        assert _listening_addresses(port) == {"0100007F"}  # 127.0.0.1, and nothing else
        assert _status(f"{base}/predict/churn", PREDICT) == 401
        assert _status(f"{base}/predict/churn", PREDICT, {"x-api-key": KEY}) == 200
    finally:
        process.terminate()
        process.wait(timeout=30)
