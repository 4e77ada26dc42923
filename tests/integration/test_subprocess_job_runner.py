"""The subprocess job runner: real processes under the script-mode contract."""

from __future__ import annotations

import io
import json
import os
import signal
import tarfile
import threading
import time
from pathlib import Path

import pytest

from conveyor.errors import AlreadyExists, Conflict, NotFound
from conveyor.jobs import TrainingJobSpec, forget
from conveyor.jobs.local import SubprocessJobRunner
from conveyor.storage.local import LocalObjectStore
from conveyor.types import JobStatus, ObjectRef

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture
def store(tmp_path: Path) -> LocalObjectStore:
    store = LocalObjectStore(root=tmp_path / "buckets")
    store.put("processed", "p/d/train.parquet", b"rows")
    store.put("processed", "p/d/extra.txt", b"more")
    return store


@pytest.fixture
def runner(
    tmp_path: Path, store: LocalObjectStore, monkeypatch: pytest.MonkeyPatch
) -> SubprocessJobRunner:
    monkeypatch.setenv("PYTHONPATH", str(REPO))
    return SubprocessJobRunner(root=tmp_path / "jobs", store=store)


def spec(name: str = "job-1", **hps: str) -> TrainingJobSpec:
    return TrainingJobSpec(
        job_name=name,
        channels={"train": ObjectRef("processed", "p/d/")},
        output=ObjectRef("models", f"p/{name}/model.tar.gz"),
        hyperparameters=hps,
        entrypoint="tests.integration.toy_entrypoint",
    )


def wait(runner: SubprocessJobRunner, name: str, timeout: float = 30.0):  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        job = runner.describe_training_job(name)
        if job.status.is_terminal:
            return job
        time.sleep(0.05)
    raise AssertionError(f"job {name} still running after {timeout}s")


def test_a_completed_job_uploads_its_model_as_a_tarball(runner, store) -> None:  # type: ignore[no-untyped-def]
    started = runner.start_training_job(spec(alpha="0.5"))
    assert started.status is JobStatus.IN_PROGRESS
    job = wait(runner, "job-1")
    assert job.status is JobStatus.COMPLETED
    assert job.model_artifact == ObjectRef("models", "p/job-1/model.tar.gz")
    with tarfile.open(fileobj=io.BytesIO(store.get("models", "p/job-1/model.tar.gz"))) as tar:
        assert tar.getnames() == ["model.json"]  # files at the archive root, as SageMaker
        model = json.loads(tar.extractfile("model.json").read())  # type: ignore[union-attr]
    assert model["seen"] == ["extra.txt", "train.parquet"]  # the channel's objects
    assert model["hps"] == {"alpha": "0.5"}
    assert json.loads(model["channels"]) == ["train"]
    assert "toy job mode=ok" in runner.get_logs("job-1")


def test_a_failed_job_reports_the_reason_it_wrote(runner) -> None:  # type: ignore[no-untyped-def]
    runner.start_training_job(spec(mode="fail"))
    job = wait(runner, "job-1")
    assert job.status is JobStatus.FAILED
    assert job.failure_reason == "the toy failed on purpose"


def test_a_crash_without_a_failure_file_reports_exit_code_and_log_tail(runner) -> None:  # type: ignore[no-untyped-def]
    runner.start_training_job(spec(mode="crash"))
    job = wait(runner, "job-1")
    assert job.status is JobStatus.FAILED
    assert "exit code 3" in (job.failure_reason or "")
    assert "about to crash" in (job.failure_reason or "")


def test_a_job_finished_while_nobody_watched_is_finished_by_a_new_runner(  # type: ignore[no-untyped-def]
    runner, store, tmp_path
) -> None:
    runner.start_training_job(spec())
    deadline = time.monotonic() + 30
    while not (tmp_path / "jobs" / "job-1" / "exit_code").exists():
        assert time.monotonic() < deadline
        time.sleep(0.05)
    successor = SubprocessJobRunner(root=tmp_path / "jobs", store=store)
    assert successor.describe_training_job("job-1").status is JobStatus.COMPLETED


def test_a_killed_job_is_failed_with_a_reason(runner, tmp_path) -> None:  # type: ignore[no-untyped-def]
    runner.start_training_job(spec(mode="sleep", seconds="30"))
    pid = json.loads((tmp_path / "jobs" / "job-1" / "job.json").read_text())["pgid"]
    os.killpg(pid, signal.SIGKILL)
    job = wait(runner, "job-1")
    assert job.status is JobStatus.FAILED
    assert "ended without an exit status" in (job.failure_reason or "")


def test_stop_ends_a_running_job_stopped(runner) -> None:  # type: ignore[no-untyped-def]
    runner.start_training_job(spec(mode="sleep", seconds="30"))
    runner.stop_training_job("job-1")
    job = runner.describe_training_job("job-1")
    assert job.status is JobStatus.STOPPED and job.failure_reason == "stopped by request"


def test_a_job_is_forgotten_only_once_it_ended(runner, tmp_path) -> None:  # type: ignore[no-untyped-def]
    runner.start_training_job(spec(mode="sleep", seconds="30"))
    with pytest.raises(Conflict, match="still running"):
        forget(runner, "job-1")
    runner.stop_training_job("job-1")
    assert forget(runner, "job-1") is True
    assert not (tmp_path / "jobs" / "job-1").exists()
    assert forget(runner, "job-1") is False  # nothing kept any more


def test_max_runtime_stops_the_job(runner) -> None:  # type: ignore[no-untyped-def]
    long = TrainingJobSpec(
        **{**spec(mode="sleep", seconds="30").__dict__, "max_runtime_seconds": 0}
    )
    runner.start_training_job(long)
    time.sleep(0.2)
    job = wait(runner, "job-1")
    assert job.status is JobStatus.STOPPED and job.failure_reason == "MaxRuntimeExceeded"


def test_job_names_are_unique_and_channels_must_hold_objects(runner) -> None:  # type: ignore[no-untyped-def]
    runner.start_training_job(spec())
    with pytest.raises(AlreadyExists):
        runner.start_training_job(spec())
    empty = TrainingJobSpec(
        job_name="job-2",
        channels={"train": ObjectRef("processed", "nope/")},
        output=ObjectRef("models", "x.tar.gz"),
    )
    with pytest.raises(NotFound, match="no object under processed/nope/"):
        runner.start_training_job(empty)
    with pytest.raises(NotFound):
        runner.describe_training_job("never-started")
    wait(runner, "job-1")


def test_concurrent_describes_finalise_once(runner, store) -> None:  # type: ignore[no-untyped-def]
    runner.start_training_job(spec())
    results = []

    def describe() -> None:
        results.append(wait(runner, "job-1"))

    threads = [threading.Thread(target=describe) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert {r.status for r in results} == {JobStatus.COMPLETED}
    assert len({r.finished_at for r in results}) == 1  # one status.json, written once
