"""POST /api/v1/projects/{project}/uploads: stored as `conveyor upload` stores it, its run
taken by a running worker to its end; sizes, names and projects refused with a 4xx."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from conveyor.config import Settings
from conveyor.errors import NotFound
from conveyor.pipeline.worker import Worker
from conveyor.ports import PipelineContext, Ports
from conveyor.samples.generate import write_churn_csv
from conveyor.serving.app import create_app
from conveyor.storage import RAW
from tests.workbooks import two_sheet_workbook

U = "/api/v1/projects/churn/uploads"


@pytest.fixture
def worker(home: Path, ports: Ports) -> Iterator[None]:
    """The worker `conveyor up` runs beside the server, here in a thread."""
    stop = threading.Event()
    context = PipelineContext.from_settings(ports, Settings(home=home, seed=42))
    loop = Worker(context, daemon=True, heartbeat_seconds=1.0)
    thread = threading.Thread(target=loop.run, args=(stop,), daemon=True)
    thread.start()
    yield
    stop.set()
    thread.join(timeout=60)


def test_upload_starts_a_run_a_worker_takes_to_its_end(
    client: TestClient, ports: Ports, tmp_path: Path, worker: None
) -> None:
    csv = write_churn_csv(tmp_path / "more.csv", rows=600, seed=5)
    time.sleep(0.3)  # the worker's first heartbeat
    with csv.open("rb") as handle:
        response = client.post(U, files={"file": ("more.csv", handle, "text/csv")})
    assert response.status_code == 202, response.text
    body = response.json()
    assert body["key"] == "churn/more.csv" and body["bucket"] == RAW
    assert body["size"] == csv.stat().st_size and body["started"] is True
    assert body["worker_running"] is True and body["run_id"]
    assert ports.store.get(RAW, "churn/more.csv") == csv.read_bytes()
    deadline = time.monotonic() + 120
    run = client.get(f"/api/v1/runs/{body['run_id']}").json()
    while run["state"] not in ("DEPLOYED", "REGISTERED", "REJECTED", "FAILED"):
        assert time.monotonic() < deadline, run
        time.sleep(0.3)
        run = client.get(f"/api/v1/runs/{body['run_id']}").json()
    assert run["state"] in ("DEPLOYED", "REGISTERED", "REJECTED"), run["failure_reason"]
    assert [s["stage"] for s in run["stages"]] == ["preprocess", "train", "evaluate"]
    version = client.get(f"/api/v1/projects/churn/versions/{run['model_version']}").json()
    assert version["run_id"] == run["run_id"] and version["details"]["confusion_matrix"]
    # The same bytes again start nothing: the answer names the run they made.
    with csv.open("rb") as handle:
        again = client.post(U, files={"file": ("again.csv", handle, "text/csv")}).json()
    assert again["started"] is False and again["run_id"] == run["run_id"]


def test_upload_without_a_worker_waits_queued(client: TestClient, tmp_path: Path) -> None:
    csv = write_churn_csv(tmp_path / "later.csv", rows=100, seed=9)
    with csv.open("rb") as handle:
        body = client.post(U, files={"file": ("later.csv", handle)}).json()
    assert body == {
        **body,
        "run_id": None,
        "state": "QUEUED",
        "started": True,
        "worker_running": False,
    }


def test_upload_over_the_size_limit_is_a_413(
    home: Path, ports: Ports, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("CONVEYOR_MAX_UPLOAD_BYTES", "1000")
    csv = write_churn_csv(tmp_path / "big.csv", rows=200, seed=3)
    app = create_app(ports, Settings(home=home), record=False)
    with TestClient(app) as client, csv.open("rb") as handle:
        response = client.post(U, files={"file": ("big.csv", handle)})
        assert response.status_code == 413
        assert response.json()["field"] == "file" and "1,000 bytes" in response.json()["message"]
        small = client.post(U, files={"file": ("small.csv", b"a,churned\n1,0\n")})
        assert small.status_code == 202
    assert ports.store.get(RAW, "churn/small.csv") == b"a,churned\n1,0\n"
    with pytest.raises(NotFound):
        ports.store.get(RAW, "churn/big.csv")


def test_upload_refuses_bad_requests_naming_the_field(client: TestClient) -> None:
    hidden = client.post(U, files={"file": (".hidden.csv", b"a\n1\n")})
    assert hidden.status_code == 400 and hidden.json()["field"] == "file"
    no_file = client.post(U, data={"other": "x"})
    assert no_file.status_code == 400 and no_file.json()["field"] == "file"
    not_a_form = client.post(U, json={"file": "x"})
    assert not_a_form.status_code == 400 and not_a_form.json()["field"] == "file"
    unknown = client.post("/api/v1/projects/nosuch/uploads", files={"file": ("a.csv", b"a\n")})
    assert unknown.status_code == 404 and unknown.json()["field"] == "project"


def test_a_body_without_its_length_is_answered_413_before_it_ends(
    home: Path, ports: Ports, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Sent chunked (no Content-Length) to a real server: the 413 comes back while the
    client is still sending, so the server never read the whole body."""
    import socket

    import uvicorn

    from tests.e2e.conftest import free_port

    monkeypatch.setenv("CONVEYOR_MAX_UPLOAD_BYTES", "100000")
    app = create_app(ports, Settings(home=home), record=False)
    port = free_port()
    server = uvicorn.Server(uvicorn.Config(app, port=port, log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    try:
        while not server.started:
            time.sleep(0.05)
        with socket.create_connection(("127.0.0.1", port), timeout=10) as sock:
            sock.sendall(
                f"POST {U} HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n"
                "Content-Type: multipart/form-data; boundary=b\r\n\r\n".encode()
            )
            head = b'--b\r\nContent-Disposition: form-data; name="file"; filename="x.csv"\r\n\r\n'
            chunk = b"1," * 32768
            sock.sendall(b"%x\r\n%s\r\n" % (len(head), head))
            for _ in range(8):  # 512 KiB: past the limit, and far from the end of the body
                sock.sendall(b"%x\r\n%s\r\n" % (len(chunk), chunk))
            answer = sock.recv(65536).decode()
        assert answer.startswith("HTTP/1.1 413"), answer
        assert '"field":"file"' in answer
    finally:
        server.should_exit = True
        thread.join(timeout=10)


def test_a_broken_form_is_a_400(client: TestClient) -> None:
    response = client.post(
        U,
        content=b"--b\r\nno headers here",
        headers={"content-type": "multipart/form-data"},  # no boundary
    )
    assert response.status_code == 400 and response.json()["field"] == "file"


def _wait_for_end(client: TestClient, run_id: str) -> dict[str, object]:
    deadline = time.monotonic() + 120
    run: dict[str, object] = client.get(f"/api/v1/runs/{run_id}").json()
    while run["state"] not in ("DEPLOYED", "REGISTERED", "REJECTED", "FAILED"):
        assert time.monotonic() < deadline, run
        time.sleep(0.3)
        run = client.get(f"/api/v1/runs/{run_id}").json()
    return run


def test_a_workbook_sheet_chosen_in_the_form_is_the_one_trained_on(
    client: TestClient, tmp_path: Path, worker: None
) -> None:
    book = two_sheet_workbook(
        tmp_path / "book.xlsx", write_churn_csv(tmp_path / "rows.csv", rows=500, seed=12)
    )
    time.sleep(0.3)  # the worker's first heartbeat
    with book.open("rb") as handle:
        response = client.post(U, files={"file": ("book.xlsx", handle)}, data={"sheet": "Data"})
    assert response.status_code == 202, response.text
    run = _wait_for_end(client, response.json()["run_id"])
    assert run["state"] != "FAILED", run["failure_reason"]
    report = run["report"]
    assert isinstance(report, dict)
    assert report["file"]["format"] == "xlsx" and report["file"]["sheet"] == "Data"
    assert "monthly charges" in {c["name"] for c in report["columns"]}


def test_an_unknown_sheet_fails_the_run_naming_the_sheets(
    client: TestClient, tmp_path: Path, worker: None
) -> None:
    book = two_sheet_workbook(
        tmp_path / "book.xlsx", write_churn_csv(tmp_path / "rows.csv", rows=60, seed=13)
    )
    time.sleep(0.3)
    with book.open("rb") as handle:
        response = client.post(f"{U}?sheet=Sales", files={"file": ("book.xlsx", handle)})
    assert response.status_code == 202, response.text
    run = _wait_for_end(client, response.json()["run_id"])
    assert run["state"] == "FAILED"
    assert run["failure_reason"] == (
        "the workbook has no sheet 'Sales'; its sheets are: 'Notes', 'Data'"
    )
