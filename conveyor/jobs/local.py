"""Training jobs as subprocesses, laid out as SageMaker lays out /opt/ml.

A job runs in its own session, so it survives the worker that started it (as a SageMaker
job survives its caller); a shell wrapper writes its exit code durably, so whichever worker
describes the job next — this one or its successor after a crash — can finish it: pack
``model/`` into model.tar.gz, upload it, and record the final status once.

``warm()`` starts the next job's process ahead of time, through the same wrapper, in a folder
of its own that becomes the job's folder when the job starts (``conveyor.jobs.standby``).
"""

from __future__ import annotations

import fcntl
import json
import os
import secrets
import shlex
import shutil
import signal
import subprocess
import sys
import tarfile
import time
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from conveyor._process import pid_exists
from conveyor.errors import AlreadyExists, Conflict, NotFound
from conveyor.jobs import TrainingJob, TrainingJobSpec
from conveyor.jobs.contract import ScriptModePaths, environment
from conveyor.jobs.standby import HANDOVER
from conveyor.storage import ObjectStore
from conveyor.types import JobStatus, ObjectRef, from_iso, to_iso, utcnow

if TYPE_CHECKING:
    from conveyor.config import Settings
    from conveyor.ports import PortsSoFar

_WRAPPER = '"$@" >> logs.txt 2>&1; echo $? > exit_code.tmp && mv exit_code.tmp exit_code'
_LAUNCHER = f'/bin/sh -c {shlex.quote(_WRAPPER)} "$0" "$@" & echo $! > pid'
_LOG_TAIL_LINES = 20
_STOP_GRACE_SECONDS = 5.0
_STANDBYS = ".standby"


@dataclass(frozen=True)
class _Standby:
    folder: Path
    pid: int
    pgid: int
    marker: str
    # Variables read as the interpreter starts (PYTHONPATH, ...) cannot change after it has.
    interpreter_env: dict[str, str]


class SubprocessJobRunner:
    scheme = "local"

    # How often a worker may check a running job: a few small file reads, so its end is seen
    # within 50 ms and its run goes on to evaluation.
    poll_seconds = 0.05

    def __init__(self, root: Path, store: ObjectStore) -> None:
        self.root = root
        self.store = store
        self._standby: _Standby | None = None

    @classmethod
    def from_settings(
        cls, uri: str, settings: Settings, ports_so_far: PortsSoFar
    ) -> SubprocessJobRunner:
        """Jobs laid out in the home's ``jobs/`` folder, on the store built before."""
        return cls(root=settings.jobs_dir, store=ports_so_far["store"])

    def warm(self) -> None:
        """Start a standby process for the next job, unless one is waiting already."""
        if self._standby is not None and _alive(self._standby.pid, self._standby.marker):
            return
        self._sweep_standbys()
        folder = self.root / _STANDBYS / f"{os.getpid()}-{secrets.token_hex(6)}"
        folder.mkdir(parents=True)
        command = [sys.executable, "-m", "conveyor.jobs.standby", str(os.getpid())]
        pid, pgid, marker = _launch(folder, command, dict(os.environ))
        self._standby = _Standby(folder, pid, pgid, marker, _interpreter_env(os.environ))

    def cool(self) -> None:
        """End the standby process, if one is waiting (the worker is stopping)."""
        standby, self._standby = self._standby, None
        if standby is not None:
            self._kill(standby.pgid)
            shutil.rmtree(standby.folder, ignore_errors=True)

    def _sweep_standbys(self) -> None:
        """Remove the folders of standbys whose worker is gone (they exit with it)."""
        parent = self.root / _STANDBYS
        if not parent.is_dir():
            return
        for folder in parent.iterdir():
            owner = folder.name.split("-", 1)[0]
            if owner.isdigit() and int(owner) != os.getpid() and not pid_exists(int(owner)):
                shutil.rmtree(folder, ignore_errors=True)

    def _take_standby(self, env: dict[str, str]) -> _Standby | None:
        standby, self._standby = self._standby, None
        if standby is None or standby.interpreter_env != _interpreter_env(env):
            if standby is not None:
                self._kill(standby.pgid)
            return None
        return standby if _alive(standby.pid, standby.marker) else None

    def start_training_job(self, spec: TrainingJobSpec) -> TrainingJob:
        folder = self.root / spec.job_name
        self.root.mkdir(parents=True, exist_ok=True)
        try:
            folder.mkdir()
        except FileExistsError as exc:
            raise AlreadyExists(f"training job {spec.job_name!r} already exists") from exc
        paths = ScriptModePaths(folder / "ml")
        env = {**os.environ, **environment(paths, list(spec.channels), spec.hyperparameters)}
        standby = self._take_standby(env)
        if standby is not None:
            # The standby's folder (its working directory, log and pid) becomes the job's:
            # a rename onto the empty folder just claimed.
            os.replace(standby.folder, folder)
        try:
            return self._start(spec, folder, paths, env, standby)
        except BaseException:
            if standby is not None:
                self._kill(standby.pgid)
            raise

    def _start(
        self,
        spec: TrainingJobSpec,
        folder: Path,
        paths: ScriptModePaths,
        env: dict[str, str],
        standby: _Standby | None,
    ) -> TrainingJob:
        paths.make_dirs(list(spec.channels))
        paths.hyperparameters_file.write_text(json.dumps(spec.hyperparameters, indent=2))
        paths.input_data_config_file.write_text(
            json.dumps(
                {
                    name: {
                        "TrainingInputMode": "File",
                        "S3DistributionType": "FullyReplicated",
                        "RecordWrapperType": "None",
                    }
                    for name in spec.channels
                },
                indent=2,
            )
        )
        for name, prefix in spec.channels.items():
            objects = self.store.list(prefix.bucket, prefix.key)
            if not objects:
                raise NotFound(f"channel {name!r}: no object under {prefix.uri}")
            for info in objects:
                self.store.download(
                    info.bucket, info.key, paths.channel(name) / Path(info.key).name
                )
        started = utcnow()
        if standby is None:
            pid, pgid, marker = _launch(folder, [sys.executable, "-m", spec.entrypoint], env)
        else:
            pid, pgid, marker = standby.pid, standby.pgid, standby.marker
        record = {
            "spec": _spec_to_dict(spec),
            "pid": pid,
            "pgid": pgid,
            "marker": marker,
            "started_at": to_iso(started),
        }
        _write_json(folder / "job.json", record)
        if standby is not None:
            _write_json(folder / HANDOVER, {"env": env, "module": spec.entrypoint})
        return TrainingJob(spec.job_name, JobStatus.IN_PROGRESS, started_at=started)

    def describe_training_job(self, job_name: str) -> TrainingJob:
        folder = self._folder(job_name)
        final = folder / "status.json"
        if final.exists():
            return _job_from_dict(json.loads(final.read_text()))
        record = json.loads((folder / "job.json").read_text())
        started = from_iso(record["started_at"])
        if not (folder / "exit_code").exists():
            if _alive(int(record["pid"]), record.get("marker") or f"conveyor-job:{folder}"):
                limit = int(record["spec"]["max_runtime_seconds"])
                if (utcnow() - started).total_seconds() <= limit:
                    return TrainingJob(job_name, JobStatus.IN_PROGRESS, started_at=started)
                self._kill(int(record["pgid"]))
                return self._finalise(folder, record, JobStatus.STOPPED, "MaxRuntimeExceeded")
            if not (folder / "exit_code").exists():
                return self._finalise(
                    folder,
                    record,
                    JobStatus.FAILED,
                    "the training process ended without an exit status; it was probably "
                    "killed (out of memory, or the machine restarted)",
                )
        return self._finalise(folder, record, None, None)

    def get_logs(self, job_name: str) -> str:
        logs = self._folder(job_name) / "logs.txt"
        return logs.read_text(errors="replace") if logs.exists() else ""

    def stop_training_job(self, job_name: str) -> None:
        folder = self._folder(job_name)
        if (folder / "status.json").exists() or (folder / "exit_code").exists():
            return
        record = json.loads((folder / "job.json").read_text())
        self._kill(int(record["pgid"]))
        self._finalise(folder, record, JobStatus.STOPPED, "stopped by request")

    def forget_training_job(self, job_name: str) -> bool:
        folder = self.root / job_name
        if not (folder / "job.json").exists():
            return False
        if not ((folder / "status.json").exists() or (folder / "exit_code").exists()):
            raise Conflict(f"training job {job_name!r} is still running: stop it first")
        shutil.rmtree(folder)
        return True

    def _folder(self, job_name: str) -> Path:
        folder = self.root / job_name
        if not (folder / "job.json").exists():
            raise NotFound(f"no training job {job_name!r}")
        return folder

    def _kill(self, pid: int) -> None:
        try:
            os.killpg(pid, signal.SIGTERM)
        except ProcessLookupError:
            return
        deadline = time.monotonic() + _STOP_GRACE_SECONDS
        while time.monotonic() < deadline:
            try:
                os.killpg(pid, 0)
            except ProcessLookupError:
                return
            time.sleep(0.05)
        try:
            os.killpg(pid, signal.SIGKILL)
        except ProcessLookupError:
            return

    def _finalise(
        self, folder: Path, record: dict[str, Any], status: JobStatus | None, reason: str | None
    ) -> TrainingJob:
        """Record the job's end once, whoever gets here first (other processes included)."""
        with _locked(folder / ".lock"):
            final = folder / "status.json"
            if final.exists():
                return _job_from_dict(json.loads(final.read_text()))
            spec = record["spec"]
            paths = ScriptModePaths(folder / "ml")
            artifact = None
            if status is None:
                code = (folder / "exit_code").read_text().strip()
                if code == "0":
                    status = JobStatus.COMPLETED
                    artifact = self._upload_model(folder, paths, spec["output"])
                else:
                    status = JobStatus.FAILED
                    reason = self._failure_reason(folder, paths, code)
            job = TrainingJob(
                spec["job_name"],
                status,
                failure_reason=reason,
                model_artifact=artifact,
                started_at=from_iso(record["started_at"]),
                finished_at=utcnow(),
            )
            _write_json(final, _job_to_dict(job))
            return job

    def _upload_model(
        self, folder: Path, paths: ScriptModePaths, output: dict[str, str]
    ) -> ObjectRef:
        tarball = folder / "model.tar.gz"
        with tarfile.open(tarball, "w:gz") as archive:
            for path in sorted(paths.model_dir.rglob("*")):
                archive.add(path, arcname=str(path.relative_to(paths.model_dir)), recursive=False)
        ref = ObjectRef(output["bucket"], output["key"])
        self.store.put_file(ref.bucket, ref.key, tarball)
        return ref

    def _failure_reason(self, folder: Path, paths: ScriptModePaths, code: str) -> str:
        if paths.failure_file.exists():
            text = paths.failure_file.read_text(errors="replace").strip()
            if text:
                return text
        lines = self.get_logs(folder.name).splitlines()[-_LOG_TAIL_LINES:]
        return f"exit code {code}; last lines of the log:\n" + "\n".join(lines)


def _launch(folder: Path, command: list[str], env: dict[str, str]) -> tuple[int, int, str]:
    """Run ``command`` in ``folder`` under the wrapper; returns its pid, its process group
    and the marker its command line carries."""
    marker = f"conveyor-job:{folder}"
    # The outer shell starts the job in the background and exits at once, so the job is
    # not our child: nobody has to reap it, and it outlives this process.
    outer = subprocess.Popen(
        ["/bin/sh", "-c", _LAUNCHER, marker, *command],
        cwd=folder,
        env=env,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    outer.wait()
    return int((folder / "pid").read_text()), outer.pid, marker


def _interpreter_env(env: Mapping[str, str]) -> dict[str, str]:
    return {k: v for k, v in env.items() if k.startswith("PYTHON")}


def _alive(pid: int, marker: str) -> bool:
    """Whether the job's wrapper process still runs.

    The pid may have been reused since, so its command line must carry the job's marker
    (its folder when it was launched); but a process caught mid-``exec`` shows an empty
    command line for an instant, so an empty one counts as alive if the process exists and
    is not a zombie.
    """
    try:
        os.kill(pid, 0)
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
        cmdline = Path(f"/proc/{pid}/cmdline").read_bytes()
    except (OSError, IndexError):
        return False
    if state == "Z":
        return False
    return not cmdline or marker.encode() in cmdline


@contextmanager
def _locked(path: Path) -> Iterator[None]:
    with path.open("a") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def _write_json(path: Path, data: dict[str, Any]) -> None:
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps(data, indent=2))
    os.replace(tmp, path)


def _spec_to_dict(spec: TrainingJobSpec) -> dict[str, Any]:
    data = asdict(spec)
    data["channels"] = {k: v.to_dict() for k, v in spec.channels.items()}
    data["output"] = spec.output.to_dict()
    return data


def _job_to_dict(job: TrainingJob) -> dict[str, Any]:
    return {
        "job_name": job.job_name,
        "status": job.status.value,
        "failure_reason": job.failure_reason,
        "model_artifact": job.model_artifact.to_dict() if job.model_artifact else None,
        "started_at": to_iso(job.started_at) if job.started_at else None,
        "finished_at": to_iso(job.finished_at) if job.finished_at else None,
    }


def _job_from_dict(data: dict[str, Any]) -> TrainingJob:
    artifact = data.get("model_artifact")
    return TrainingJob(
        job_name=data["job_name"],
        status=JobStatus(data["status"]),
        failure_reason=data.get("failure_reason"),
        model_artifact=ObjectRef.from_dict(artifact) if artifact else None,
        started_at=from_iso(data["started_at"]) if data.get("started_at") else None,
        finished_at=from_iso(data["finished_at"]) if data.get("finished_at") else None,
    )
