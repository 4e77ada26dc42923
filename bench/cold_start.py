"""Cold start benchmark: ``conveyor serve`` started with 3 projects deployed, timed to its first
200 and to the moment all three answer; with the serving cache as a restart finds it, and
emptied (every artifact fetched, checked and unpacked again). Median of 3 starts each.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import polars as pl
from sklearn import datasets

from bench.common import CONVEYOR, free_port, wait_for_200
from conveyor.config import Settings

PROJECTS = {
    "cancer": datasets.load_breast_cancer,
    "wine": datasets.load_wine,
    "diabetes": datasets.load_diabetes,
}
STARTS = 3


def deploy_projects(home: Path) -> dict[str, bytes]:
    """Each project trained and deployed; returns a one-row request body per project."""
    env = {**os.environ, "CONVEYOR_HOME": str(home)}
    bodies = {}
    for name, load in PROJECTS.items():
        data = load()
        frame = pl.DataFrame(data.data, schema=list(data.feature_names), orient="row")
        csv = home / f"{name}.csv"
        frame.with_columns(target=pl.Series(data.target)).write_csv(csv)
        command = [str(CONVEYOR), "upload", str(csv), "-p", name, "--target", "target"]
        subprocess.run([*command, "--wait", "--json"], env=env, check=True, capture_output=True)
        bodies[name] = json.dumps({"instances": frame.head(1).to_dicts()}).encode()
    return bodies


def _start_once(home: Path, bodies: dict[str, bytes]) -> tuple[float, float]:
    port = free_port()
    started = time.perf_counter()
    server = subprocess.Popen(
        [str(CONVEYOR), "serve", "--port", str(port)],
        env={**os.environ, "CONVEYOR_HOME": str(home)},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        names = list(bodies)
        url = f"http://127.0.0.1:{port}/predict/"
        wait_for_200(url + names[0], bodies[names[0]], timeout=60, every=0.01)
        first = time.perf_counter() - started
        for name in names[1:]:
            wait_for_200(url + name, bodies[name], timeout=60, every=0.01)
        return first, time.perf_counter() - started
    finally:
        server.send_signal(signal.SIGINT)
        server.wait(timeout=60)


def run(workdir: Path) -> dict[str, Any]:
    home = workdir / "home"
    home.mkdir(parents=True, exist_ok=True)
    bodies = deploy_projects(home)
    result: dict[str, Any] = {"projects": list(PROJECTS), "starts": STARTS}
    for label, empty_cache in (("cache_kept", False), ("cache_emptied", True)):
        firsts, alls = [], []
        for _ in range(STARTS):
            if empty_cache:
                shutil.rmtree(Settings(home=home).serving_cache_dir, ignore_errors=True)
            first, everyone = _start_once(home, bodies)
            firsts.append(first)
            alls.append(everyone)
        result[label] = {
            "first_200_seconds": round(statistics.median(firsts), 3),
            "all_projects_seconds": round(statistics.median(alls), 3),
        }
    return result


if __name__ == "__main__":
    import tempfile

    workdir = Path(sys.argv[1]) if len(sys.argv) > 1 else Path(tempfile.mkdtemp(prefix="cold-"))
    print(json.dumps(run(workdir), indent=2))
