"""Cold start benchmark: ``conveyor serve`` started with 3 projects deployed, timed to its first
200 and to the moment all three answer; with the serving cache as a restart finds it, and
emptied (every artifact fetched, checked and unpacked again). Median of 3 starts each. Twice:
the projects trained as ``fast`` trains them (one LightGBM), as ``balanced``'s search picks,
and as CatBoost, k-nearest neighbours and the linear model (``VARIANTS``: the families with
other libraries to load).
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


# How each start's projects are trained: upload flags, the same for every project or by project.
# "families" serves the families with libraries of their own to load (CatBoost; SciPy's
# KDTree) beside the linear model: the slowest start the search could pick.
VARIANTS: dict[str, dict[str, list[str]]] = {
    "fast": {name: ["--preset", "fast"] for name in PROJECTS},
    "balanced": {name: ["--preset", "balanced"] for name in PROJECTS},
    "families": {
        "cancer": ["--algorithm", "catboost"],
        "wine": ["--algorithm", "knn"],
        "diabetes": ["--algorithm", "linear"],
    },
}


def deploy_projects(home: Path, variant: str = "fast") -> dict[str, bytes]:
    """Each project trained as ``VARIANTS[variant]`` says and deployed; returns a one-row
    request body per project."""
    env = {**os.environ, "CONVEYOR_HOME": str(home)}
    bodies = {}
    for name, load in PROJECTS.items():
        data = load()
        frame = pl.DataFrame(data.data, schema=list(data.feature_names), orient="row")
        csv = home / f"{name}.csv"
        frame.with_columns(target=pl.Series(data.target)).write_csv(csv)
        command = [str(CONVEYOR), "upload", str(csv), "-p", name, "--target", "target",
                   *VARIANTS[variant][name]]  # fmt: skip
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
    """``fast``'s starts at the top level (as before), each other variant's under its name."""
    result: dict[str, Any] = {"projects": list(PROJECTS), "starts": STARTS}
    for variant in VARIANTS:
        starts = _starts(workdir / variant)
        result.update(starts) if variant == "fast" else result.update({variant: starts})
    return result


def _starts(home: Path) -> dict[str, Any]:
    home.mkdir(parents=True, exist_ok=True)
    bodies = deploy_projects(home, home.name)
    result: dict[str, Any] = {"models": _models(home)}
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


def _models(home: Path) -> dict[str, str]:
    """Each project's served model: its algorithm, an ensemble's members after it."""
    env = {**os.environ, "CONVEYOR_HOME": str(home)}
    out = {}
    for name in PROJECTS:
        shown = subprocess.run(
            [str(CONVEYOR), "models", "show", name, "1", "--json"],
            env=env, capture_output=True, text=True, check=True,
        )  # fmt: skip
        model = json.loads(shown.stdout)
        members = model.get("hyperparameters") if model.get("algorithm") == "ensemble" else {}
        out[name] = " ".join([str(model.get("algorithm")), *sorted(members or {})])
    return out


if __name__ == "__main__":
    import tempfile

    workdir = Path(sys.argv[1]) if len(sys.argv) > 1 else Path(tempfile.mkdtemp(prefix="cold-"))
    print(json.dumps(run(workdir), indent=2))
