"""The job runner's standby process: a training job started after ``warm()`` runs in a process
that imported its libraries beforehand, and behaves as a cold job does in every other way."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from conveyor._process import pid_exists
from conveyor.jobs import TrainingJobSpec
from conveyor.jobs.local import SubprocessJobRunner
from conveyor.jobs.standby import READY
from conveyor.storage.local import LocalObjectStore
from conveyor.types import JobStatus, ObjectRef
from tests.integration.test_subprocess_job_runner import wait

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture
def store(tmp_path: Path) -> LocalObjectStore:
    store = LocalObjectStore(root=tmp_path / "buckets")
    store.put("processed", "p/d/train.parquet", b"rows")
    return store


@pytest.fixture
def runner(
    tmp_path: Path, store: LocalObjectStore, monkeypatch: pytest.MonkeyPatch
) -> Iterator[SubprocessJobRunner]:
    monkeypatch.setenv("PYTHONPATH", str(REPO))
    runner = SubprocessJobRunner(root=tmp_path / "jobs", store=store)
    yield runner
    runner.cool()


def spec(name: str, **hps: str) -> TrainingJobSpec:
    return TrainingJobSpec(
        job_name=name,
        channels={"train": ObjectRef("processed", "p/d/")},
        output=ObjectRef("models", f"p/{name}/model.tar.gz"),
        hyperparameters=hps,
        entrypoint="tests.integration.toy_entrypoint",
    )


def standbys(root: Path) -> list[Path]:
    folder = root / ".standby"
    return sorted(folder.iterdir()) if folder.is_dir() else []


def warmed(runner: SubprocessJobRunner) -> int:
    """Warm ``runner``, wait until its standby has imported its libraries; its pid."""
    runner.warm()
    (folder,) = standbys(runner.root)
    deadline = time.monotonic() + 60
    while not (folder / READY).exists():
        assert time.monotonic() < deadline, "the standby never became ready"
        time.sleep(0.05)
    return int((folder / "pid").read_text())


def job_pid(runner: SubprocessJobRunner, name: str) -> int:
    return int(json.loads((runner.root / name / "job.json").read_text())["pid"])


def test_a_job_started_warm_runs_in_the_standby_with_its_own_environment(runner, store) -> None:  # type: ignore[no-untyped-def]
    standby = warmed(runner)
    assert runner.warm() is None and len(standbys(runner.root)) == 1  # one is enough

    runner.start_training_job(spec("job-1", alpha="0.5"))

    assert job_pid(runner, "job-1") == standby
    assert standbys(runner.root) == []  # its folder became the job's
    job = wait(runner, "job-1")
    assert job.status is JobStatus.COMPLETED
    assert job.model_artifact == ObjectRef("models", "p/job-1/model.tar.gz")
    assert "toy job mode=ok" in runner.get_logs("job-1")
    # The job read the hyperparameters and channels of its own request, not the standby's.
    model_dir = runner.root / "job-1" / "ml" / "model" / "model.json"
    model = json.loads(model_dir.read_text())
    assert model["hps"] == {"alpha": "0.5"} and json.loads(model["channels"]) == ["train"]


def test_a_standby_is_used_once(runner) -> None:  # type: ignore[no-untyped-def]
    standby = warmed(runner)
    runner.start_training_job(spec("job-1"))
    runner.start_training_job(spec("job-2"))
    assert job_pid(runner, "job-1") == standby
    assert job_pid(runner, "job-2") != standby
    assert wait(runner, "job-1").status is JobStatus.COMPLETED
    assert wait(runner, "job-2").status is JobStatus.COMPLETED


def test_a_failing_job_in_a_standby_ends_with_its_exit_code_and_reason(runner) -> None:  # type: ignore[no-untyped-def]
    warmed(runner)
    runner.start_training_job(spec("job-1", mode="crash"))
    job = wait(runner, "job-1")
    assert job.status is JobStatus.FAILED
    assert job.failure_reason is not None and "exit code 3" in job.failure_reason
    assert "about to crash" in job.failure_reason
    runner.start_training_job(spec("job-2", mode="fail"))  # cold: the reason it wrote
    assert wait(runner, "job-2").failure_reason == "the toy failed on purpose"


def test_stopping_a_job_that_started_warm_ends_its_process(runner) -> None:  # type: ignore[no-untyped-def]
    warmed(runner)
    runner.start_training_job(spec("job-1", mode="sleep", seconds="60"))
    pid = job_pid(runner, "job-1")
    runner.stop_training_job("job-1")
    assert runner.describe_training_job("job-1").status is JobStatus.STOPPED
    assert not pid_exists(pid) or Path(f"/proc/{pid}/stat").read_text().split()[2] == "Z"


def test_a_changed_interpreter_environment_starts_the_job_cold(  # type: ignore[no-untyped-def]
    runner, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    standby = warmed(runner)
    monkeypatch.setenv("PYTHONPATH", f"{REPO}{os.pathsep}{tmp_path}")
    runner.start_training_job(spec("job-1"))
    assert job_pid(runner, "job-1") != standby
    assert wait(runner, "job-1").status is JobStatus.COMPLETED
    deadline = time.monotonic() + 10
    while pid_exists(standby) and time.monotonic() < deadline:  # the unused one is ended
        time.sleep(0.05)
    assert not pid_exists(standby)


def test_a_standby_ends_with_the_worker_that_kept_it(tmp_path: Path, store) -> None:  # type: ignore[no-untyped-def]
    root = tmp_path / "jobs"
    script = (
        "import sys; from pathlib import Path\n"
        "from conveyor.jobs.local import SubprocessJobRunner\n"
        "from conveyor.storage.local import LocalObjectStore\n"
        "SubprocessJobRunner(Path(sys.argv[1]), LocalObjectStore(Path(sys.argv[2]))).warm()\n"
    )
    subprocess.run([sys.executable, "-c", script, str(root), str(store.root)], check=True)
    (folder,) = standbys(root)
    pid = int((folder / "pid").read_text())
    deadline = time.monotonic() + 20
    while pid_exists(pid) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert not pid_exists(pid), "the standby outlived its worker"

    successor = SubprocessJobRunner(root, store)
    successor.warm()  # the next worker clears what is left
    assert folder not in standbys(root)
    (kept,) = standbys(root)
    pid = int((kept / "pid").read_text())

    successor.cool()  # and ends its own when it stops

    assert standbys(root) == [] and not pid_exists(pid)
