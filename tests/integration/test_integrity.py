"""Artifact integrity: a model loads only when its bytes match the sha256 the registry
recorded, on every path that loads one (the server, deploy, batch predict); a changed
artifact is refused with an error naming the version and both hashes, raises an alarm, and
never replaces what serves. Nothing from a user's upload is ever unpickled."""

from __future__ import annotations

import hashlib
import json
import logging
import os
import pickle
import re
import shutil
import subprocess
import sys
import tarfile
import time
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

import conveyor
from conveyor.config import Settings
from conveyor.metrics.alarm_store import alarm_history
from conveyor.monitoring.integrity import INTEGRITY_ALARM
from conveyor.ports import Ports
from conveyor.samples.generate import write_churn_csv
from conveyor.serving.app import create_app
from conveyor.wiring import build_ports
from tests.rows import CHURN_ROW

CONVEYOR = Path(sys.executable).parent / "conveyor"
QUICK = '{"num_boost_round": 30}'


def cli(home: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(CONVEYOR), *args],
        capture_output=True,
        text=True,
        env={**os.environ, "CONVEYOR_HOME": str(home)},
        timeout=180,
        check=False,
    )


def ok_json(result: subprocess.CompletedProcess[str]) -> object:
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)


@pytest.fixture(scope="module")
def two_versions(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A home whose project churn has v1 and v2, v2 deployed (v1 deployed before it)."""
    home = tmp_path_factory.mktemp("integrity-home")
    for seed in (11, 12):
        data = write_churn_csv(home / f"churn-{seed}.csv", rows=500, seed=seed)
        upload = ["upload", str(data), "-p", "churn", "--target", "churned", "--params", QUICK]
        run = ok_json(cli(home, *upload, "--wait", "--json"))
        assert isinstance(run, dict) and run["state"] in ("DEPLOYED", "REGISTERED", "REJECTED"), run
    served = ok_json(cli(home, "models", "approve", "churn", "2", "--json"))
    assert served, served
    return home


@pytest.fixture
def home(two_versions: Path, tmp_path: Path) -> Path:
    copy = tmp_path / "home"
    shutil.copytree(two_versions, copy)
    return copy


@pytest.fixture
def ports(home: Path) -> Ports:
    return build_ports(Settings(home=home))


def tamper(ports: Ports, version: int) -> tuple[str, str]:
    """Flip one byte in the middle of ``version``'s stored artifact: (recorded, new) sha256."""
    model = ports.registry.get_version("churn", version)
    path = _artifact_path(ports, model.artifact.bucket, model.artifact.key)
    data = bytearray(path.read_bytes())
    data[len(data) // 2] ^= 0xFF
    path.write_bytes(bytes(data))
    return model.sha256, hashlib.sha256(data).hexdigest()


def _artifact_path(ports: Ports, bucket: str, key: str) -> Path:
    path = ports.store.path_of(bucket, key)  # type: ignore[attr-defined]
    assert path.is_file(), path
    return Path(path)


def integrity_alarms(ports: Ports) -> list[dict[str, object]]:
    return [e.to_dict() for e in alarm_history(ports.table, "churn", alarm=INTEGRITY_ALARM)]


def test_server_refuses_a_tampered_version_and_keeps_serving(
    home: Path, ports: Ports, caplog: pytest.LogCaptureFixture
) -> None:
    app = create_app(ports, Settings(home=home), poll_seconds=0.05)
    with TestClient(app) as client, caplog.at_level(logging.ERROR, logger="conveyor"):
        assert (
            client.post("/predict/churn", json={"instances": [CHURN_ROW]}).json()["model_version"]
            == 2
        )
        # v1 was loaded (and unpacked into the cache) when it was deployed; its stored bytes
        # change, then the deployment record is pointed at it without the rollback stage's
        # own check (which refuses it first: test_integrity_paths.py): the cached copy must
        # not serve.
        recorded, changed = tamper(ports, 1)
        ports.endpoint.rollback("churn")
        deadline = time.monotonic() + 10
        while not integrity_alarms(ports) and time.monotonic() < deadline:
            time.sleep(0.05)
        for _ in range(20):  # the old model keeps answering throughout
            response = client.post("/predict/churn", json={"instances": [CHURN_ROW]})
            assert response.status_code == 200 and response.json()["model_version"] == 2

    [alarm] = integrity_alarms(ports)
    reason = str(alarm["reason"])
    assert "churn v1" in reason and recorded in reason and changed in reason, reason
    assert alarm["new_state"] == "ALARM" and alarm["kind"] == "IntegrityFailure"
    errors = [r.getMessage() for r in caplog.records if r.levelno >= logging.ERROR]
    assert any("integrity alarm" in m and "churn v1" in m and recorded in m for m in errors)


def test_deploy_refuses_a_tampered_version_with_both_hashes_and_an_alarm(
    home: Path, ports: Ports
) -> None:
    recorded, changed = tamper(ports, 1)

    result = cli(home, "models", "deploy", "churn", "1", "--json")

    assert result.returncode == 7, result.stderr  # IntegrityError
    stderr = " ".join(result.stderr.split())  # the console wraps long lines
    assert "churn v1" in stderr and recorded in stderr and changed[:12] in stderr
    deployment = ports.endpoint.describe_endpoint("churn")
    assert deployment is not None and deployment.version == 2, "v2 still serves"
    history = ok_json(cli(home, "alarms", "history", "churn", "--json"))
    assert isinstance(history, list)
    refused = [h for h in history if h["alarm"] == INTEGRITY_ALARM]
    assert refused and "deploy refused v1" in refused[0]["reason"], history


def test_batch_predict_refuses_a_tampered_deployed_version(
    home: Path, ports: Ports, tmp_path: Path
) -> None:
    recorded, changed = tamper(ports, 2)
    source = write_churn_csv(tmp_path / "score.csv", rows=50, seed=3)
    out = tmp_path / "scored.csv"

    result = cli(home, "predict", "churn", "-i", str(source), "-o", str(out))

    assert result.returncode == 7, result.stderr
    assert "churn v2" in result.stderr and recorded in result.stderr and changed in result.stderr
    assert not out.exists()
    [alarm] = integrity_alarms(ports)
    assert str(alarm["reason"]).startswith("batch predict refused v2")


# -- nothing is unpickled --------------------------------------------------------------------

_PICKLE = re.compile(rb"^\x80[\x02-\x05]")  # a pickle's PROTO opcode and protocol 2-5


def test_the_default_artifact_holds_no_pickle(ports: Ports) -> None:
    for version in (1, 2):
        model = ports.registry.get_version("churn", version)
        path = _artifact_path(ports, model.artifact.bucket, model.artifact.key)
        with tarfile.open(path, "r:gz") as archive:
            members = {m.name: archive.extractfile(m) for m in archive.getmembers() if m.isfile()}
            contents = {name: f.read() for name, f in members.items() if f is not None}
        # A full fit keeps the model its test metrics are of in assessment/, in the same files.
        files = {name.removeprefix("assessment/") for name in contents}
        assert files == {"schema.json", "encoder.json", "training.json", "model.txt"}
        for name, content in contents.items():
            assert not _PICKLE.match(content), f"{name} is a pickle"
            if name.endswith(".json"):
                json.loads(content)  # text formats only


def test_only_the_registry_verified_sklearn_model_is_unpickled() -> None:
    """Every pickle/joblib load in the package is the one of a scikit-learn model that
    conveyor trained itself, reached only through an artifact loaded after its sha256 check;
    no reader of uploads (CSV, Parquet) can unpickle."""
    package = Path(conveyor.__file__).parent
    loads = re.compile(r"\b(pickle\.loads?|joblib\.load|allow_pickle\s*=\s*True|cloudpickle|dill)")
    found = {
        f"{path.relative_to(package)}:{n}": line.strip()
        for path in package.rglob("*.py")
        for n, line in enumerate(path.read_text().splitlines(), 1)
        if loads.search(line)
    }
    assert [k.split(":")[0] for k in found] == ["model/estimators.py"], found
    assert all("joblib.load(folder" in line for line in found.values()), found


def test_a_pickle_uploaded_as_data_is_never_unpickled(home: Path, tmp_path: Path) -> None:
    marker = tmp_path / "unpickled"

    class Payload:
        def __reduce__(self) -> tuple[object, tuple[str]]:
            return (os.mkdir, (str(marker),))

    for name in ("evil.csv", "evil.parquet"):
        evil = tmp_path / name
        evil.write_bytes(pickle.dumps(Payload(), protocol=4))
        result = cli(home, "upload", str(evil), "-p", "churn", "--wait", "--json")
        assert result.returncode == 10, result.stderr
        assert json.loads(result.stdout)["state"] == "FAILED"
    assert not marker.exists(), "an upload was unpickled"
