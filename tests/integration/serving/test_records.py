"""Every request is recorded — after a graceful stop, none is missing."""

from __future__ import annotations

import time
from pathlib import Path

from fastapi.testclient import TestClient

from conveyor.config import Settings
from conveyor.inference.records import list_inferences
from conveyor.ports import Ports
from conveyor.serving.app import create_app
from conveyor.wiring import build_ports
from tests.integration.serving.test_predict import ROW


def test_every_request_has_its_record_after_a_graceful_stop(home: Path, ports: Ports) -> None:
    app = create_app(ports, Settings(home=home))
    ids = []
    with TestClient(app) as client:
        for i in range(300):
            response = client.post("/predict/churn", json={"instances": [{**ROW, "age": i}]})
            ids.append(response.json()["request_id"])
        bad = client.post(
            "/predict/churn",
            json={"instances": [{**ROW, "age": "old"}]},
            headers={"x-request-id": "bad-1"},
        )
        assert bad.status_code == 400
    records = list_inferences(ports.table, "churn")
    assert {r.request_id for r in records} == {*ids, "bad-1"}
    good = next(r for r in records if r.request_id == ids[7])
    assert good.model_version == 1 and good.status == 200
    assert good.inputs == [{**ROW, "age": 7}]
    assert good.outputs is not None and len(good.outputs["predictions"]) == 1
    assert good.latency_ms > 0
    failed = next(r for r in records if r.request_id == "bad-1")
    assert failed.status == 400 and "expects a number" in (failed.error or "")


def test_health_counts_the_records_written_while_the_server_runs(home: Path, ports: Ports) -> None:
    with TestClient(create_app(ports, Settings(home=home))) as client:
        for i in range(40):
            client.post("/predict/churn", json={"instances": [{**ROW, "age": i}]})
        deadline = time.monotonic() + 20
        while (health := client.get("/health").json())["records_written"] < 40:
            assert time.monotonic() < deadline, health  # it said 0 until the server stopped
            time.sleep(0.05)
        assert health["records_written"] == 40 and health["records_failed"] == 0


def test_capture_rate_zero_keeps_records_but_not_inputs(home: Path, ports: Ports) -> None:
    app = create_app(ports, Settings(home=home), capture_rate=0.0)
    with TestClient(app) as client:
        for _ in range(20):
            assert client.post("/predict/churn", json={"instances": [ROW]}).status_code == 200
    records = list_inferences(ports.table, "churn")
    assert len(records) == 20
    assert all(r.inputs is None and r.outputs is not None for r in records)


def test_ctrl_c_to_the_whole_process_group_loses_no_record(
    trained_home: Path, tmp_path: Path
) -> None:
    import json
    import os
    import shutil
    import signal
    import socket
    import subprocess
    import sys
    import time
    import urllib.request

    home = tmp_path / "home"
    shutil.copytree(trained_home, home)
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    server = subprocess.Popen(
        [str(Path(sys.executable).parent / "conveyor"), "serve", "--port", str(port)],
        env={**os.environ, "CONVEYOR_HOME": str(home)},
        start_new_session=True,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    url = f"http://127.0.0.1:{port}/predict/churn"
    body = json.dumps({"instances": [ROW]}).encode()
    ids = []
    deadline = time.monotonic() + 60
    while len(ids) < 200:
        request = urllib.request.Request(
            url, data=body, headers={"content-type": "application/json"}
        )
        try:
            with urllib.request.urlopen(request, timeout=5) as response:
                ids.append(json.loads(response.read())["request_id"])
        except OSError:
            assert time.monotonic() < deadline, "the server did not come up"
            time.sleep(0.2)
    os.killpg(server.pid, signal.SIGINT)  # what a terminal's Ctrl-C does
    assert server.wait(timeout=60) == 0
    ports = build_ports(Settings(home=home))
    assert set(ids) <= {r.request_id for r in list_inferences(ports.table, "churn")}
