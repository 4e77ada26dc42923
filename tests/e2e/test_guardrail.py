"""The deployment guardrail as a user meets it: under `conveyor up`, a deployed version that
fails on a share of requests is rolled back to the previous one within its baking period,
with no command, and the rollback and its cause are on record."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import tarfile
import threading
import time
from dataclasses import replace
from pathlib import Path
from typing import Any

import polars as pl

from conveyor.config import Settings
from conveyor.hashing import sha256_file
from conveyor.model.artifact import Predictor, pack_model_dir, unpack
from conveyor.model.loading import load_verified
from conveyor.storage import MODELS
from conveyor.types import ApprovalStatus, ObjectRef
from conveyor.wiring import build_ports
from tests.e2e.conftest import CONVEYOR, Cli, free_port, json_of, post

BAKING_SECONDS = 60


def broken_version(home: Path, workdir: Path) -> int:
    """Register v1's artifact with a packaging bug: its schema lost the second class, so
    every row the model would call "yes" raises inside the predictor (an IndexError: a 500),
    while the others are answered. Registered with its true sha256, as a run would."""
    ports = build_ports(Settings(home=home))
    v1 = ports.registry.get_version("churn", 1)
    ports.store.download(v1.artifact.bucket, v1.artifact.key, workdir / "v1.tar.gz")
    model_dir = unpack(workdir / "v1.tar.gz", workdir / "model")
    schema = json.loads((model_dir / "schema.json").read_text())
    assert schema["classes"] == ["no", "yes"]
    schema["classes"] = ["no"]
    (model_dir / "schema.json").write_text(json.dumps(schema))
    tarball = pack_model_dir(model_dir, workdir / "model.tar.gz")
    with tarfile.open(tarball) as archive:
        assert "schema.json" in archive.getnames()
    run_id = "broken-schema"
    key = f"churn/{run_id}/model.tar.gz"
    ports.store.put_file(MODELS, key, tarball)
    draft = replace(
        v1,
        run_id=run_id,
        artifact=ObjectRef(MODELS, key),
        sha256=sha256_file(tarball),
        approval_status=ApprovalStatus.PENDING,
        status_reason=None,
        gate=None,
        tags={},
    )
    return ports.registry.create_version(draft).version


def rows_by_prediction(home: Path, csv: Path) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """Rows v1 answers "no" and rows it answers "yes" (the ones the broken version fails)."""
    ports = build_ports(Settings(home=home))
    v1 = ports.registry.get_version("churn", 1)
    predictor: Predictor = _load(ports, v1, home)
    frame = pl.read_csv(csv).select(predictor.schema.feature_names)
    rows = frame.head(400).to_dicts()
    labels = predictor.predict_records(rows).predictions
    no = [r for r, label in zip(rows, labels, strict=True) if label == "no"]
    yes = [r for r, label in zip(rows, labels, strict=True) if label == "yes"]
    return no, yes


def _load(ports: Any, version: Any, home: Path) -> Predictor:
    return load_verified(
        ports.store, version.artifact, version.sha256, cache_dir=home / "test-cache"
    )


def wait_for(port: int, row: dict[str, Any], version: int, timeout: float) -> float:
    started = time.monotonic()
    while time.monotonic() - started < timeout:
        try:
            status, body = post(port, "/predict/churn", {"instances": [row]})
            if status == 200 and body["model_version"] == version:
                return time.monotonic() - started
        except OSError:
            pass
        time.sleep(0.2)
    raise AssertionError(f"version {version} was not served within {timeout}s")


def test_a_deploy_that_fails_some_requests_is_rolled_back_while_baking(
    deployed_cli: Cli, first_run: dict[str, Any], churn_csv: Path, tmp_path: Path
) -> None:
    cli = deployed_cli
    home: Path = cli.home  # type: ignore[attr-defined]
    first = first_run
    assert first["state"] == "DEPLOYED"
    no_rows, yes_rows = rows_by_prediction(home, churn_csv)
    assert len(yes_rows) >= 3 and len(no_rows) >= 7
    broken = broken_version(home, tmp_path)
    assert broken == 2

    port = free_port()
    env = {
        **os.environ,
        "CONVEYOR_HOME": str(home),
        "CONVEYOR_BAKING_SECONDS": str(BAKING_SECONDS),
        "CONVEYOR_GUARDRAIL_PERIOD_SECONDS": "2",
        "CONVEYOR_MONITOR_SECONDS": "0.5",
    }
    # To a file, not a pipe: every 500 logs its traceback, and a pipe nobody reads until the
    # end would fill and stall the server.
    log_path = tmp_path / "up.log"
    log_file = log_path.open("w")
    up = subprocess.Popen(
        [str(CONVEYOR), "up", "--port", str(port)],
        env=env,
        stdout=log_file,
        stderr=subprocess.STDOUT,
        text=True,
    )
    statuses: list[tuple[int, int | None]] = []
    stop = threading.Event()
    try:
        wait_for(port, no_rows[0], 1, timeout=60)
        deployed = cli("models", "deploy", "churn", "2", "--approve")
        assert deployed.returncode == 0, deployed.stderr
        deployed_at = time.monotonic()
        wait_for(port, no_rows[0], 2, timeout=10)

        # 3 rows in 10 are ones the broken version fails on
        mix = [*no_rows[:7], *yes_rows[:3]]

        def traffic(offset: int) -> None:
            i = offset
            while not stop.is_set():
                try:
                    status, body = post(port, "/predict/churn", {"instances": [mix[i % len(mix)]]})
                    statuses.append((status, body.get("model_version")))
                except OSError as exc:  # the server is stopping: not an answer to count
                    statuses.append((-1, str(exc)))  # type: ignore[arg-type]
                i += 1
                time.sleep(0.01)

        threads = [threading.Thread(target=traffic, args=(n * 3,)) for n in range(3)]
        for thread in threads:
            thread.start()
        try:
            back = wait_for(port, no_rows[0], 1, timeout=BAKING_SECONDS)  # no command
            rolled_back_after = time.monotonic() - deployed_at
        except AssertionError:
            up.send_signal(signal.SIGINT)
            up.wait(timeout=60)
            raise AssertionError(log_path.read_text()[-5000:]) from None
        finally:
            stop.set()
            for thread in threads:
                thread.join()
    finally:
        up.send_signal(signal.SIGINT)
        up.wait(timeout=60)
        log_file.close()
    output = log_path.read_text()
    assert up.returncode == 0, output[-5000:]
    assert back >= 0 and rolled_back_after < BAKING_SECONDS
    errors = [s for s in statuses if s[0] == 500]
    assert errors, "the broken version never failed a request"
    assert {s[0] for s in statuses} == {200, 500}
    assert "rolled back churn v2 -> v1 during baking" in output

    history = json_of(cli("alarms", "history", "churn", "--json"))
    rollback = next(h for h in history if h["kind"] == "GuardrailRollback")
    assert rollback["alarm"] == "error-rate"
    assert rollback["reason"].startswith("rolled back churn v2 -> v1 during baking: error-rate:")
    assert "were greater than the threshold (0.05)" in rollback["reason"]
    assert all(point > 0.05 for point in rollback["datapoints"])

    versions = {v["version"]: v for v in json_of(cli("models", "list", "churn", "--json"))}
    assert versions[1]["aliases"] == ["champion"]
    assert "rolled back at" in versions[2]["tags"]["guardrail"]

    items = json_of(cli("alarms", "guardrail", "churn", "--json"))
    # one rollback, of v2; the rollback itself (if the monitor saw it before the stop) is not
    # baked, so nothing rolled back further
    rolled = [item for item in items if item["state"] == "ROLLED_BACK"]
    assert [(i["version"], i["rolled_back_to_version"]) for i in rolled] == [(2, 1)]
    assert rolled[0]["cause"].startswith("error-rate: Threshold Crossed")
    assert {item["state"] for item in items} <= {"ROLLED_BACK", "ROLLBACK", "UNGUARDED"}

    listed = cli("alarms", "list", "churn")
    assert listed.returncode == 0 and "error-rate" in listed.stdout
