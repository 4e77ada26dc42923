"""Deploys swap the served model atomically under load; a bad artifact never replaces a good one."""

from __future__ import annotations

import threading
import time
from pathlib import Path

from fastapi.testclient import TestClient

from conveyor.config import Settings
from conveyor.inference.records import list_inferences
from conveyor.ports import Ports
from conveyor.samples.generate import write_churn_csv
from conveyor.serving.app import create_app
from tests.conftest import conveyor
from tests.integration.serving.test_predict import ROW


def test_a_deploy_under_load_fails_no_request(home: Path, ports: Ports) -> None:
    data = write_churn_csv(home / "more.csv", rows=900, seed=4)
    second = conveyor(home, "upload", str(data), "-p", "churn", "--wait")
    if second["state"] == "DEPLOYED":  # the gate deployed it already: go back to v1 first
        conveyor(home, "models", "rollback", "churn")
    app = create_app(ports, Settings(home=home), poll_seconds=0.05)
    per_thread: list[list[int]] = [[] for _ in range(4)]
    versions = per_thread[0]
    failures: list[str] = []
    stop = threading.Event()

    with TestClient(app) as client:

        def hammer(seen: list[int]) -> None:
            while not stop.is_set():
                response = client.post("/predict/churn", json={"instances": [ROW]})
                if response.status_code != 200:
                    failures.append(response.text)
                else:
                    seen.append(response.json()["model_version"])

        threads = [threading.Thread(target=hammer, args=(seen,)) for seen in per_thread]
        for thread in threads:
            thread.start()
        time.sleep(0.3)
        conveyor(
            home, "models", "deploy", "churn", "2", "--approve"
        )  # another process, as a user would
        deadline = time.monotonic() + 20
        while (not versions or versions[-1] != 2) and time.monotonic() < deadline:
            time.sleep(0.05)
        time.sleep(0.3)
        stop.set()
        for thread in threads:
            thread.join()

    assert failures == []
    for seen in per_thread:  # each client sees v1, then v2, and never v1 again
        assert seen[0] == 1 and seen[-1] == 2
        assert seen == sorted(seen), "a request went back to the old model"
    assert len(list_inferences(ports.table, "churn")) == sum(map(len, per_thread))


def test_a_tampered_artifact_is_refused_and_the_old_model_keeps_serving(
    home: Path, ports: Ports
) -> None:
    app = create_app(ports, Settings(home=home), poll_seconds=0.05)
    with TestClient(app) as client:
        v1 = ports.registry.get_version("churn", 1)
        ports.endpoint.update_endpoint("churn", 1, v1.artifact, "0" * 64)  # wrong sha256
        time.sleep(0.5)
        response = client.post("/predict/churn", json={"instances": [ROW]})
        assert response.status_code == 200
        assert response.json()["model_version"] == 1
        assert client.get("/health").json()["models"] == {"churn": 1}


def test_a_deploy_in_the_same_process_is_served_without_waiting_for_the_poll(
    home: Path, ports: Ports
) -> None:
    data = write_churn_csv(home / "more.csv", rows=900, seed=4)
    second = conveyor(home, "upload", str(data), "-p", "churn", "--wait")
    if second["state"] == "DEPLOYED":
        conveyor(home, "models", "rollback", "churn")
    # As in `conveyor up`: the worker's deploy and the server share the process. The poll is
    # an hour, so only the deploy's own news can make the swap.
    app = create_app(ports, Settings(home=home), poll_seconds=3600)
    with TestClient(app) as client:
        assert client.get("/health").json()["models"] == {"churn": 1}
        v2 = ports.registry.get_version("churn", 2)
        ports.endpoint.update_endpoint("churn", 2, v2.artifact, v2.sha256)
        deadline = time.monotonic() + 10
        while client.get("/health").json()["models"] != {"churn": 2}:
            assert time.monotonic() < deadline, "the deploy was not picked up"
            time.sleep(0.02)
        response = client.post("/predict/churn", json={"instances": [ROW]})
        assert response.json()["model_version"] == 2
