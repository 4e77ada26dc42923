"""`conveyor serve --workers 2`: two server processes share one listening socket, answer on
kept-alive connections, every answer of either process has its inference record, and either
takes the feedback for the request ids of both."""

from __future__ import annotations

import http.client
import json
import os
import signal
import socket
import subprocess
from pathlib import Path

from conveyor.cli.serve import listening_socket
from tests.e2e.conftest import CONVEYOR, ROW, Cli, free_port, json_of, post


def test_the_shared_listening_socket_turns_nagle_off() -> None:
    # Connections accepted from it inherit TCP_NODELAY: no response waits ~40 ms for an ACK.
    listener = listening_socket("127.0.0.1", 0)
    try:
        assert listener.getsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY) != 0
    finally:
        listener.close()


def test_two_workers_answer_and_record_every_request(deployed_cli: Cli, churn_csv: Path) -> None:
    cli = deployed_cli
    home: Path = cli.home  # type: ignore[attr-defined]
    port = free_port()
    server = subprocess.Popen(
        [str(CONVEYOR), "serve", "--port", str(port), "--workers", "2"],
        env={**os.environ, "CONVEYOR_HOME": str(home)},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        _wait_until_serving(port)
        body = json.dumps({"instances": [ROW]})
        ids = set()
        for _ in range(3):  # new connections, so both processes are likely to take some
            connection = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
            for _ in range(20):
                connection.request(
                    "POST", "/predict/churn", body, {"content-type": "application/json"}
                )
                response = connection.getresponse()
                assert response.status == 200
                ids.add(json.loads(response.read())["request_id"])
            connection.close()
        # Feedback for ids either process issued, records written or not, is accepted by
        # either (the key that signs them is the table's); a made-up id is refused.
        feedback = [{"request_id": i, "actual": "no"} for i in sorted(ids)]
        assert post(port, "/feedback/churn", feedback) == (200, {"stored": 60, "notes": []})
        status, refused = post(port, "/feedback/churn", {"request_id": "made-up", "actual": 1})
        assert status == 422 and "'made-up'" in str(refused["message"])
    finally:
        server.send_signal(signal.SIGINT)
        _, stderr = server.communicate(timeout=60)
    assert server.returncode == 0, stderr
    assert len(ids) == 60
    records = json_of(cli("inferences", "churn", "--limit", "1000", "--json"))
    assert ids <= {r["request_id"] for r in records}


def _wait_until_serving(port: int) -> None:
    import time

    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            if post(port, "/predict/churn", {"instances": [ROW]})[0] == 200:
                return
        except OSError:
            time.sleep(0.2)
    raise AssertionError("conveyor serve --workers 2 did not answer within 60 s")
