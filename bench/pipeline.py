"""Pipeline benchmark: a generated 1,000,000-row, 30-column CSV from upload to the first
prediction served with the new model, stage by stage, beside a bare script doing the same
work by hand (bench/bare_pipeline.py); the peak memory of each.

conveyor runs as a user runs it: ``conveyor up`` (server, worker and watch in one process)
already started and idle, then ``conveyor upload``; the clock stops at the first 200 from
``/predict/<project>``. Both sides train LightGBM with the same parameters and a fixed 100
rounds, so both do the same amount of boosting.

The same rows as a messy European export (bench/data.py's messy variant: `;`, decimal commas,
money, a percentage, ``unknown`` in a number column, a day-first timestamp) go through conveyor
too, beside the clean file's runs; its first prediction is asked with a row as the file has it,
every cell a string and the target included.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import polars as pl

from bench.common import (
    CONVEYOR,
    ROOT,
    PeakMemory,
    free_port,
    run_measured,
    wait_for_200,
    wait_for_health,
    wait_until_idle,
)
from bench.data import TARGET
from conveyor.types import from_iso

PARAMS = {"num_boost_round": 100, "early_stopping_rounds": 1_000_000}
PROJECT = "big"
REPEATS = int(os.environ.get("BENCH_PIPELINE_REPEATS", "3"))


def run(workdir: Path, rows: int) -> dict[str, Any]:
    csv = workdir / "data.csv"
    if not csv.exists():
        # A child process, so the frame it builds is not in this process's memory.
        subprocess.run(
            [sys.executable, "-m", "bench.data", str(rows), str(csv)],
            check=True,
            cwd=ROOT,
            stdout=subprocess.DEVNULL,
        )
    messy_csv = workdir / "messy.csv"
    if not messy_csv.exists():
        subprocess.run(
            [sys.executable, "-m", "bench.data", str(rows), str(messy_csv), "--messy"],
            check=True,
            cwd=ROOT,
            stdout=subprocess.DEVNULL,
        )
    bares, conveyors, messies = [], [], []
    for attempt in range(REPEATS):  # alternating, so all see the same machine
        bares.append(_bare(workdir, csv))
        conveyors.append(_conveyor(workdir / f"run{attempt}", csv))
        messies.append(_conveyor(workdir / f"messy{attempt}", messy_csv, _file_row(messy_csv)))
    bare = _median(bares)
    conveyor = _median(conveyors)
    messy = _median(messies)
    return {
        "rows": rows,
        "file_mb": round(csv.stat().st_size / 1e6, 1),
        "params": PARAMS,
        "repeats": REPEATS,
        "bare": bare,
        "conveyor": conveyor,
        "time_ratio": round(conveyor["seconds"] / bare["seconds"], 3),
        "memory_ratio": round(conveyor["peak_mb"] / bare["peak_mb"], 3),
        "messy": {**messy, "file_mb": round(messy_csv.stat().st_size / 1e6, 1)},
        "messy_ratio": round(messy["seconds"] / conveyor["seconds"], 3),
        "all_seconds": {
            "bare": [b["seconds"] for b in bares],
            "conveyor": [c["seconds"] for c in conveyors],
            "messy": [m["seconds"] for m in messies],
        },
        "home": str(workdir / f"run{REPEATS - 1}" / "home"),
    }


def _median(runs: list[dict[str, Any]]) -> dict[str, Any]:
    """The run of median duration (whole, so its stages add up), with the median peak."""
    ordered = sorted(runs, key=lambda r: r["seconds"])
    chosen = dict(ordered[len(ordered) // 2])
    chosen["peak_mb"] = sorted(r["peak_mb"] for r in runs)[len(runs) // 2]
    return chosen


def _bare(workdir: Path, csv: Path) -> dict[str, Any]:
    seconds, peak, out = run_measured(
        [
            sys.executable,
            str(ROOT / "bench" / "bare_pipeline.py"),
            str(csv),
            TARGET,
            str(workdir / "bare-model"),
            json.dumps({"num_boost_round": PARAMS["num_boost_round"]}),
        ]
    )
    stages = {k: round(v, 2) for k, v in json.loads(out).items() if k != "total"}
    return {"seconds": round(seconds, 2), "peak_mb": round(peak), "stages": stages}


def _file_row(csv: Path) -> dict[str, Any]:
    """The messy file's first data row as its cells are written, the target included."""
    return pl.read_csv(csv, n_rows=1, separator=";", infer_schema=False).to_dicts()[0]


def _conveyor(workdir: Path, csv: Path, row: dict[str, Any] | None = None) -> dict[str, Any]:
    workdir.mkdir(parents=True, exist_ok=True)
    home = workdir / "home"
    env = {**os.environ, "CONVEYOR_HOME": str(home)}
    port = free_port()
    server = subprocess.Popen(
        [str(CONVEYOR), "up", "--port", str(port)],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=(workdir / "up.log").open("w"),
    )
    if row is None:
        row = pl.read_csv(csv, n_rows=1).drop(TARGET).to_dicts()[0]
    body = json.dumps({"instances": [row]}).encode()
    try:
        if not wait_for_health(port, time.monotonic() + 60):
            raise TimeoutError("conveyor up did not start")
        wait_until_idle(server.pid, cwd_under=home)
        with PeakMemory(server.pid, cwd_under=home) as memory:
            started = time.perf_counter()
            upload = subprocess.run(
                [
                    str(CONVEYOR),
                    "upload",
                    str(csv),
                    "-p",
                    PROJECT,
                    "--target",
                    TARGET,
                    "--params",
                    json.dumps(PARAMS),
                    "--json",
                ],
                env=env,
                capture_output=True,
                text=True,
                check=True,
            )
            uploaded = time.perf_counter() - started
            wait_for_200(f"http://127.0.0.1:{port}/predict/{PROJECT}", body, timeout=600, every=0.1)
            seconds = time.perf_counter() - started
            answered_at = time.time()
    finally:
        server.send_signal(signal.SIGINT)
        server.wait(timeout=60)
    dataset_id = json.loads(upload.stdout)["dataset_id"]
    listed = subprocess.run(
        [str(CONVEYOR), "runs", "list", "-p", PROJECT, "--json"],
        env=env,
        capture_output=True,
        text=True,
        check=True,
    )
    record = next(r for r in json.loads(listed.stdout) if r["dataset_id"] == dataset_id)
    stages = {name: round(t["seconds"], 2) for name, t in record["stages"].items()}
    # The stages overlap the upload (a run starts as soon as its object is written): what
    # follows them is measured from the last one's end, not as what the others leave over.
    last_end = max(from_iso(t["finished_at"]) for t in record["stages"].values())
    return {
        "seconds": round(seconds, 2),
        # upload memory is the CLI's; the rest is `conveyor up` and the training job it ran.
        "peak_mb": round(memory.peak_mb),
        "state": record["state"],
        "stages": {
            "upload": round(uploaded, 2),
            **stages,
            "deploy_and_first_prediction": round(answered_at - last_end.timestamp(), 2),
        },
    }


if __name__ == "__main__":
    import tempfile

    rows = int(sys.argv[1]) if len(sys.argv) > 1 else 1_000_000
    workdir = Path(sys.argv[2]) if len(sys.argv) > 2 else Path(tempfile.mkdtemp(prefix="pipeline-"))
    result = run(workdir, rows)
    print(json.dumps(result, indent=2))
