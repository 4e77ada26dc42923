"""The SageMaker inference container run for real, as SageMaker hosting runs it: the model's
model.tar.gz (trained by the real pipeline) unpacked in a folder, ``serve`` started as a
process on the port SAGEMAKER_BIND_TO_PORT names, ``/ping`` and ``/invocations`` over HTTP."""

from __future__ import annotations

import csv
import io
import json
import os
import shutil
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from pydantic import ValidationError

from conveyor.config import Settings
from conveyor.errors import ConfigError, IntegrityError
from conveyor.model.content_digest import archive_digests
from conveyor.serving.app import create_app
from conveyor.serving.sagemaker.model_dir import load_model_dir
from conveyor.serving.sagemaker.settings import ContainerSettings
from conveyor.wiring import build_ports
from tests.e2e.conftest import free_port
from tests.integration.model_dirs import unpacked_deployed_model
from tests.rows import CHURN_ROW

SERVE_SCRIPT = Path(sys.executable).parent / "conveyor-sagemaker-serve"
ROWS: list[dict[str, Any]] = [
    CHURN_ROW,
    {**CHURN_ROW, "age": 23, "plan": "basic", "support calls": 9, "tenure months": 1},
    {**CHURN_ROW, "region": None, "monthly charges": 110.25, "has partner": "yes"},
]


@pytest.fixture(scope="module")
def home(trained_home: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A copy of the session's home whose project 'churn' serves version 1, trained by the
    real pipeline."""
    home = tmp_path_factory.mktemp("container-home") / "home"
    shutil.copytree(trained_home, home)
    return home


@pytest.fixture(scope="module")
def model_dir(home: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The deployed version's model.tar.gz unpacked, as SageMaker unpacks it in /opt/ml/model."""
    return unpacked_deployed_model(home, tmp_path_factory.mktemp("opt-ml"))


@pytest.fixture(scope="module")
def local(home: Path) -> Iterator[TestClient]:
    """The local model server (``conveyor serve``) over the same deployed version."""
    settings = Settings(home=home)
    app = create_app(build_ports(settings), settings, record=False)
    with TestClient(app) as client:
        yield client


@dataclass
class Container:
    process: subprocess.Popen[bytes]
    port: int
    log_file: Path

    def log(self) -> str:
        # A crashing native library may print bytes that are not UTF-8.
        return self.log_file.read_text(errors="replace")

    def ended(self, timeout: float = 20) -> tuple[int, str]:
        """Wait for the process to end by itself; its exit code and log."""
        return self.process.wait(timeout=timeout), self.log()

    def stop(self) -> tuple[int, str]:
        """SIGTERM, as ``docker stop`` sends it; the exit code and the log."""
        self.process.send_signal(signal.SIGTERM)
        return self.ended(timeout=10)

    def close(self) -> None:
        """Stop it if it still runs: SIGTERM, then SIGKILL to its whole process group, so
        that no worker process outlives a failed test."""
        if self.process.poll() is not None:
            return
        self.process.send_signal(signal.SIGTERM)
        try:
            self.process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait()


def start(model_dir: Path, log_file: Path, *, workers: int = 1, **env: str) -> Container:
    """``conveyor-sagemaker-serve serve`` as SageMaker runs it, with none of conveyor's
    settings but ``env`` (the model's Environment); its output to ``log_file``."""
    port = free_port()
    variables = {
        **{name: value for name, value in os.environ.items() if not name.startswith("CONVEYOR_")},
        "CONVEYOR_MODEL_DIR": str(model_dir),
        "SAGEMAKER_BIND_TO_PORT": str(port),
        "SAGEMAKER_MODEL_SERVER_WORKERS": str(workers),
        "CONVEYOR_SERVE_PROJECT": "churn",
        "CONVEYOR_MODEL_VERSION": "1",
        **env,
    }
    # A file, not a pipe nobody reads while it serves; appending, so that writes from
    # several threads and processes never overwrite one another.
    with log_file.open("ab") as out:
        process = subprocess.Popen(
            [str(SERVE_SCRIPT), "serve", "--host", "127.0.0.1"],
            env=variables,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,  # its workers in its own process group
        )
    return Container(process, port, log_file)


def ping(port: int) -> int:
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/ping", timeout=2) as answer:
            return int(answer.status)
    except urllib.error.HTTPError as exc:
        return exc.code


def wait_healthy(container: Container, timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        assert container.process.poll() is None, container.log()
        try:
            if ping(container.port) == 200:
                return
        except OSError:  # not listening yet
            pass
        time.sleep(0.1)
    raise AssertionError(f"/ping never answered 200 within {timeout} s:\n{container.log()}")


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


def deployed_digest(model_dir: Path) -> str:
    """The content digest a deploy takes from the model.tar.gz the folder was unpacked from."""
    with (model_dir.parent / "model.tar.gz").open("rb") as archive:
        return archive_digests(archive)[1]


def copy_of(model_dir: Path, dest: Path) -> Path:
    # Recursive: a full fit's artifact holds its assessment/ model in a folder.
    return Path(shutil.copytree(model_dir, dest))


@pytest.fixture(scope="module")
def served(model_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Container]:
    """A running container with two workers (SageMaker starts one per CPU), told the content
    the deploy checked, as SageMakerEndpoint tells it."""
    log_file = tmp_path_factory.mktemp("logs") / "serve.log"
    digest = deployed_digest(model_dir)
    container = start(model_dir, log_file, workers=2, CONVEYOR_MODEL_CONTENT_SHA256=digest)
    try:
        wait_healthy(container)
        yield container
    finally:
        container.close()


@pytest.fixture(scope="module")
def container(served: Container) -> int:
    """The running container's port."""
    return served.port


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
    public = local.post("/predict/churn", content=body).json()  # the public API, too
    assert (public["predictions"], public["probabilities"]) == (
        served["predictions"],
        served["probabilities"],
    )

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


def test_each_worker_loads_the_model(served: Container) -> None:
    # Loaded once in a child process to prove it loads, then once in each worker process.
    deadline = time.monotonic() + 30
    while served.log().count("loaded churn v1 from") < 3 and time.monotonic() < deadline:
        time.sleep(0.1)
    assert served.log().count("loaded churn v1 from") == 3, served.log()
    assert "Traceback" not in served.log()


def test_an_empty_model_folder_stops_the_container_with_the_reason(tmp_path: Path) -> None:
    empty = tmp_path / "model"
    empty.mkdir()
    container = start(empty, tmp_path / "serve.log")
    code, log = container.ended()
    assert code == 3, log  # ConfigError's exit code
    assert f"cannot serve: the model folder {empty} is empty" in log
    with pytest.raises(OSError):  # nothing ever listened: SageMaker's health check fails
        ping(container.port)


def test_a_folder_that_is_not_what_was_deployed_stops_the_container(
    model_dir: Path, tmp_path: Path
) -> None:
    changed = copy_of(model_dir, tmp_path / "model")
    # Still a model LightGBM loads: only the digest tells it from the deployed one.
    (changed / "model.txt").write_text((changed / "model.txt").read_text() + "\n")
    digest = deployed_digest(model_dir)
    container = start(changed, tmp_path / "serve.log", CONVEYOR_MODEL_CONTENT_SHA256=digest)
    code, log = container.ended()
    assert code == 7, log  # IntegrityError's exit code
    assert f"cannot serve: the model folder {changed} does not hold what was deployed" in log
    assert digest in log
    with pytest.raises(OSError):  # nothing ever listened: the endpoint fails to create
        ping(container.port)


def test_a_truncated_model_file_stops_the_container_with_the_reason(
    model_dir: Path, tmp_path: Path
) -> None:
    # LightGBM crashes the process (SIGSEGV or SIGABRT, by where the cut falls) on a truncated
    # model.txt rather than raise: the load in a child process first turns that into a reason.
    truncated = copy_of(model_dir, tmp_path / "model")
    text = (truncated / "model.txt").read_text()
    (truncated / "model.txt").write_text(text[: len(text) // 3])
    container = start(truncated, tmp_path / "serve.log")
    code, log = container.ended()
    assert code == 7, log  # IntegrityError's exit code
    crashed = f"loading the model in {truncated} crashed the process (SIG"
    assert crashed in log or f"the model in {truncated} cannot be loaded" in log, log
    with pytest.raises(OSError):
        ping(container.port)


def test_a_folder_lacking_a_file_of_the_artifact_is_refused(
    model_dir: Path, tmp_path: Path
) -> None:
    partial = copy_of(model_dir, tmp_path / "model")
    (partial / "encoder.json").unlink()
    with pytest.raises(ConfigError, match=f"the model folder {partial} lacks encoder.json"):
        load_model_dir(partial, project="churn", version=1)


def test_files_from_different_trainings_are_refused(model_dir: Path, tmp_path: Path) -> None:
    mixed = copy_of(model_dir, tmp_path / "model")
    training = json.loads((mixed / "training.json").read_text())
    training["feature_names_out"] = training["feature_names_out"][:-1]
    (mixed / "training.json").write_text(json.dumps(training))
    with pytest.raises(IntegrityError, match="disagree on the model's features"):
        load_model_dir(mixed, project="churn", version=1)


def test_a_truncated_encoder_is_refused(model_dir: Path, tmp_path: Path) -> None:
    truncated = copy_of(model_dir, tmp_path / "model")
    text = (truncated / "encoder.json").read_text()
    (truncated / "encoder.json").write_text(text[: len(text) // 2])
    with pytest.raises(IntegrityError, match="cannot be loaded: JSONDecodeError"):
        load_model_dir(truncated, project="churn", version=1)


def test_bad_settings_are_refused_naming_the_variable(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SAGEMAKER_BIND_TO_PORT", "http")
    monkeypatch.setenv("SAGEMAKER_MODEL_SERVER_WORKERS", "0")
    with pytest.raises(ValidationError) as refused:
        ContainerSettings()
    assert "SAGEMAKER_BIND_TO_PORT" in str(refused.value)
    assert "SAGEMAKER_MODEL_SERVER_WORKERS" in str(refused.value)


def test_sigterm_stops_the_container_cleanly(model_dir: Path, tmp_path: Path) -> None:
    container = start(model_dir, tmp_path / "serve.log")
    try:
        wait_healthy(container)
        started = time.monotonic()
        code, log = container.stop()
    finally:
        container.close()
    assert time.monotonic() - started < 5
    # Requests in flight answered, the app shut down; then uvicorn ends the process by the
    # signal it was sent, so whoever stopped it sees how it ended (docker: status 143).
    assert code == -signal.SIGTERM, log
    assert "Application shutdown complete" in log and "Finished server process" in log
    assert "Traceback" not in log
