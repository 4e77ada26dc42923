"""What the benchmarks share: ports, waiting for a server, peak memory of a process tree, and
the description of the machine and versions a result was measured on."""

from __future__ import annotations

import json
import os
import platform
import socket
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from datetime import UTC, datetime
from importlib.metadata import version
from pathlib import Path
from typing import Any

try:
    import psutil
except ImportError:  # the bench extra's: rendering a report, and the suite's tests of it, need none
    psutil = None  # type: ignore[assignment]

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "bench" / "results"
CONVEYOR = Path(sys.executable).parent / "conveyor"
RESCAN_SECONDS = 0.2


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def post(url: str, body: bytes, timeout: float = 5.0) -> tuple[int, bytes]:
    request = urllib.request.Request(url, data=body, headers={"content-type": "application/json"})
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            return response.status, response.read()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read()


def wait_for_health(port: int, deadline: float) -> bool:
    """Whether the server on ``port`` answers ``/health`` before ``deadline`` (monotonic)."""
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/health", timeout=2):
                return True
        except OSError:
            time.sleep(0.1)
    return False


def wait_for_200(url: str, body: bytes, *, timeout: float = 120.0, every: float = 0.05) -> float:
    """Seconds until ``url`` answers ``body`` with a 200 (refused connections and 4xx retried)."""
    started = time.perf_counter()
    while time.perf_counter() - started < timeout:
        try:
            status, _ = post(url, body, timeout=2.0)
            if status == 200:
                return time.perf_counter() - started
        except OSError:
            pass
        time.sleep(every)
    raise TimeoutError(f"{url} did not answer 200 within {timeout:.0f} s")


class PeakMemory:
    """Samples the summed resident memory of a process and all its descendants, every 20 ms,
    in a thread; ``peak_mb`` is the highest sum seen (what the machine had to hold at once)."""

    def __init__(self, pid: int, interval: float = 0.02, *, cwd_under: Path | None = None) -> None:
        self.root = psutil.Process(pid)
        self.interval = interval
        # Detached processes (a training job) are not descendants: found by their folder.
        self.cwd_under = str(cwd_under) if cwd_under else None
        self.peak_bytes = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._sample, daemon=True)

    def __enter__(self) -> PeakMemory:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()

    @property
    def peak_mb(self) -> float:
        return self.peak_bytes / 2**20

    def _sample(self) -> None:
        processes: set[psutil.Process] = set()
        last_scan = 0.0
        while not self._stop.is_set():
            # Finding the processes walks all of /proc: a few times a second is enough (a
            # process lives far longer), while reading each one's memory is cheap.
            if time.monotonic() - last_scan > RESCAN_SECONDS:
                try:
                    processes = process_tree(self.root, self.cwd_under)
                except psutil.NoSuchProcess:
                    return
                last_scan = time.monotonic()
            total = 0
            for process in processes:
                try:
                    total += process.memory_info().rss
                except psutil.NoSuchProcess:
                    continue
            self.peak_bytes = max(self.peak_bytes, total)
            self._stop.wait(self.interval)


def process_tree(root: psutil.Process, cwd_under: str | None = None) -> set[psutil.Process]:
    """``root``, its descendants, and with ``cwd_under`` the processes working in that folder
    (detached ones, such as a training job, are not descendants)."""
    processes = {root, *root.children(recursive=True)}
    if cwd_under:
        for process in psutil.process_iter():
            try:
                if process.cwd().startswith(cwd_under):
                    processes.add(process)
            except (psutil.NoSuchProcess, psutil.AccessDenied, psutil.ZombieProcess):
                continue
    return processes


def wait_until_idle(
    pid: int, *, cwd_under: Path, window: float = 0.5, busy_below: float = 0.05, timeout: float = 60
) -> None:
    """Until the process tree uses less than ``busy_below`` of a core over ``window`` seconds:
    a service that answers its health check may still be starting (``conveyor up`` starts a
    warm training process that imports for a second and a half)."""
    root = psutil.Process(pid)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        processes = process_tree(root, str(cwd_under))
        before = _cpu_seconds(processes)
        time.sleep(window)
        after = _cpu_seconds(processes)
        used = sum(after.get(pid, spent) - spent for pid, spent in before.items())
        if used < busy_below * window:
            return
    raise TimeoutError(f"process {pid} was still busy after {timeout} s")


def _cpu_seconds(processes: set[psutil.Process]) -> dict[int, float]:
    seconds = {}
    for process in processes:
        try:
            times = process.cpu_times()
        except psutil.NoSuchProcess:
            continue
        seconds[process.pid] = times.user + times.system
    return seconds


def run_measured(command: list[str], env: dict[str, str] | None = None) -> tuple[float, float, str]:
    """(wall seconds, peak MiB of the process tree, stdout) of a command that must succeed."""
    started = time.perf_counter()
    process = subprocess.Popen(command, env=env, stdout=subprocess.PIPE, text=True)
    with PeakMemory(process.pid) as memory:
        out, _ = process.communicate()
    seconds = time.perf_counter() - started
    if process.returncode != 0:
        raise RuntimeError(f"{command[:3]} failed with exit code {process.returncode}")
    return seconds, memory.peak_mb, out


def machine() -> dict[str, Any]:
    memory = psutil.virtual_memory().total / 2**30
    return {
        "date": datetime.now(UTC).isoformat(timespec="seconds"),
        "machine": f"{platform.machine()}, {os.cpu_count()} cores, {memory:.0f} GiB",
        "cpu": _cpu_model(),
        "os": platform.platform(),
        "python": platform.python_version(),
        "versions": {
            name: version(name)
            for name in ("conveyor", "lightgbm", "polars", "pyarrow", "numpy", "uvicorn")
        },
    }


def _cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def write_json(name: str, data: dict[str, Any]) -> Path:
    RESULTS.mkdir(parents=True, exist_ok=True)
    path = RESULTS / name
    path.write_text(json.dumps(data, indent=2) + "\n")
    return path


def run_standalone(
    run: Callable[[Path], dict[str, Any]],
    record: Callable[[dict[str, Any]], None],
    *,
    description: str,
    prefix: str,
) -> None:
    """A benchmark run on its own (``python -m bench.<name> [--record]``): ``run`` in a
    temporary folder, its figures printed, and with ``--record`` handed to ``record``."""
    import argparse
    import shutil
    import tempfile

    parser = argparse.ArgumentParser(description=description)
    parser.add_argument("--record", action="store_true", help="write the figures, BENCHMARKS.md")
    args = parser.parse_args()
    workdir = Path(tempfile.mkdtemp(prefix=prefix))
    try:
        figures = run(workdir)
    finally:
        shutil.rmtree(workdir, ignore_errors=True)
    if args.record:
        record(figures)
    print(json.dumps(figures, indent=2))
