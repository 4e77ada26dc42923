"""The SageMaker inference container run for real, as SageMaker hosting runs it: the model's
model.tar.gz (trained by the real pipeline) unpacked in a folder, ``serve`` started as a
process on the port SAGEMAKER_BIND_TO_PORT names, ``/ping`` and ``/invocations`` over HTTP."""

from __future__ import annotations

import csv
import io
import json
import os
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from conveyor.config import Settings
from conveyor.model.artifact import unpack
from conveyor.samples.generate import write_churn_csv
from conveyor.serving.app import create_app
from conveyor.wiring import build_ports
from tests.e2e.conftest import free_port
from tests.integration.serving.conftest import conveyor
from tests.rows import CHURN_ROW

SERVE_SCRIPT = Path(sys.executable).parent / "conveyor-sagemaker-serve"
ROWS: list[dict[str, Any]] = [
    CHURN_ROW,
    {**CHURN_ROW, "age": 23, "plan": "basic", "support calls": 9, "tenure months": 1},
    {**CHURN_ROW, "region": None, "monthly charges": 110.25, "has partner": "yes"},
]


@pytest.fixture(scope="module")
def home(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A home whose project 'churn' serves version 1, trained by the real pipeline."""
    home = tmp_path_factory.mktemp("container-home")
    data = write_churn_csv(home / "churn.csv", rows=800, seed=11)
    run = conveyor(home, "upload", str(data), "-p", "churn", "--target", "churned", "--wait")
    assert run["state"] == "DEPLOYED", run
    return home


@pytest.fixture(scope="module")
def model_dir(home: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The deployed version's model.tar.gz unpacked, as SageMaker unpacks it in /opt/ml/model."""
    ports = build_ports(Settings(home=home))
    (deployment,) = ports.endpoint.list_endpoints()
    root = tmp_path_factory.mktemp("opt-ml")
    tarball = root / "model.tar.gz"
    ports.store.download(deployment.artifact.bucket, deployment.artifact.key, tarball)
    return unpack(tarball, root / "model")


@pytest.fixture(scope="module")
def local(home: Path) -> Iterator[TestClient]:
    """The local model server (``conveyor serve``) over the same deployed version."""
    settings = Settings(home=home)
    app = create_app(build_ports(settings), settings, record=False)
    with TestClient(app) as client:
        yield client


def start(model_dir: Path, port: int, **env: str) -> subprocess.Popen[str]:
    variables = {
        **os.environ,
        "CONVEYOR_MODEL_DIR": str(model_dir),
        "SAGEMAKER_BIND_TO_PORT": str(port),
        "SAGEMAKER_MODEL_SERVER_WORKERS": "1",
        "CONVEYOR_SERVE_PROJECT": "churn",
        "CONVEYOR_MODEL_VERSION": "1",
        **env,
    }
    return subprocess.Popen(
        [str(SERVE_SCRIPT), "serve", "--host", "127.0.0.1"],
        env=variables,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def ping(port: int) -> int:
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/ping", timeout=2) as answer:
            return int(answer.status)
    except urllib.error.HTTPError as exc:
        return exc.code


def wait_healthy(process: subprocess.Popen[str], port: int, timeout: float = 20) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        assert process.poll() is None, process.communicate()[1]
        try:
            if ping(port) == 200:
                return
        except OSError:  # not listening yet
            pass
        time.sleep(0.1)
    raise AssertionError(f"/ping never answered 200 within {timeout} s")


def invoke(
    port: int, body: bytes, content_type: str, accept: str = "application/json"
) -> tuple[int, str, bytes]:
    request = urllib.request.Request(
        f"http://127.0.0.1:{port}/invocations",
        data=body,
        headers={"content-type": content_type, "accept": accept},
    )
    try:
        with urllib.request.urlopen(request, timeout=10) as answer:
            return answer.status, answer.headers["content-type"], answer.read()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.headers["content-type"], exc.read()


def as_csv(rows: list[dict[str, Any]]) -> bytes:
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=list(rows[0]), lineterminator="\n")
    writer.writeheader()
    writer.writerows(rows)
    return out.getvalue().encode()


def stop(process: subprocess.Popen[str]) -> tuple[int, str]:
    """SIGTERM, as ``docker stop`` sends it; the exit code and what the process logged."""
    process.send_signal(signal.SIGTERM)
    _, stderr = process.communicate(timeout=10)
    return process.returncode, stderr


@pytest.fixture(scope="module")
def container(model_dir: Path) -> Iterator[int]:
    """A running container's port."""
    port = free_port()
    process = start(model_dir, port)
    try:
        wait_healthy(process, port)
        yield port
    finally:
        if process.poll() is None:
            process.kill()
        process.communicate()


def test_json_and_csv_answers_are_the_local_server_s(container: int, local: TestClient) -> None:
    body = json.dumps({"instances": ROWS}).encode()
    status, content_type, answer = invoke(container, body, "application/json")
    assert status == 200, answer
    assert content_type.startswith("application/json")
    served = json.loads(answer)
    expected = local.post(
        "/invocations", content=body, headers={"content-type": "application/json"}
    )
    assert expected.status_code == 200, expected.text
    for key in ("predictions", "classes", "probabilities", "model_version"):
        assert served[key] == expected.json()[key], key
    assert served["model_version"] == 1 and len(served["predictions"]) == len(ROWS)

    # CSV in, CSV out: the same labels, and the same bytes as the local server writes.
    status, content_type, answer = invoke(container, as_csv(ROWS), "text/csv", accept="text/csv")
    assert status == 200, answer
    assert content_type.startswith("text/csv")
    lines = answer.decode().splitlines()
    assert lines == ["prediction", *served["predictions"]]
    local_csv = local.post(
        "/invocations",
        content=as_csv(ROWS),
        headers={"content-type": "text/csv", "accept": "text/csv"},
    )
    assert answer.decode() == local_csv.text

    # CSV in, JSON out (SageMaker's default Accept), and a bare list of rows.
    status, _, answer = invoke(container, as_csv(ROWS), "text/csv")
    assert status == 200 and json.loads(answer)["predictions"] == served["predictions"]
    status, _, answer = invoke(container, json.dumps(ROWS[:1]).encode(), "application/json")
    assert status == 200 and json.loads(answer)["predictions"] == served["predictions"][:1]


@pytest.mark.parametrize(
    ("body", "content_type", "field"),
    [
        (json.dumps([{**CHURN_ROW, "age": "old"}]).encode(), "application/json", "age"),
        (b"{nope", "application/json", "body"),
        (json.dumps({"rows": []}).encode(), "application/json", "instances"),
        (json.dumps({"instances": []}).encode(), "application/json", "instances"),
        (b"\x89PNG", "image/png", "content-type"),
    ],
)
def test_a_bad_body_is_a_4xx_naming_the_field(
    container: int, body: bytes, content_type: str, field: str
) -> None:
    status, answer_type, answer = invoke(container, body, content_type)
    assert 400 <= status < 500, answer
    assert answer_type.startswith("application/json")
    assert json.loads(answer)["field"] == field
    assert ping(container) == 200  # and the container stays healthy


def test_an_empty_model_folder_stops_the_container_with_the_reason(tmp_path: Path) -> None:
    empty = tmp_path / "model"
    empty.mkdir()
    port = free_port()
    process = start(empty, port)
    _, stderr = process.communicate(timeout=20)
    assert process.returncode == 3, stderr  # ConfigError's exit code
    assert f"the model folder {empty} is empty" in stderr
    with pytest.raises(OSError):  # nothing ever listened: SageMaker's health check fails
        ping(port)


def test_a_damaged_model_stops_the_container_with_the_reason(
    model_dir: Path, tmp_path: Path
) -> None:
    damaged = tmp_path / "model"
    damaged.mkdir()
    for name in ("schema.json", "training.json", "model.txt"):
        (damaged / name).write_bytes((model_dir / name).read_bytes())
    process = start(damaged, free_port())
    _, stderr = process.communicate(timeout=20)
    assert process.returncode == 3, stderr
    assert "lacks encoder.json" in stderr


def test_sigterm_stops_the_container_cleanly(model_dir: Path) -> None:
    port = free_port()
    process = start(model_dir, port)
    try:
        wait_healthy(process, port)
        started = time.monotonic()
        code, stderr = stop(process)
    finally:
        if process.poll() is None:
            process.kill()
    assert time.monotonic() - started < 5
    # Requests in flight answered, the app shut down; then uvicorn ends the process by the
    # signal it was sent, so whoever stopped it sees how it ended (docker: status 143).
    assert code == -signal.SIGTERM, stderr
    assert "Application shutdown complete" in stderr and "Finished server process" in stderr
    assert "Traceback" not in stderr


def test_each_of_several_workers_loads_the_model(model_dir: Path) -> None:
    port = free_port()
    process = start(model_dir, port, SAGEMAKER_MODEL_SERVER_WORKERS="2")
    try:
        wait_healthy(process, port, timeout=40)
        body = json.dumps({"instances": ROWS}).encode()
        answers = [invoke(port, body, "application/json") for _ in range(4)]
        code, stderr = stop(process)
    finally:
        if process.poll() is None:
            process.kill()
    assert {status for status, _, _ in answers} == {200}
    predictions = [json.loads(body)["predictions"] for _, _, body in answers]
    assert all(p == predictions[0] for p in predictions)
    assert code == 0, stderr  # the supervisor stopped its workers and exits normally
    # The start's own load, then one in each worker process.
    assert stderr.count("serving churn v1 from") == 3, stderr
