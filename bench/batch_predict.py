"""Batch predict benchmark: a generated 1,000,000-row churn file scored by `conveyor predict`;
rows/s and peak memory of the command, beside the bare booster on the same rows.

``make bench`` runs it; results go to bench/results/batch-latest.json and stdout.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

import polars as pl

from conveyor.model.artifact import Predictor
from conveyor.samples.generate import make_churn

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "bench" / "results"
CONVEYOR = Path(sys.executable).parent / "conveyor"
ROWS = int(os.environ.get("BENCH_ROWS", "1000000"))


def main() -> None:
    RESULTS.mkdir(parents=True, exist_ok=True)
    home = Path(tempfile.mkdtemp(prefix="conveyor-batch-"))
    env = {**os.environ, "CONVEYOR_HOME": str(home)}
    sample = home / "train.csv"
    make_churn(5000, seed=1).write_csv(sample)
    subprocess.run(
        [
            str(CONVEYOR),
            "upload",
            str(sample),
            "-p",
            "churn",
            "--target",
            "churned",
            "--wait",
            "--json",
        ],
        env=env,
        check=True,
        capture_output=True,
    )
    big = home / "big.csv"
    make_churn(ROWS, seed=2).drop("churned").write_csv(big)
    size_mb = big.stat().st_size / 1e6

    # A wrapper process, so that the peak memory measured is the predict command's alone.
    measure = (
        "import resource, subprocess, sys, time; t = time.perf_counter(); "
        "subprocess.run(sys.argv[1:], check=True, capture_output=True); "
        "print(time.perf_counter() - t, "
        "resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss)"
    )
    out = subprocess.run(
        [
            sys.executable,
            "-c",
            measure,
            str(CONVEYOR),
            "predict",
            "churn",
            "--input",
            str(big),
            "--output",
            str(home / "scored.csv"),
            "--json",
        ],
        env=env,
        check=True,
        capture_output=True,
        text=True,
    ).stdout.split()
    seconds, peak_mb = float(out[0]), int(out[1]) / 1024

    model_dir = next(p for p in (home / "serving-cache").iterdir() if not p.name.startswith("."))
    predictor = Predictor.load(model_dir)
    frame = pl.read_csv(big, infer_schema=False)
    from conveyor.tabular.coerce import coerce_frame

    matrix = predictor.encoder.transform(coerce_frame(frame, predictor.schema))
    bare_started = time.perf_counter()
    predictor.model.predict_raw(matrix)
    bare_seconds = time.perf_counter() - bare_started

    report = {
        "date": datetime.now(UTC).isoformat(timespec="seconds"),
        "rows": ROWS,
        "file_mb": round(size_mb, 1),
        "conveyor_predict_seconds": round(seconds, 2),
        "conveyor_rows_per_second": round(ROWS / seconds),
        "conveyor_peak_rss_mb": round(peak_mb),
        "bare_booster_seconds_on_encoded_matrix": round(bare_seconds, 2),
        "bare_booster_rows_per_second": round(ROWS / bare_seconds),
    }
    (RESULTS / "batch-latest.json").write_text(json.dumps(report, indent=2))
    print(json.dumps(report, indent=2))
    shutil.rmtree(home, ignore_errors=True)


if __name__ == "__main__":
    main()
