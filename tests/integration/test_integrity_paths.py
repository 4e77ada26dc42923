"""Artifact integrity on the paths that swap what a project serves without a person naming
the version: a rollback, and the worker's deploy after the gate. A stored artifact that is
no longer the registered file is refused with a message naming the version, the file, both
hashes and what to do; the integrity alarm is written; the version serving keeps serving
(a real /predict says so)."""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from conveyor.config import Settings
from conveyor.errors import IntegrityError
from conveyor.metrics.alarm_store import alarm_history
from conveyor.monitoring.integrity import INTEGRITY_ALARM
from conveyor.pipeline.lifecycle import rollback
from conveyor.pipeline.runs import RunStore
from conveyor.pipeline.uploads import put_raw_file
from conveyor.pipeline.worker import Worker
from conveyor.ports import PipelineContext, Ports
from conveyor.projects import create_project, find_project
from conveyor.registry.table import TableRegistry
from conveyor.samples.generate import write_churn_csv
from conveyor.serving.app import create_app
from conveyor.types import ModelVersion, ObjectRef, Run, RunState
from conveyor.wiring import build_ports
from tests.rows import CHURN_ROW

CONVEYOR = Path(sys.executable).parent / "conveyor"
QUICK: dict[str, object] = {"num_boost_round": 30}


def cli(home: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(CONVEYOR), *args],
        capture_output=True,
        text=True,
        env={**os.environ, "CONVEYOR_HOME": str(home), "COLUMNS": "400"},
        timeout=180,
        check=False,
    )


def run_upload(ports: Ports, home: Path, data: Path) -> Run:
    """Upload ``data`` to churn and run it through the local worker, in this process."""
    if find_project(ports.table, "churn") is None:
        create_project(ports.table, "churn", target="churned", hyperparameters=QUICK)
    uploaded = put_raw_file(ports, "churn", data, source="cli")
    runs = RunStore(ports.table)
    deadline = time.monotonic() + 120

    def ended() -> bool:
        run = runs.find_by_dataset("churn", uploaded.dataset_id)
        return (run is not None and run.state.is_terminal) or time.monotonic() > deadline

    worker = Worker(PipelineContext.from_settings(ports, Settings(home=home)), daemon=False)
    worker.run(threading.Event(), until=ended)
    run = runs.find_by_dataset("churn", uploaded.dataset_id)
    assert run is not None and run.state.is_terminal, run
    return run


@pytest.fixture(scope="module")
def homes(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """(a home serving churn v1, the same home once v2 replaced it by the gate)."""
    root = tmp_path_factory.mktemp("integrity-paths")
    first, second = root / "v1", root / "v2"
    ports = build_ports(Settings(home=first))
    small = write_churn_csv(root / "small.csv", rows=300, seed=21)
    assert run_upload(ports, first, small).state is RunState.DEPLOYED
    shutil.copytree(first, second)
    ports = build_ports(Settings(home=second))
    large = write_churn_csv(root / "large.csv", rows=3000, seed=22)
    assert run_upload(ports, second, large).state is RunState.DEPLOYED, "the gate deployed v2"
    return first, second


def copy_of(home: Path, tmp_path: Path) -> tuple[Path, Ports]:
    copy = tmp_path / "home"
    shutil.copytree(home, copy)
    return copy, build_ports(Settings(home=copy))


def flip_a_byte(ports: Ports, artifact: ObjectRef) -> tuple[bytes, str]:
    """Change one byte of a stored artifact in place: (its original bytes, its new sha256)."""
    path = Path(ports.store.path_of(artifact.bucket, artifact.key))  # type: ignore[attr-defined]
    original = path.read_bytes()
    changed = bytearray(original)
    changed[len(changed) // 2] ^= 0xFF
    path.write_bytes(bytes(changed))
    return original, hashlib.sha256(changed).hexdigest()


def integrity_alarms(ports: Ports) -> list[dict[str, object]]:
    return [e.to_dict() for e in alarm_history(ports.table, "churn", alarm=INTEGRITY_ALARM)]


def served_version(client: TestClient) -> int:
    response = client.post("/predict/churn", json={"instances": [CHURN_ROW]})
    assert response.status_code == 200, response.text
    return int(response.json()["model_version"])


def test_a_rollback_to_a_tampered_version_is_refused_and_the_current_one_keeps_serving(
    homes: tuple[Path, Path], tmp_path: Path
) -> None:
    home, ports = copy_of(homes[1], tmp_path)
    v1 = ports.registry.get_version("churn", 1)
    original, found = flip_a_byte(ports, v1.artifact)
    before = ports.endpoint.describe_endpoint("churn")
    app = create_app(ports, Settings(home=home), poll_seconds=0.05)
    with TestClient(app) as client:
        assert served_version(client) == 2

        refused = cli(home, "models", "rollback", "churn")

        assert refused.returncode == 7, refused.stderr  # IntegrityError
        message = refused.stderr
        for needed in (
            "churn v1 refused",
            v1.artifact.uri,  # the file
            f"expected {v1.sha256[:12]}",
            f"found {found[:12]}",
            "tampered with or damaged",
            "v2 keeps serving",
            f"Restore the original file (sha256 {v1.sha256})",
            "conveyor retrain churn",
        ):
            assert needed in message, (needed, message)
        assert ports.endpoint.describe_endpoint("churn") == before, "nothing was swapped"
        assert ports.registry.get_aliases("churn")["champion"] == 2
        [alarm] = integrity_alarms(ports)
        assert str(alarm["reason"]).startswith("rollback refused v1: churn v1 refused")
        assert alarm["details"] == {
            "version": 1,
            "refused_by": "rollback",
            "artifact": v1.artifact.uri,
            "expected_sha256": v1.sha256,
            "found_sha256": found,
        }
        history = cli(home, "alarms", "history", "churn", "--json")
        assert INTEGRITY_ALARM in history.stdout and "rollback refused v1" in history.stdout
        for _ in range(10):  # the server never switched away
            assert served_version(client) == 2

        # The advice works: the original file put back, the rollback goes through.
        Path(ports.store.path_of(v1.artifact.bucket, v1.artifact.key)).write_bytes(original)  # type: ignore[attr-defined]
        assert rollback(ports, "churn").version == 1
        deadline = time.monotonic() + 10
        while served_version(client) != 1 and time.monotonic() < deadline:
            time.sleep(0.05)
        assert served_version(client) == 1
        assert ports.registry.get_aliases("churn")["champion"] == 1
    assert len(integrity_alarms(ports)) == 1, "the server loaded v1 without an alarm"


def test_a_rollback_whose_history_names_other_bytes_is_refused(
    homes: tuple[Path, Path], tmp_path: Path
) -> None:
    """The file is intact, but the deployment record's history says v1 is other bytes (the
    record was edited): the rollback would have servers check v1 against the wrong hash."""
    _, ports = copy_of(homes[1], tmp_path)
    record = ports.table.get("deployment", "churn")  # LocalEndpoint's item
    assert record is not None and record["history"][-1]["version"] == 1
    record["history"][-1]["sha256"] = "0" * 64
    ports.table.put(record)
    before = ports.endpoint.describe_endpoint("churn")

    with pytest.raises(IntegrityError) as refused:
        rollback(ports, "churn")

    message = refused.value.message
    assert "churn v1 refused: the deployment history records sha256 000000000000" in message
    assert "`conveyor models deploy churn 1`" in message and "v2 keeps serving" in message
    assert ports.endpoint.describe_endpoint("churn") == before
    [alarm] = integrity_alarms(ports)
    assert alarm["reason"] == f"rollback refused v1: {message}"


class IntruderAfterRegistration(TableRegistry):
    """The project's real registry, and someone who changes a new version's artifact in
    the moment between its registration and its deploy."""

    tampered: dict[int, str]

    def create_version(self, draft: ModelVersion) -> ModelVersion:
        created = super().create_version(draft)
        path = Path(self.store.path_of(created.artifact.bucket, created.artifact.key))  # type: ignore[attr-defined]
        data = bytearray(path.read_bytes())
        data[len(data) // 2] ^= 0xFF
        path.write_bytes(bytes(data))
        self.tampered[created.version] = hashlib.sha256(data).hexdigest()
        return created


def test_the_worker_refuses_to_deploy_an_artifact_changed_after_the_gate(
    homes: tuple[Path, Path], tmp_path: Path
) -> None:
    home, ports = copy_of(homes[0], tmp_path)
    intruder = IntruderAfterRegistration(table=ports.table, store=ports.store)
    intruder.tampered = {}
    ports.registry = intruder
    data = write_churn_csv(tmp_path / "large.csv", rows=3000, seed=22)

    run = run_upload(ports, home, data)

    assert run.state is RunState.FAILED, run
    v2 = ports.registry.get_version("churn", 2)
    assert (v2.gate or {})["status"] == "Approved", "the gate had approved it"
    reason = run.failure_reason or ""
    for needed in (
        "churn v2 refused",
        v2.artifact.uri,
        "tampered with or damaged",
        f"expected {v2.sha256[:12]}",
        f"found {intruder.tampered[2][:12]}",
        "v1 keeps serving",
        "conveyor retrain churn",
    ):
        assert needed in reason, (needed, reason)
    [alarm] = integrity_alarms(ports)
    assert str(alarm["reason"]).startswith("deploy refused v2: churn v2 refused")
    assert alarm["kind"] == "IntegrityFailure" and alarm["new_state"] == "ALARM"
    deployment = ports.endpoint.describe_endpoint("churn")
    assert deployment is not None and deployment.version == 1
    assert ports.registry.get_aliases("churn")["champion"] == 1
    with TestClient(create_app(ports, Settings(home=home), poll_seconds=0.05)) as client:
        assert served_version(client) == 1
